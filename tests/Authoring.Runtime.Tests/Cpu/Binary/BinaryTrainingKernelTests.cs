// Training-side binary kernels against double-precision references written from the definitions
// (SignGradients.cs, BinaryActivationKernel.cs, BinaryWeightKernel.cs), on sliced views, with
// values placed on every boundary of the surrogates (|u| = 1, u = 0) and of the binariser. RPReLU is
// smooth away from u = 0, so its backward is also checked against central finite differences in
// double of the forward definition. Tolerances: one float product per element is exact to u of its
// magnitude; sums over m terms use TestUtil.SumTol.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public class BinaryTrainingKernelTests
{
    static double Ste(double u) => Math.Abs(u) <= 1 ? 1 : 0;
    static double Approx(double u) => Math.Max(2 - 2 * Math.Abs(u), 0);

    /// <summary>Inputs with some elements put exactly where u = x + bias is 0, ±1 or ±0.5.</summary>
    static View Inputs(Random rng, int n, int c, int hw, float[]? bias, int biasOff)
    {
        var x = TestUtil.Sliced(rng, n, c * hw, 3, 2);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < c * hw; i += 3)
            {
                float bi = bias is null ? 0f : bias[biasOff + i / hw];
                float[] spots = [0f, 1f, -1f, 0.5f, -0.5f];
                x.Data[x.At(b) + i] = spots[(i / 3 + b) % spots.Length] - bi;
                x.Data[x.At(b) + i] = x.Data[x.At(b) + i] * 2f; // spread past the clip too
                if ((i / 3) % 4 == 0) x.Data[x.At(b) + i] = spots[(i / 12) % spots.Length] - bi;
            }
        return x;
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 17)]
    [InlineData(3, 5, 64)]
    [InlineData(2, 4, 1000)]   // parallel path
    public void SignForwardAndBackward(int n, int c, int hw)
    {
        var rng = new Random(c * hw + n);
        foreach (bool withBias in new[] { false, true })
        {
            float[]? bias = withBias ? TestUtil.Random(rng, c + 1, -0.5f, 0.5f) : null;
            var x = Inputs(rng, n, c, hw, bias, 1);
            var y = TestUtil.Sliced(rng, n, c * hw, 1, 3, fill: false);
            BinaryActivationKernel.SignForward(n, c, hw, x, bias, 1, y);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < c * hw; i++)
                {
                    float u = x.Data[x.At(b) + i] + (bias is null ? 0f : bias[1 + i / hw]);
                    Assert.Equal(u < 0f ? -1f : 1f, y.Data[y.At(b) + i]);
                }
            TestUtil.AssertUntouchedOutside(y, n, c * hw);

            var dy = TestUtil.Sliced(rng, n, c * hw, 2, 1);
            foreach (bool approx in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                {
                    var dx = TestUtil.Sliced(rng, n, c * hw, 4, 2);
                    var before = TestUtil.Gather(dx, n, c * hw);
                    var dBias = withBias ? TestUtil.Random(rng, c + 3) : null;
                    var dBias0 = (float[]?)dBias?.Clone();
                    if (approx) BinaryActivationKernel.SignBackward(n, c, hw, new ApproxSign(), x, bias, 1, dy, dx, accumulate, dBias, 2);
                    else BinaryActivationKernel.SignBackward(n, c, hw, new SteSign(1f), x, bias, 1, dy, dx, accumulate, dBias, 2);
                    var sums = new double[c];
                    var mags = new double[c];
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < c * hw; i++)
                        {
                            // u as the kernel forms it (one float add), the surrogate in double.
                            float u = x.Data[x.At(b) + i] + (bias is null ? 0f : bias[1 + i / hw]);
                            double g = dy.Data[dy.At(b) + i] * (approx ? Approx(u) : Ste(u));
                            sums[i / hw] += g;
                            mags[i / hw] += Math.Abs(g);
                            double expected = g + (accumulate ? before[b * c * hw + i] : 0);
                            double got = dx.Data[dx.At(b) + i];
                            Assert.True(Math.Abs(got - expected) <= 2 * TestUtil.U * (Math.Abs(g) + Math.Abs(expected)) + 1e-30,
                                $"approx {approx}: dx[{b}, {i}] = {got}, expected {expected} (u = {u})");
                        }
                    TestUtil.AssertUntouchedOutside(dx, n, c * hw);
                    if (dBias is null) continue;
                    for (int ch = 0; ch < c; ch++)
                    {
                        double expected = dBias0![2 + ch] + sums[ch];
                        Assert.True(Math.Abs(dBias[2 + ch] - expected) <= TestUtil.SumTol(mags[ch] + Math.Abs(dBias0[2 + ch]), n * hw),
                            $"dBias[{ch}] = {dBias[2 + ch]}, expected {expected}");
                    }
                    Assert.Equal(dBias0![0], dBias[0]);
                    Assert.Equal(dBias0[1], dBias[1]);
                    Assert.Equal(dBias0[^1], dBias[^1]);
                }
        }
    }

    [Fact]
    public void SurrogatesHaveTheirDefiningValues()
    {
        var ste = new SteSign(1f);
        Assert.Equal(1f, ste.Derivative(1f));
        Assert.Equal(1f, ste.Derivative(-1f));
        Assert.Equal(0f, ste.Derivative(1.0000001f));
        Assert.Equal(1f, new SteSign(0.5f).Derivative(0.5f));
        Assert.Equal(0f, new SteSign(0.5f).Derivative(0.75f));
        var a = new ApproxSign();
        Assert.Equal(2f, a.Derivative(0f));
        Assert.Equal(1f, a.Derivative(-0.5f));
        Assert.Equal(0f, a.Derivative(1f));
        Assert.Equal(0f, a.Derivative(-3f));
        var v = System.Runtime.Intrinsics.Vector256.Create(0f, 1f, -1f, 0.5f, -0.25f, 2f, -1.5f, 1.0000001f);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(ste.Derivative(v[i]), ste.Derivative(v)[i]);
            Assert.Equal(a.Derivative(v[i]), a.Derivative(v)[i]);
        }
    }

    static double RPRelu(double x, double b0, double a, double b1) { double u = x + b0; return (u > 0 ? u : a * u) + b1; }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 19)]
    [InlineData(2, 6, 1500)]  // parallel path
    public void RPReluForwardAndBackward(int n, int c, int hw)
    {
        var rng = new Random(n + c + hw);
        var p = TestUtil.Random(rng, 3 * c + 2, -0.5f, 0.5f);
        int b0 = 1, sl = 1 + c, b1 = 1 + 2 * c;
        for (int ch = 0; ch < c; ch++) p[sl + ch] = 0.1f + 0.3f * ch / Math.Max(1, c);
        var x = Inputs(rng, n, c, hw, p, b0);
        var y = TestUtil.Sliced(rng, n, c * hw, 2, 2, fill: false);
        BinaryActivationKernel.RPReluForward(n, c, hw, x, p, b0, sl, b1, y);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < c * hw; i++)
            {
                int ch = i / hw;
                float u = x.Data[x.At(b) + i] + p[b0 + ch];
                double expected = (u > 0 ? u : (double)p[sl + ch] * u) + p[b1 + ch];
                Assert.True(Math.Abs(y.Data[y.At(b) + i] - expected) <= 2 * TestUtil.U * (Math.Abs(expected) + Math.Abs(p[b1 + ch])) + 1e-30);
            }
        TestUtil.AssertUntouchedOutside(y, n, c * hw);

        var dy = TestUtil.Sliced(rng, n, c * hw, 1, 1);
        foreach (bool accumulate in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, c * hw, 3, 1);
            var before = TestUtil.Gather(dx, n, c * hw);
            var g = new float[3 * c + 3];
            BinaryActivationKernel.RPReluBackward(n, c, hw, x, dy, p, b0, sl, b1, dx, accumulate, g, 2, 2 + c, 2 + 2 * c);
            var db0 = new double[c]; var da = new double[c]; var db1 = new double[c]; var mag = new double[c];
            for (int b = 0; b < n; b++)
                for (int i = 0; i < c * hw; i++)
                {
                    int ch = i / hw;
                    float u = x.Data[x.At(b) + i] + p[b0 + ch];
                    double gy = dy.Data[dy.At(b) + i];
                    double du = u > 0 ? gy : gy * p[sl + ch];
                    db0[ch] += du; db1[ch] += gy; if (!(u > 0)) da[ch] += gy * u;
                    mag[ch] += Math.Abs(gy) * (1 + Math.Abs(u));
                    double expected = du + (accumulate ? before[b * c * hw + i] : 0);
                    Assert.True(Math.Abs(dx.Data[dx.At(b) + i] - expected) <= 2 * TestUtil.U * (Math.Abs(du) + Math.Abs(expected)) + 1e-30);
                }
            for (int ch = 0; ch < c; ch++)
            {
                double tol = TestUtil.SumTol(mag[ch], n * hw);
                Assert.True(Math.Abs(g[2 + ch] - db0[ch]) <= tol, $"db0[{ch}]");
                Assert.True(Math.Abs(g[2 + c + ch] - da[ch]) <= tol, $"slope[{ch}]");
                Assert.True(Math.Abs(g[2 + 2 * c + ch] - db1[ch]) <= tol, $"db1[{ch}]");
            }
            Assert.Equal(0f, g[0]); Assert.Equal(0f, g[1]); Assert.Equal(0f, g[^1]);
        }
    }

    /// <summary>The analytic RPReLU gradient (the formulas the kernel implements) against central differences of the
    /// forward definition in double, at points away from the kink u = 0.</summary>
    [Fact]
    public void RPReluGradientMatchesFiniteDifferences()
    {
        var rng = new Random(77);
        const double h = 1e-6;
        for (int trial = 0; trial < 200; trial++)
        {
            double x = rng.NextDouble() * 4 - 2, b0 = rng.NextDouble() - 0.5, a = rng.NextDouble(), b1 = rng.NextDouble() - 0.5;
            if (Math.Abs(x + b0) < 1e-3) continue;
            float[] p = [(float)b0, (float)a, (float)b1];
            var xv = new View([(float)x], 0, 1);
            var g = new float[3];
            var dx = new View(new float[1], 0, 1);
            BinaryActivationKernel.RPReluBackward(1, 1, 1, xv, new View([1f], 0, 1), p, 0, 1, 2, dx, false, g, 0, 1, 2);
            // Differentiate at the float values the kernel saw.
            double xf = (float)x, b0f = p[0], af = p[1], b1f = p[2];
            double fx = (RPRelu(xf + h, b0f, af, b1f) - RPRelu(xf - h, b0f, af, b1f)) / (2 * h);
            double fb0 = (RPRelu(xf, b0f + h, af, b1f) - RPRelu(xf, b0f - h, af, b1f)) / (2 * h);
            double fa = (RPRelu(xf, b0f, af + h, b1f) - RPRelu(xf, b0f, af - h, b1f)) / (2 * h);
            double fb1 = (RPRelu(xf, b0f, af, b1f + h) - RPRelu(xf, b0f, af, b1f - h)) / (2 * h);
            Assert.True(Math.Abs(dx.Data[0] - fx) <= 1e-6, $"dx {dx.Data[0]} vs {fx}");
            Assert.True(Math.Abs(g[0] - fb0) <= 1e-6, $"db0 {g[0]} vs {fb0}");
            Assert.True(Math.Abs(g[1] - fa) <= 1e-6 * (1 + Math.Abs(fa)), $"da {g[1]} vs {fa}");
            Assert.True(Math.Abs(g[2] - fb1) <= 1e-6, $"db1 {g[2]} vs {fb1}");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 27)]
    [InlineData(17, 576)]
    [InlineData(64, 1152)]  // parallel path
    public void WeightBinarisationAndItsGradients(int cout, int k)
    {
        var rng = new Random(cout * k);
        var w = TestUtil.Random(rng, cout * k + 2, -1.5f, 1.5f);
        for (int i = 0; i < w.Length; i += 7) w[i] = (i / 7 % 5) switch { 0 => 0f, 1 => 1f, 2 => -1f, 3 => -0f, _ => w[i] };
        var wb = new float[cout * k + 1];
        var alpha = new float[cout + 1];
        BinaryWeightKernel.Forward(cout, k, w, 2, wb, 1, alpha, 1);
        var plain = new float[cout * k];
        BinaryWeightKernel.Forward(cout, k, w, 2, plain, 0, null, 0);
        for (int co = 0; co < cout; co++)
        {
            double mean = 0;
            for (int i = 0; i < k; i++) mean += Math.Abs(w[2 + co * k + i]);
            mean /= k;
            Assert.True(Math.Abs(alpha[1 + co] - mean) <= TestUtil.U * mean, $"alpha[{co}]");
            for (int i = 0; i < k; i++)
            {
                float s = w[2 + co * k + i] < 0f ? -1f : 1f;
                Assert.Equal(s * alpha[1 + co], wb[1 + co * k + i]);
                Assert.Equal(s, plain[co * k + i]);
            }
        }
        Assert.Equal(0f, wb[0]);
        Assert.Equal(0f, alpha[0]);

        var dwb = TestUtil.Random(rng, cout * k);
        foreach (var mode in new[] { WeightGradient.Clip, WeightGradient.ScaledClip, WeightGradient.Full })
        {
            var dw = TestUtil.Random(rng, cout * k + 3);
            var dw0 = (float[])dw.Clone();
            BinaryWeightKernel.Backward(cout, k, mode, 1f, w, 2, dwb, 0, alpha, 1, dw, 3);
            for (int co = 0; co < cout; co++)
            {
                double a = mode == WeightGradient.Clip ? 1 : alpha[1 + co], dirSum = 0, mag = 0;
                for (int i = 0; i < k; i++)
                {
                    dirSum += (w[2 + co * k + i] < 0f ? -1 : 1) * (double)dwb[co * k + i];
                    mag += Math.Abs(dwb[co * k + i]);
                }
                for (int i = 0; i < k; i++)
                {
                    double wi = w[2 + co * k + i];
                    double expected = dw0[3 + co * k + i] + (Math.Abs(wi) <= 1 ? a * dwb[co * k + i] : 0);
                    double tol = 2 * TestUtil.U * (Math.Abs(expected) + Math.Abs(dw0[3 + co * k + i]) + Math.Abs(a * dwb[co * k + i]));
                    if (mode == WeightGradient.Full)
                    {
                        expected += Math.Sign(wi) * dirSum / k;
                        tol += TestUtil.SumTol(mag, k) / k + 2 * TestUtil.U * Math.Abs(dirSum / k);
                    }
                    double got = dw[3 + co * k + i];
                    Assert.True(Math.Abs(got - expected) <= tol, $"{mode}: dw[{co}, {i}] = {got}, expected {expected} (w = {wi})");
                }
            }
            Assert.Equal(dw0[0..3], dw[0..3]);
        }
        Assert.Throws<ArgumentNullException>(() => BinaryWeightKernel.Backward(cout, k, WeightGradient.Full, 1f, w, 2, dwb, 0, null, 0, new float[cout * k], 0));
    }
}
