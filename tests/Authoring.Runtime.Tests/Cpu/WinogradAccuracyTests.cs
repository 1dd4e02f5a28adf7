// Accuracy of the Winograd paths against the rounding-error bound derived from their transforms (WinogradBound): forward,
// data-gradient and weight-gradient error against a double-precision direct convolution, per output, for F(2x2, 3x3) and
// F(4x4, 3x3); and the check that the bound is tight enough to catch a wrong transform coefficient (a bound that cannot
// fail would prove nothing). Conv2dKernelTests holds every Winograd run of its shapes to the same bound.
using Authoring.Runtime.Cpu;
using Xunit.Abstractions;

namespace Authoring.Runtime.Tests.Cpu;

public class WinogradAccuracyTests(ITestOutputHelper output)
{
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        // Cin, H, W, Cout, pad
        { 32, 14, 14, 32, 1 },   // RepVGG block
        { 64, 14, 14, 64, 1 },
        { 16, 28, 28, 16, 1 },
        { 24, 13, 15, 36, 1 },   // odd sizes: part tiles
        { 5, 6, 7, 9, 2 },       // padding 2 (the data gradient's own padding 0)
        { 200, 9, 9, 40, 1 },    // long reductions
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ErrorWithinDerivedBound(int cin, int h, int w, int cout, int pad)
    {
        var s = new Conv2dShape(cin, h, w, cout, 3, 3, 1, 1, pad, pad, 1, 1, 1);
        const int n = 2;
        var rng = new Random(cin * 31 + h);
        var x = TestUtil.Random(rng, n * s.InSize);
        var wt = TestUtil.Random(rng, s.WeightSize);
        var dy = TestUtil.Random(rng, n * s.OutSize);
        var (yRef, dxRef, dwRef) = Reference(s, n, x, wt, dy);
        foreach (int m in new[] { 2, 4 })
        {
            var path = m == 2 ? ConvPath.Winograd : ConvPath.Winograd4;
            var y = new float[n * s.OutSize];
            Conv2dKernel.Forward<Identity>(s, n, new View(x, 0, s.InSize), wt, 0, null, 0, null, 0, new View(y, 0, s.OutSize), path);
            var dx = new float[n * s.InSize];
            Conv2dKernel.BackwardData(s, n, new View(dy, 0, s.OutSize), wt, 0, new View(dx, 0, s.InSize), false, path);
            var dw = new float[s.WeightSize];
            Conv2dKernel.BackwardWeights(s, n, new View(x, 0, s.InSize), new View(dy, 0, s.OutSize), dw, 0, path);
            double fwd = WorstRatio(y, yRef, WinogradBound.ForwardAbs(s, n, m, WinogradBound.Abs(x), wt), WinogradBound.DepthForward(m, cin, false), 9 * cin);
            double data = WorstRatio(dx, dxRef, WinogradBound.DataAbs(s, n, m, dy, wt), WinogradBound.DepthForward(m, cout, false), 9 * cout);
            double weights = WorstRatio(dw, dwRef, WinogradBound.WeightsAbs(s, n, m, x, dy),
                WinogradBound.DepthWeights(m, n, WinogradBound.Tiles(s, m)), n * s.Ho * s.Wo);
            output.WriteLine($"{cin}->{cout} {h}x{w} pad {pad} F({m}x{m}): worst |error| / derived bound: forward {fwd:F4}, data {data:F4}, " +
                $"weights {weights:F4}; max |error| of y and dx {Math.Max(MaxAbsError(y, yRef), MaxAbsError(dx, dxRef)):E2}, of dw {MaxAbsError(dw, dwRef):E2}");
            Assert.True(fwd <= 1 && data <= 1 && weights <= 1, $"F({m}x{m}): forward {fwd}, data {data}, weights {weights} times the derived bound");
        }
    }

    /// <summary>The exact Winograd algorithm of WinogradBound (the transforms of Winograd.cs, evaluated in double) is the
    /// convolution, so the bound is about the transforms the kernels use; and each transform coefficient, scaled by
    /// 1 + 2^-10 in that evaluation, puts some output of every pass it enters beyond the bound: a kernel with a coefficient
    /// wrong in its third significant digit fails ErrorWithinDerivedBound.</summary>
    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    public void BoundCatchesAPerturbedCoefficient(int m, int pad)
    {
        var s = new Conv2dShape(5, 7, 9, 6, 3, 3, 1, 1, pad, pad, 1, 1, 1);
        const int n = 1;
        var rng = new Random(17 * m + pad);
        var x = TestUtil.Random(rng, n * s.InSize);
        var wt = TestUtil.Random(rng, s.WeightSize);
        var dy = TestUtil.Random(rng, n * s.OutSize);
        var (yRef, dxRef, dwRef) = Reference(s, n, x, wt, dy);
        var tx = WinogradTransforms.Of(m);
        double[] xd = Array.ConvertAll(x, v => (double)v), dyd = Array.ConvertAll(dy, v => (double)v), wd = Array.ConvertAll(wt, v => (double)v);
        double[] dataKernel = WinogradBound.DataKernel(s, wt);
        Func<WinogradTransforms, double[]> forward = t => WinogradBound.Convolve(t, n, s.Cin, s.H, s.W, s.Cout, s.PadH, s.PadW, xd, wd);
        Func<WinogradTransforms, double[]> data = t => WinogradBound.Convolve(t, n, s.Cout, s.Ho, s.Wo, s.Cin, 2 - s.PadH, 2 - s.PadW, dyd, dataKernel);
        Func<WinogradTransforms, double[]> weights = t => WinogradBound.Correlate(t, n, s.Cin, s.H, s.W, s.Cout, s.PadH, s.PadW, xd, dyd);
        var passes = new (string Name, Func<WinogradTransforms, double[]> Run, double[] Ref, double[] Abs, int Depth, int RefTerms)[]
        {
            ("forward", forward, yRef, WinogradBound.ForwardAbs(s, n, m, WinogradBound.Abs(x), wt), WinogradBound.DepthForward(m, s.Cin, false), 9 * s.Cin),
            ("data", data, dxRef, WinogradBound.DataAbs(s, n, m, dy, wt), WinogradBound.DepthForward(m, s.Cout, false), 9 * s.Cout),
            ("weights", weights, dwRef, WinogradBound.WeightsAbs(s, n, m, x, dy),
                WinogradBound.DepthWeights(m, n, WinogradBound.Tiles(s, m)), n * s.Ho * s.Wo),
        };
        foreach (var p in passes)
        {
            // Exact transforms: the double evaluation differs from the direct double convolution by double rounding only.
            Assert.True(WorstRatio(p.Run(tx), p.Ref, p.Abs, 0, p.RefTerms) <= 1, $"{p.Name}: the transforms of F({m}x{m}) do not compute the convolution");
            double weakest = double.MaxValue;
            foreach (var (name, matrix) in new[] { ("At", tx.At), ("G", tx.G), ("Bt", tx.Bt) })
                for (int i = 0; i < matrix.GetLength(0); i++)
                    for (int j = 0; j < matrix.GetLength(1); j++)
                    {
                        if (matrix[i, j] == 0) continue;
                        double ratio = WorstRatio(p.Run(tx.Perturbed(name, i, j, 1 + Math.ScaleB(1.0, -10))), p.Ref, p.Abs, p.Depth, p.RefTerms);
                        weakest = Math.Min(weakest, ratio);
                        Assert.True(ratio > 1, $"{p.Name}: {name}[{i}, {j}] scaled by 1 + 2^-10 stays within the bound ({ratio} of it)");
                    }
            output.WriteLine($"F({m}x{m}) pad {pad} {p.Name}: every coefficient scaled by 1 + 2^-10 exceeds the bound, the least by {weakest:F1}x");
        }
    }

    /// <summary>The largest |got - expected| over its tolerance (<see cref="WinogradBound.Tol"/>).</summary>
    static double WorstRatio(float[] got, double[] expected, double[] abs, int depth, int refTerms) =>
        WorstRatio(Array.ConvertAll(got, v => (double)v), expected, abs, depth, refTerms);

    static double WorstRatio(double[] got, double[] expected, double[] abs, int depth, int refTerms)
    {
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
            worst = Math.Max(worst, Math.Abs(got[i] - expected[i]) / WinogradBound.Tol(abs[i], depth, refTerms));
        return worst;
    }

    static double MaxAbsError(float[] got, double[] expected)
    {
        double worst = 0;
        for (int i = 0; i < got.Length; i++) worst = Math.Max(worst, Math.Abs(got[i] - expected[i]));
        return worst;
    }

    static (double[] Y, double[] Dx, double[] Dw) Reference(in Conv2dShape s, int n,
        float[] x, float[] w, float[] dy)
    {
        var y = new double[n * s.OutSize];
        var dx = new double[n * s.InSize];
        var dw = new double[s.WeightSize];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oh = 0; oh < s.Ho; oh++)
                    for (int ow = 0; ow < s.Wo; ow++)
                    {
                        int yi = b * s.OutSize + (co * s.Ho + oh) * s.Wo + ow;
                        for (int ci = 0; ci < s.Cin; ci++)
                            for (int kh = 0; kh < 3; kh++)
                                for (int kw = 0; kw < 3; kw++)
                                {
                                    int ih = oh - s.PadH + kh, iw = ow - s.PadW + kw;
                                    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                                    int xi = b * s.InSize + (ci * s.H + ih) * s.W + iw;
                                    int wi = (co * s.Cin + ci) * 9 + kh * 3 + kw;
                                    double wv = w[wi];
                                    dw[wi] += (double)dy[yi] * x[xi];
                                    y[yi] += wv * x[xi];
                                    dx[xi] += wv * dy[yi];
                                }
                    }
        return (y, dx, dw);
    }
}
