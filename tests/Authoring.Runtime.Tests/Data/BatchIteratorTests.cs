// Mini-batch iteration: coverage, seeded shuffling, partial and dropped last batches, no allocation.
using Authoring.Runtime.Data;

namespace Authoring.Runtime.Tests.Data;

public class BatchIteratorTests
{
    /// <summary>10 samples of 2 floats; sample i holds (i, -i) and label i % 3.</summary>
    static LabeledImages Ten()
    {
        var images = new float[20];
        for (int i = 0; i < 10; i++) { images[2 * i] = i; images[2 * i + 1] = -i; }
        return new LabeledImages(images, Enumerable.Range(0, 10).Select(i => i % 3).ToArray(), 1, 1, 2, 3);
    }

    static List<int> Epoch(BatchIterator it, float[] x, int[] y, List<int>? sizes = null)
    {
        var order = new List<int>();
        while (it.Next(x, y, out int n))
        {
            sizes?.Add(n);
            for (int b = 0; b < n; b++)
            {
                int s = (int)x[2 * b];
                Assert.Equal(-s, x[2 * b + 1]); // the whole sample was copied
                Assert.Equal(s % 3, y[b]);      // with its own label
                order.Add(s);
            }
        }
        return order;
    }

    [Fact]
    public void ShuffledEpochsVisitEverySampleOnceInASeededOrder()
    {
        float[] x = new float[8]; int[] y = new int[4];
        var a = new BatchIterator(Ten(), 4, shuffle: true, seed: 5);
        var sizes = new List<int>();
        var e1 = Epoch(a, x, y, sizes);
        Assert.Equal([4, 4, 2], sizes);
        Assert.Equal(Enumerable.Range(0, 10), e1.Order());
        a.Reset();
        var e2 = Epoch(a, x, y);
        Assert.Equal(Enumerable.Range(0, 10), e2.Order());
        Assert.NotEqual(e1, e2); // a fresh order per epoch

        var b = new BatchIterator(Ten(), 4, shuffle: true, seed: 5);
        Assert.Equal(e1, Epoch(b, x, y)); // same seed, same order
        var c = new BatchIterator(Ten(), 4, shuffle: true, seed: 6);
        Assert.NotEqual(e1, Epoch(c, x, y));
    }

    [Fact]
    public void UnshuffledKeepsOrderAndDropLastSkipsThePartialBatch()
    {
        float[] x = new float[8]; int[] y = new int[4];
        Assert.Equal(Enumerable.Range(0, 10), Epoch(new BatchIterator(Ten(), 4, shuffle: false), x, y));
        var dropped = new BatchIterator(Ten(), 4, shuffle: false, dropLast: true);
        Assert.Equal(2, dropped.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(0, 8), Epoch(dropped, x, y));
    }

    [Fact]
    public void NextAllocatesNothingAndChecksBufferSizes()
    {
        var it = new BatchIterator(Ten(), 4, shuffle: true, seed: 1);
        float[] x = new float[8]; int[] y = new int[4];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int e = 0; e < 5; e++)
        {
            while (it.Next(x, y, out _)) { }
            it.Reset();
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        var ex = Assert.Throws<ArgumentException>(() => it.Next(new float[7], y, out _));
        Assert.Contains("a batch needs 4 x 2", ex.Message);
    }

    [Fact]
    public void SliceCopiesARangeOfSamplesWithTheirLabels()
    {
        var part = Ten().Slice(3, 4);
        Assert.Equal(4, part.Count);
        Assert.Equal([3f, -3f], part.Image(0).ToArray());
        Assert.Equal([0, 1, 2, 0], part.Labels);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ten().Slice(8, 3));
    }
}
