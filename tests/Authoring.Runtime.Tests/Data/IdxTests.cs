// The gzip IDX reader and Fashion-MNIST loader on small files the test writes, plus checks of the real
// dataset when Debian's dataset-fashion-mnist package is installed.
using System.Buffers.Binary;
using System.IO.Compression;
using Authoring.Runtime.Data;

namespace Authoring.Runtime.Tests.Data;

public sealed class IdxTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("idx-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes a gzip IDX file: big-endian magic, big-endian dims, then the bytes.</summary>
    static void WriteIdx(string path, int magic, int[] dims, ReadOnlySpan<byte> data, bool gzip = true)
    {
        using var ms = new MemoryStream();
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, magic);
        ms.Write(word);
        foreach (int d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            ms.Write(word);
        }
        ms.Write(data);
        if (!gzip) { File.WriteAllBytes(path, ms.ToArray()); return; }
        using var f = File.Create(path);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        gz.Write(ms.ToArray());
    }

    /// <summary>A fake Fashion-MNIST split of <paramref name="n"/> images whose pixel bytes encode sample and position.</summary>
    void WriteSplit(string prefix, int n)
    {
        var pixels = new byte[n * 28 * 28];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 7 + i / 784);
        WriteIdx(Path.Combine(_dir, prefix + "-images-idx3-ubyte.gz"), Idx.ImagesMagic, [n, 28, 28], pixels);
        WriteIdx(Path.Combine(_dir, prefix + "-labels-idx1-ubyte.gz"), Idx.LabelsMagic, [n], Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray());
    }

    [Fact]
    public void ReadsLabelsAndImages()
    {
        string labels = Path.Combine(_dir, "l.gz"), images = Path.Combine(_dir, "i.gz");
        WriteIdx(labels, Idx.LabelsMagic, [5], [3, 1, 4, 1, 5]);
        var pixels = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(250 - i)).ToArray();
        WriteIdx(images, Idx.ImagesMagic, [2, 3, 4], pixels);
        Assert.Equal([3, 1, 4, 1, 5], Idx.ReadLabels(labels));
        var read = Idx.ReadImages(images, out int count, out int rows, out int cols);
        Assert.Equal((2, 3, 4), (count, rows, cols));
        Assert.Equal(pixels, read);
    }

    [Theory]
    [InlineData("wrong-magic", "IDX magic is 0x00000803, expected 0x00000801")]
    [InlineData("truncated", "truncated: header promises 5 bytes (5) but only 3 follow")]
    [InlineData("trailing", "unexpected data after the 5 bytes")]
    [InlineData("short-header", "truncated IDX header")]
    [InlineData("not-gzip", "not a valid gzip file")]
    public void RejectsBadFilesNamingThePathAndTheProblem(string kind, string message)
    {
        string path = Path.Combine(_dir, kind + ".gz");
        switch (kind)
        {
            case "wrong-magic": WriteIdx(path, Idx.ImagesMagic, [5, 1, 1], new byte[5]); break;
            case "truncated": WriteIdx(path, Idx.LabelsMagic, [5], new byte[3]); break;
            case "trailing": WriteIdx(path, Idx.LabelsMagic, [5], new byte[6]); break;
            case "short-header": WriteIdx(path, Idx.LabelsMagic, [], []); break;
            case "not-gzip": WriteIdx(path, Idx.LabelsMagic, [5], new byte[5], gzip: false); break;
        }
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path));
        Assert.Contains(message, e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void LoadsFashionMnistLayoutScaledAndNormalized()
    {
        WriteSplit("train", 12);
        WriteSplit("t10k", 4);
        var (train, test) = FashionMnist.Load(_dir);
        Assert.Equal((12, 4), (train.Count, test.Count));
        Assert.Equal([1, 28, 28], train.Shape);
        Assert.Equal(10, train.ClassCount);
        Assert.Equal(3, train.Labels[3]);
        // Pixel 100 of sample 2: byte (i * 7 + i / 784) with i = 2 * 784 + 100.
        int i = 2 * 784 + 100;
        byte raw = (byte)(i * 7 + i / 784);
        Assert.Equal((raw / 255f - 0.2860f) / 0.3530f, train.Image(2)[100], 6); // float rounding only
    }

    [Fact]
    public void MissingDatasetSaysHowToInstallIt()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(Path.Combine(_dir, "none")));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("train-images-idx3-ubyte.gz", e.Message);
    }

    [Fact]
    public void ImageAndLabelCountsMustAgree()
    {
        WriteSplit("train", 12);
        WriteSplit("t10k", 4);
        WriteIdx(Path.Combine(_dir, "t10k-labels-idx1-ubyte.gz"), Idx.LabelsMagic, [3], [1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir));
        Assert.Contains("holds 3 labels but", e.Message);
        Assert.Contains("holds 4 images", e.Message);
    }

    [FashionMnistFact]
    public void RealTrainingSetHas60000ImagesInTenBalancedClasses()
    {
        var (train, test) = FashionMnist.Load();
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.All(train.ClassCounts(), c => Assert.Equal(6000, c));
        Assert.All(test.ClassCounts(), c => Assert.Equal(1000, c));
        // The normalisation constants are the training set's: mean ~0 and std ~1 after it (to 0.005).
        double sum = 0, sq = 0;
        foreach (float v in train.Images) { sum += v; sq += (double)v * v; }
        double mean = sum / train.Images.Length, std = Math.Sqrt(sq / train.Images.Length - mean * mean);
        Assert.InRange(mean, -0.005, 0.005);
        Assert.InRange(std, 0.995, 1.005);
    }
}

/// <summary>A fact that is reported as skipped (not passed) where the dataset package is not installed.</summary>
public sealed class FashionMnistFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <see cref="FashionMnist.DefaultDirectory"/> is missing.</summary>
    public FashionMnistFactAttribute()
    {
        if (!Directory.Exists(FashionMnist.DefaultDirectory))
            Skip = $"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory} (apt-get install dataset-fashion-mnist).";
    }
}
