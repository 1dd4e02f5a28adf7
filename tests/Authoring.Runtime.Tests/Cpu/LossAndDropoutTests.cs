// Softmax cross-entropy and dropout.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class LossAndDropoutTests
{
    [Fact]
    public void SoftmaxCrossEntropyMatchesReference()
    {
        var rng = new Random(4);
        int n = 37, classes = 10;
        var logits = TestUtil.Sliced(rng, n, classes, 2, 3);
        for (int b = 0; b < n; b++) for (int j = 0; j < classes; j++) logits.Data[logits.At(b) + j] *= 8;
        logits.Data[logits.At(0) + 3] = 200f; // would overflow exp without the max shift
        var labels = new int[n];
        for (int b = 0; b < n; b++) labels[b] = rng.Next(classes);
        labels[0] = 3;
        var d = TestUtil.Sliced(rng, n, classes, 1, 1, fill: false);
        var r = LossKernel.SoftmaxCrossEntropy(n, classes, logits, labels, d);

        double loss = 0; int correct = 0;
        var e = new double[n * classes]; var t = new double[n * classes];
        for (int b = 0; b < n; b++)
        {
            var z = new double[classes];
            for (int j = 0; j < classes; j++) z[j] = logits.Data[logits.At(b) + j];
            double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
            loss += max + Math.Log(sum) - z[labels[b]];
            if (Array.IndexOf(z, max) == labels[b]) correct++;
            for (int j = 0; j < classes; j++)
            {
                e[b * classes + j] = (Math.Exp(z[j] - max) / sum - (j == labels[b] ? 1 : 0)) / n;
                t[b * classes + j] = 2 * TestUtil.U * (Math.Abs(e[b * classes + j]) + 1e-30); // computed in double, rounded once
            }
        }
        Assert.Equal(correct, r.Correct);
        Assert.Equal(loss / n, r.Loss, (float)(2 * TestUtil.U * loss / n)); // double sum, one rounding to float
        TestUtil.AssertClose(TestUtil.Gather(d, n, classes), e, t, "dlogits");
        TestUtil.AssertUntouchedOutside(d, n, classes);
    }

    [Fact]
    public void DropoutMaskFollowsTheSharedGenerator()
    {
        var rng = new Random(9);
        int n = 6, size = 301;
        float p = 0.3f;
        ulong seed = 0xC0FFEE;
        var x = TestUtil.Sliced(rng, n, size, 2, 3);
        var mask = TestUtil.Sliced(rng, n, size, 1, 2, fill: false);
        var y = TestUtil.Sliced(rng, n, size, 0, 4, fill: false);
        DropoutKernel.Forward(n, size, p, seed, x, mask, y);
        int kept = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < size; i++)
            {
                bool keep = DropoutRandom.Uniform(seed, (long)b * size + i) >= p;
                float m = keep ? 1f / (1f - p) : 0f;
                Assert.Equal(m, mask.Data[mask.At(b) + i]);
                Assert.Equal(x.Data[x.At(b) + i] * m, y.Data[y.At(b) + i]);
                if (keep) kept++;
            }
        // 1806 draws at keep probability 0.7: mean 1264, sd 19.5; 6 sd either side.
        Assert.InRange(kept, 1264 - 117, 1264 + 117);
        TestUtil.AssertUntouchedOutside(mask, n, size);
        TestUtil.AssertUntouchedOutside(y, n, size);
    }
}
