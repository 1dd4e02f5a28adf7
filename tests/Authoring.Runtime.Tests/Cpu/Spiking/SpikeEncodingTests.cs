// Direct and Poisson encoding and the mean-over-time readout against plain double loops, on views
// with offsets and gaps, odd feature counts and batch 1; Poisson's spikes against the generator's
// formula (so any thread layout gives them) and its rate against the probability it encodes.
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Tests.Cpu.Spiking;

public class SpikeEncodingTests
{
    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 7 }, { 1, 4, 37 }, { 3, 8, 61 }, { 2, 5, 2000 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RepeatCopiesAndItsBackwardSumsOverTime(int n, int T, int F)
    {
        var rng = new Random(T * F);
        var x = TestUtil.Sliced(rng, n, F, 3, 2);
        var y = TestUtil.Sliced(rng, n, T * F, 1, 3, fill: false);
        SpikeEncoding.RepeatForward(n, T, F, x, y);
        var xs = TestUtil.Gather(x, n, F);
        var ys = TestUtil.Gather(y, n, T * F);
        for (int b = 0; b < n; b++)
            for (int t = 0; t < T; t++)
                for (int f = 0; f < F; f++) Assert.Equal(xs[b * F + f], ys[(b * T + t) * F + f]);
        TestUtil.AssertUntouchedOutside(y, n, T * F);

        foreach (bool accumulate in new[] { false, true })
        {
            var dy = TestUtil.Sliced(rng, n, T * F, 2, 1);
            var dx = TestUtil.Sliced(rng, n, F, 0, 5, fill: accumulate);
            var dx0 = TestUtil.Gather(dx, n, F);
            var dys = TestUtil.Gather(dy, n, T * F);
            SpikeEncoding.RepeatBackward(n, T, F, dy, dx, accumulate);
            var want = new double[n * F];
            var tol = new double[n * F];
            for (int b = 0; b < n; b++)
                for (int f = 0; f < F; f++)
                {
                    double sum = accumulate ? dx0[b * F + f] : 0, mag = Math.Abs(sum);
                    for (int t = 0; t < T; t++) { sum += dys[(b * T + t) * F + f]; mag += Math.Abs(dys[(b * T + t) * F + f]); }
                    want[b * F + f] = sum;
                    tol[b * F + f] = TestUtil.SumTol(mag, T + 1);
                }
            TestUtil.AssertClose(TestUtil.Gather(dx, n, F), want, tol, $"dx, accumulate {accumulate}");
            TestUtil.AssertUntouchedOutside(dx, n, F);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MeanReadoutAndItsBackward(int n, int T, int F)
    {
        var rng = new Random(T + F);
        var x = TestUtil.Sliced(rng, n, T * F, 1, 2);
        var y = TestUtil.Sliced(rng, n, F, 4, 1, fill: false);
        SpikeEncoding.MeanForward(n, T, F, x, y);
        var xs = TestUtil.Gather(x, n, T * F);
        var want = new double[n * F];
        var tol = new double[n * F];
        for (int b = 0; b < n; b++)
            for (int f = 0; f < F; f++)
            {
                double sum = 0, mag = 0;
                for (int t = 0; t < T; t++) { sum += xs[(b * T + t) * F + f]; mag += Math.Abs(xs[(b * T + t) * F + f]); }
                want[b * F + f] = sum / T;
                // The sum's rounding, then one division.
                tol[b * F + f] = TestUtil.SumTol(mag, T) / T + TestUtil.U * Math.Abs(sum / T);
            }
        TestUtil.AssertClose(TestUtil.Gather(y, n, F), want, tol, "mean");
        TestUtil.AssertUntouchedOutside(y, n, F);

        foreach (bool accumulate in new[] { false, true })
        {
            var dy = TestUtil.Sliced(rng, n, F, 0, 3);
            var dx = TestUtil.Sliced(rng, n, T * F, 2, 2, fill: accumulate);
            var dx0 = TestUtil.Gather(dx, n, T * F);
            var dys = TestUtil.Gather(dy, n, F);
            SpikeEncoding.MeanBackward(n, T, F, dy, dx, accumulate);
            var w = new double[n * T * F];
            var tl = new double[n * T * F];
            for (int b = 0; b < n; b++)
                for (int t = 0; t < T; t++)
                    for (int f = 0; f < F; f++)
                    {
                        int i = (b * T + t) * F + f;
                        w[i] = (accumulate ? dx0[i] : 0) + (double)dys[b * F + f] / T;
                        tl[i] = 2 * TestUtil.U * (Math.Abs(dx0[i]) + Math.Abs(dys[b * F + f]));
                    }
            TestUtil.AssertClose(TestUtil.Gather(dx, n, T * F), w, tl, $"dx, accumulate {accumulate}");
            TestUtil.AssertUntouchedOutside(dx, n, T * F);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PoissonSpikesFollowTheCounterGenerator(int n, int T, int F)
    {
        var rng = new Random(F);
        var x = TestUtil.Sliced(rng, n, F, 2, 2, fill: false);
        for (int b = 0; b < n; b++)
            for (int f = 0; f < F; f++) x.Data[x.At(b) + f] = (float)rng.NextDouble();
        x.Data[x.At(0)] = 0f;
        if (F > 1) x.Data[x.At(0) + 1] = 1f;
        var y = TestUtil.Sliced(rng, n, T * F, 3, 1, fill: false);
        const ulong seed = 0xC0FFEE;
        SpikeEncoding.PoissonForward(n, T, F, seed, x, y);
        var ys = TestUtil.Gather(y, n, T * F);
        for (int b = 0; b < n; b++)
            for (int t = 0; t < T; t++)
                for (int f = 0; f < F; f++)
                {
                    long i = ((long)b * T + t) * F + f;
                    float u = DropoutRandom.Uniform(seed, i);
                    float want = u <= x.Data[x.At(b) + f] ? 1f : 0f;
                    Assert.True(want == ys[i], $"element {i}: {ys[i]}, generator says {want}");
                }
        TestUtil.AssertUntouchedOutside(y, n, T * F);
        // Probability 1 always fires (u < 1).
        if (F > 1) for (int t = 0; t < T; t++) Assert.Equal(1f, ys[t * F + 1]);

        // Another seed gives other spikes.
        var y2 = TestUtil.Sliced(rng, n, T * F, 0, 0, fill: false);
        SpikeEncoding.PoissonForward(n, T, F, seed + 1, x, y2);
        if (n * T * F > 100) Assert.NotEqual(ys, TestUtil.Gather(y2, n, T * F));
    }

    [Fact]
    public void PoissonRateIsTheProbability()
    {
        const int n = 4, T = 64, F = 1000;
        var x = new View(new float[n * F], 0, F);
        for (int i = 0; i < n * F; i++) x.Data[i] = 0.3f;
        var y = new View(new float[n * T * F], 0, T * F);
        SpikeEncoding.PoissonForward(n, T, F, 12345, x, y);
        double rate = y.Data.Average();
        // 256,000 Bernoulli(0.3) draws: standard deviation 0.0009; 5 sigma.
        Assert.InRange(rate, 0.3 - 0.0045, 0.3 + 0.0045);
    }
}
