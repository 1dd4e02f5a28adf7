// The fused convolution options (input prologue, residual, BatchNorm statistics in the write-out,
// prologue in the weight gradient) on every path (direct, Winograd, im2col, depthwise; the last two
// through separate passes) against a double-precision reference, and against the unfused sequence
// of existing kernels (BatchNormKernel.Affine / ForwardTrain, Conv2dKernel.Forward / BackwardWeights).
// Odd channel counts, strides, groups, padding, batch 1. Tolerances: the convolution tests' bound
// (16 sqrt(k) u times the sum of |terms|; on Winograd runs the bound derived from the transforms, WinogradBound)
// through the activation's slope, plus the prologue's own rounding (4 u of each input's magnitude, times the terms' weights).
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class ConvFusionTests
{
    // (Cin, H, W, Cout, Kh, Kw, Sh, Sw, Ph, Pw, Dh, Dw, Groups)
    public static TheoryData<int[], string> Cases()
    {
        int[][] shapes =
        [
            [32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1],   // Winograd on Auto
            [24, 13, 15, 36, 3, 3, 1, 1, 1, 1, 1, 1, 1],   // odd sizes and channel counts, Winograd edge tiles
            [12, 14, 13, 260, 3, 3, 1, 1, 1, 1, 1, 1, 1],  // Winograd at small batches: parts split the 260 output channels
            [27, 9, 6, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1],     // rows under 8 wide and 27 channels: the channel-last copy's scalar tails
            [12, 9, 11, 20, 2, 3, 1, 1, 0, 2, 1, 1, 1],    // direct, part-filled tiles
            [9, 6, 13, 24, 3, 5, 2, 1, 2, 1, 1, 2, 3],     // groups 3, stride (2, 1), dilation (1, 2)
            [16, 5, 7, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1],     // pointwise: planes that were read in place are copied
            [13, 9, 11, 21, 1, 1, 1, 1, 0, 0, 1, 1, 1],    // pointwise, odd channels and 99 positions: edge tiles in the statistics
            [10, 4, 8, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2],      // pointwise, groups 2
            [8, 10, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1],     // stride 2
            [5, 9, 37, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5],      // depthwise: separate passes
        ];
        var data = new TheoryData<int[], string>();
        foreach (var s in shapes)
            foreach (var p in new[] { "Auto", "Direct", "Im2Col", "Winograd", "Winograd4", "Pointwise" }) data.Add(s, p);
        return data;
    }

    static Conv2dShape Shape(int[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);

    /// <summary>y[b, co, p] in double with |terms| sums, from the input after the prologue.</summary>
    static (double[] Y, double[] Mag, double[] ProMag, int K) Reference(in Conv2dShape s, int n, double[] xin, double[] xinMag, float[] w)
    {
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups, ho = s.Ho, wo = s.Wo;
        var y = new double[n * s.OutSize];
        var mag = new double[y.Length];
        var pmag = new double[y.Length];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                    {
                        int yi = b * s.OutSize + (co * ho + oh) * wo + ow, g = co / coutG;
                        for (int ci = 0; ci < cinG; ci++)
                            for (int kh = 0; kh < s.Kh; kh++)
                                for (int kw = 0; kw < s.Kw; kw++)
                                {
                                    int ih = oh * s.StrideH - s.PadH + kh * s.DilH, iw = ow * s.StrideW - s.PadW + kw * s.DilW;
                                    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                                    int xi = b * s.InSize + ((g * cinG + ci) * s.H + ih) * s.W + iw;
                                    double wv = w[((co * cinG + ci) * s.Kh + kh) * s.Kw + kw];
                                    y[yi] += wv * xin[xi];
                                    mag[yi] += Math.Abs(wv * xin[xi]);
                                    pmag[yi] += Math.Abs(wv) * xinMag[xi];
                                }
                    }
        return (y, mag, pmag, cinG * s.Kh * s.Kw);
    }

    static ConvPath Path(string p) => Enum.Parse<ConvPath>(p);

    /// <summary>Per output, the bound on the convolution's own rounding: on a Winograd run the bound derived from its transforms
    /// (WinogradBound) over inputs bounded by <paramref name="xAbs"/>, otherwise the summation bound of <paramref name="mag"/>.</summary>
    static double[] ConvTol(in Conv2dShape s, int n, ConvPath path, double[] xAbs, float[] w, double[] mag, int k)
    {
        int m = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Forward);
        double[]? wino = m > 0 ? WinogradBound.ForwardAbs(s, n, m, xAbs, w) : null;
        var tol = new double[mag.Length];
        for (int i = 0; i < tol.Length; i++)
            tol[i] = wino is null ? TestUtil.SumTol(mag[i], k) : WinogradBound.Tol(wino[i], WinogradBound.DepthForward(m, s.Cin, false), k);
        return tol;
    }

    /// <summary>hardswish(scale[co] y + shift[co] + r) from the double convolution (scale at epi[co], shift at epi[Cout + co]),
    /// and its bound: the convolution's (<paramref name="convTol"/>, from ConvTol, plus 4 u of the prologue's magnitudes)
    /// through the activation's slope, plus the epilogue's own rounding.</summary>
    static (double[] Expected, double[] Tol) HardSwishEpilogue(in Conv2dShape s, double[] yr, double[] mag,
        double[] pmag, double[] convTol, float[] epi, float[] rs)
    {
        int hw = s.Ho * s.Wo;
        var expected = new double[yr.Length];
        var tol = new double[yr.Length];
        for (int i = 0; i < yr.Length; i++)
        {
            int co = i % s.OutSize / hw;
            double sc = epi[co], sh = epi[s.Cout + co];
            double z = sc * yr[i] + sh + rs[i];
            expected[i] = TestUtil.Act("HardSwish", z);
            double convErr = convTol[i] + 4 * TestUtil.U * pmag[i];
            tol[i] = TestUtil.MaxSlope * (Math.Abs(sc) * convErr + 3 * TestUtil.U * (Math.Abs(z) + Math.Abs(sc) * mag[i] + Math.Abs(rs[i]))) + TestUtil.ActTol(expected[i]);
        }
        return (expected, tol);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PrologueResidualEpilogueMatchReferenceAndUnfused(int[] shape, string path)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 3 })
        {
            var rng = new Random(n * 7 + shape[0]);
            var x = TestUtil.Sliced(rng, n, s.InSize, 3, 5);
            var r = TestUtil.Sliced(rng, n, s.OutSize, 1, 2);
            var y = TestUtil.Sliced(rng, n, s.OutSize, 7, 2, fill: false);
            var w = TestUtil.Random(rng, s.WeightSize + 2);
            var inAff = TestUtil.Random(rng, 2 * s.Cin + 3);           // scale at 1.., shift at 1 + Cin..
            for (int i = 1; i <= s.Cin; i++) inAff[i] = 0.5f + Math.Abs(inAff[i]);
            var epi = TestUtil.Random(rng, 2 * s.Cout + 1);
            var f = new ConvFusion
            {
                Input = new ChannelAffine(inAff, 1, inAff, 1 + s.Cin),
                Scale = epi, ScaleOffset = 0, Shift = epi, ShiftOffset = s.Cout,
                Residual = r,
            };
            Conv2dKernel.ForwardFused<Relu, HardSwish>(s, n, x, w, 2, f, y, Path(path));

            // Double reference.
            var xs = TestUtil.Gather(x, n, s.InSize);
            var xin = new double[xs.Length];
            var xinMag = new double[xs.Length];
            int plane = s.H * s.W;
            for (int i = 0; i < xs.Length; i++)
            {
                int c = i % s.InSize / plane;
                double z = (double)inAff[1 + c] * xs[i] + inAff[1 + s.Cin + c];
                xin[i] = Math.Max(z, 0);
                xinMag[i] = Math.Abs(inAff[1 + c] * xs[i]) + Math.Abs(inAff[1 + s.Cin + c]);
            }
            var (yr, mag, pmag, k) = Reference(s, n, xin, xinMag, w[2..]);
            // The kernel's prologue rounds z once (|error| <= u xinMag, carried by the exact convolution into 4 u pmag below),
            // so the input it convolves is within (1 + u) xinMag.
            var convTol = ConvTol(s, n, Path(path), Array.ConvertAll(xinMag, v => v * (1 + TestUtil.U)), w[2..], mag, k);
            var rs = TestUtil.Gather(r, n, s.OutSize);
            int hw = s.Ho * s.Wo;
            var (expected, tol) = HardSwishEpilogue(s, yr, mag, pmag, convTol, epi, rs);
            var got = TestUtil.Gather(y, n, s.OutSize);
            TestUtil.AssertClose(got, expected, tol, $"fused forward {s} n={n} {path}");
            TestUtil.AssertUntouchedOutside(y, n, s.OutSize);

            // The unfused sequence: prologue, plain convolution, epilogue; equal within twice the bound.
            var xa = new View(new float[n * s.InSize], 0, s.InSize);
            BatchNormKernel.Affine<Relu>(n, s.Cin, plane, x, inAff, 1, inAff, 1 + s.Cin, xa);
            var y0 = new View(new float[n * s.OutSize], 0, s.OutSize);
            Conv2dKernel.Forward<Identity>(s, n, xa, w, 2, null, 0, null, 0, y0, Path(path));
            var unfused = new double[yr.Length];
            for (int i = 0; i < yr.Length; i++)
            {
                int co = i % s.OutSize / hw;
                unfused[i] = TestUtil.Act("HardSwish", (double)epi[co] * y0.Data[i] + epi[s.Cout + co] + rs[i]);
                tol[i] *= 2;
            }
            TestUtil.AssertClose(got, unfused, tol, $"fused vs unfused {s} n={n} {path}");
        }
    }

    /// <summary>Residual and epilogue without an input prologue: the pointwise kernel applies them to its accumulators
    /// (with a prologue every path goes through the scratch copy, which the test above covers). Same bound as above.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ResidualEpilogueWithoutPrologueMatchesReference(int[] shape, string path)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 3 })
        {
            var rng = new Random(n * 5 + shape[3]);
            var x = TestUtil.Sliced(rng, n, s.InSize, 3, 5);
            var r = TestUtil.Sliced(rng, n, s.OutSize, 1, 2);
            var y = TestUtil.Sliced(rng, n, s.OutSize, 7, 2, fill: false);
            var w = TestUtil.Random(rng, s.WeightSize);
            var epi = TestUtil.Random(rng, 2 * s.Cout);
            var f = new ConvFusion { Scale = epi, ScaleOffset = 0, Shift = epi, ShiftOffset = s.Cout, Residual = r };
            Conv2dKernel.ForwardFused<Identity, HardSwish>(s, n, x, w, 0, f, y, Path(path));

            var xs = TestUtil.Gather(x, n, s.InSize);
            var (yr, mag, _, k) = Reference(s, n, xs.Select(v => (double)v).ToArray(), new double[xs.Length], w);
            var convTol = ConvTol(s, n, Path(path), xs.Select(v => Math.Abs((double)v)).ToArray(), w, mag, k);
            var rs = TestUtil.Gather(r, n, s.OutSize);
            var (expected, tol) = HardSwishEpilogue(s, yr, mag, new double[yr.Length], convTol, epi, rs);
            TestUtil.AssertClose(TestUtil.Gather(y, n, s.OutSize), expected, tol, $"residual epilogue {s} n={n} {path}");
            TestUtil.AssertUntouchedOutside(y, n, s.OutSize);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StatisticsMatchReferenceAndForwardTrain(int[] shape, string path)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 3 })
        {
            if (n * s.Ho * s.Wo < 2) continue;
            foreach (float offset in new[] { 0f, 30f })
            {
                // offset 30: outputs with a mean 30x their spread and running mean 0, the worst case for a one-pass variance.
                var rng = new Random(n * 13 + shape[3]);
                var x = TestUtil.Sliced(rng, n, s.InSize, 2, 3);
                var w = TestUtil.Random(rng, s.WeightSize);
                var shift = new float[s.Cout];
                Array.Fill(shift, offset);
                int c = s.Cout, hw = s.Ho * s.Wo;
                // BatchNorm parameters: gamma, beta, running mean, running var.
                var p = TestUtil.Random(rng, 4 * c);
                for (int i = 0; i < c; i++) { p[2 * c + i] = offset == 0 ? 0.1f * p[2 * c + i] : 0f; p[3 * c + i] = 1f + Math.Abs(p[3 * c + i]); }
                var p0 = (float[])p.Clone();
                var save = new float[2 * c];
                var affine = new float[2 * c + 1];
                var y = new View(new float[n * s.OutSize], 0, s.OutSize);
                var f = new ConvFusion
                {
                    Shift = shift,
                    Statistics = new BatchNormStatsTarget(p, 0, c, 2 * c, 3 * c, 0.1f, 1e-5f, save, 0, affine, 1, 1 + c),
                };
                Conv2dKernel.ForwardFused<Identity, Identity>(s, n, x, w, 0, f, y, Path(path));

                // Unfused: the same convolution output through ForwardTrain (two-pass statistics).
                var pu = (float[])p0.Clone();
                var saveU = new float[2 * c];
                var yU = new View(new float[n * s.OutSize], 0, s.OutSize);
                BatchNormKernel.ForwardTrain<Identity>(n, c, hw, y, pu, 0, c, 2 * c, 3 * c, 0.1f, 1e-5f, saveU, 0, yU);

                // Double reference of the statistics, from the double convolution.
                var xs = TestUtil.Gather(x, n, s.InSize);
                var (yr, mag, _, k) = Reference(s, n, xs.Select(v => (double)v).ToArray(), new double[xs.Length], w);
                var convTol = ConvTol(s, n, Path(path), WinogradBound.Abs(xs), w, mag, k);
                for (int ch = 0; ch < c; ch++)
                {
                    double sum = 0, maxTol = 0;
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < hw; i++)
                        {
                            int at = b * s.OutSize + ch * hw + i;
                            sum += yr[at] + offset;
                            maxTol = Math.Max(maxTol, convTol[at] + 2 * TestUtil.U * (Math.Abs(yr[at]) + offset));
                        }
                    double mean = sum / (n * hw), sq = 0;
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < hw; i++) { double d = yr[b * s.OutSize + ch * hw + i] + offset - mean; sq += d * d; }
                    double var = sq / (n * hw), std = Math.Sqrt(var);
                    double invStd = 1 / Math.Sqrt(var + 1e-5);
                    // Each output is off by at most maxTol: the mean by as much, the variance by 2 std maxTol + maxTol^2;
                    // then float rounding of the results (a few u).
                    double meanTol = maxTol + 4 * TestUtil.U * (Math.Abs(mean) + std);
                    double varTol = 2 * std * maxTol + maxTol * maxTol + 8 * TestUtil.U * var;
                    double invTol = invStd * (0.5 * varTol / (var + 1e-5) + 4 * TestUtil.U);
                    string what = $"{s} n={n} {path} offset={offset} channel {ch}";
                    Assert.True(Math.Abs(save[ch] - mean) <= meanTol, $"mean {what}: {save[ch]} vs {mean} (tol {meanTol:E2})");
                    Assert.True(Math.Abs(save[c + ch] - invStd) <= invTol, $"invstd {what}: {save[c + ch]} vs {invStd} (tol {invTol:E2})");
                    // Against ForwardTrain on the same outputs: only the one-pass vs two-pass arithmetic differs.
                    Assert.True(Math.Abs(save[ch] - saveU[ch]) <= 4 * TestUtil.U * (Math.Abs(mean) + std), $"mean vs ForwardTrain {what}");
                    Assert.True(Math.Abs(save[c + ch] - saveU[c + ch]) <= 8 * TestUtil.U * invStd, $"invstd vs ForwardTrain {what}: {save[c + ch]} vs {saveU[c + ch]}");
                    Assert.True(Math.Abs(p[2 * c + ch] - pu[2 * c + ch]) <= 4 * TestUtil.U * (Math.Abs(pu[2 * c + ch]) + std), $"running mean {what}");
                    Assert.True(Math.Abs(p[3 * c + ch] - pu[3 * c + ch]) <= 8 * TestUtil.U * pu[3 * c + ch], $"running var {what}");
                    // The consumer's affine, computed as ForwardTrain applies it.
                    Assert.Equal(p[ch] * save[c + ch], affine[1 + ch]);
                    Assert.Equal(p[c + ch] - save[ch] * affine[1 + ch], affine[1 + c + ch]);
                }
                // The output itself is the plain convolution (plus the shift).
                var yP = new View(new float[n * s.OutSize], 0, s.OutSize);
                Conv2dKernel.Forward<Identity>(s, n, x, w, 0, null, 0, shift, 0, yP, Path(path));
                Assert.Equal(yP.Data, y.Data);
            }
        }
    }

    /// <summary>The prologue from a BatchNorm's save reproduces ForwardTrain's output to the bit (same float operations).</summary>
    [Fact]
    public void AffineFromSaveReproducesForwardTrain()
    {
        const int n = 3, c = 5, hw = 13;
        var rng = new Random(4);
        var x = TestUtil.Sliced(rng, n, c * hw, 2, 1);
        var p = TestUtil.Random(rng, 4 * c);
        for (int i = 0; i < c; i++) p[3 * c + i] = 1f;
        var save = new float[2 * c];
        var y = new View(new float[n * c * hw], 0, c * hw);
        BatchNormKernel.ForwardTrain<Relu>(n, c, hw, x, p, 0, c, 2 * c, 3 * c, 0.1f, 1e-5f, save, 0, y);
        var affine = new float[2 * c + 3];
        BatchNormKernel.AffineFromSave(c, p, 0, c, save, 0, affine, 3, 3 + c);
        var z = new View(new float[n * c * hw], 0, c * hw);
        BatchNormKernel.Affine<Relu>(n, c, hw, x, affine, 3, affine, 3 + c, z);
        Assert.Equal(y.Data, z.Data);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WeightGradientThroughPrologueMatchesUnfused(int[] shape, string path)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 4 })
        {
            var rng = new Random(n * 5 + shape[2]);
            var x = TestUtil.Sliced(rng, n, s.InSize, 1, 4);
            var dy = TestUtil.Sliced(rng, n, s.OutSize, 0, 3);
            var aff = TestUtil.Random(rng, 2 * s.Cin);
            var dw = TestUtil.Random(rng, s.WeightSize);
            var dw0 = (float[])dw.Clone();
            Conv2dKernel.BackwardWeightsFused<Relu6>(s, n, x, new ChannelAffine(aff, 0, aff, s.Cin), dy, dw, 0, Path(path));

            // Reference: dw0 + sum dy * relu6(a x + b), in double.
            var xs = TestUtil.Gather(x, n, s.InSize);
            var dys = TestUtil.Gather(dy, n, s.OutSize);
            int plane = s.H * s.W, cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups;
            var expected = new double[s.WeightSize];
            var tol = new double[s.WeightSize];
            var count = new int[s.WeightSize];
            for (int i = 0; i < s.WeightSize; i++) expected[i] = dw0[i];
            for (int b = 0; b < n; b++)
                for (int co = 0; co < s.Cout; co++)
                    for (int oh = 0; oh < s.Ho; oh++)
                        for (int ow = 0; ow < s.Wo; ow++)
                        {
                            double g = dys[b * s.OutSize + (co * s.Ho + oh) * s.Wo + ow];
                            for (int ci = 0; ci < cinG; ci++)
                                for (int kh = 0; kh < s.Kh; kh++)
                                    for (int kw = 0; kw < s.Kw; kw++)
                                    {
                                        int ih = oh * s.StrideH - s.PadH + kh * s.DilH, iw = ow * s.StrideW - s.PadW + kw * s.DilW;
                                        if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                                        int cin = co / coutG * cinG + ci;
                                        double xv = xs[b * s.InSize + cin * plane + ih * s.W + iw];
                                        double z = (double)aff[cin] * xv + aff[s.Cin + cin];
                                        double a = Math.Min(Math.Max(z, 0), 6);
                                        int wi = ((co * cinG + ci) * s.Kh + kh) * s.Kw + kw;
                                        expected[wi] += g * a;
                                        tol[wi] += Math.Abs(g) * (Math.Abs(a) + 4 * TestUtil.U * (Math.Abs(aff[cin] * xv) + Math.Abs(aff[s.Cin + cin])));
                                        count[wi]++;
                                    }
                        }
            for (int i = 0; i < tol.Length; i++) tol[i] = TestUtil.SumTol(tol[i] + Math.Abs(dw0[i]), count[i] + 1);
            TestUtil.AssertClose(dw, expected, tol, $"fused weight gradient {s} n={n} {path}");

            // Unfused: materialise the prologue, then the plain weight gradient.
            var xa = new View(new float[n * s.InSize], 0, s.InSize);
            BatchNormKernel.Affine<Relu6>(n, s.Cin, plane, x, aff, 0, aff, s.Cin, xa);
            var dwU = (float[])dw0.Clone();
            Conv2dKernel.BackwardWeights(s, n, xa, dy, dwU, 0, Path(path));
            for (int i = 0; i < tol.Length; i++) tol[i] *= 2;
            TestUtil.AssertClose(dw, dwU.Select(v => (double)v).ToArray(), tol, $"fused vs unfused weight gradient {s} n={n} {path}");
        }
    }
}

/// <summary>Runs alone (with the other allocation tests): the workers' allocation counters would see other tests' jobs.</summary>
[Collection(nameof(AllocationCollection))]
public class ConvFusionAllocationTests
{
    [Fact]
    public void FusedConvolutionAllocatesNothingOnceWarm()
    {
        var s = new Conv2dShape(32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        const int n = 4;
        var rng = new Random(1);
        var x = TestUtil.Sliced(rng, n, s.InSize, 0, 0);
        var r = TestUtil.Sliced(rng, n, s.OutSize, 0, 0);
        var y = TestUtil.Sliced(rng, n, s.OutSize, 0, 0);
        var w = TestUtil.Random(rng, s.WeightSize);
        var aff = TestUtil.Random(rng, 2 * s.Cin);
        var p = TestUtil.Random(rng, 4 * s.Cout);
        for (int i = 0; i < s.Cout; i++) p[3 * s.Cout + i] = 1f;
        var save = new float[2 * s.Cout];
        var affine = new float[2 * s.Cout];
        var f = new ConvFusion
        {
            Input = new ChannelAffine(aff, 0, aff, s.Cin),
            Residual = r,
            Statistics = new BatchNormStatsTarget(p, 0, s.Cout, 2 * s.Cout, 3 * s.Cout, 0.1f, 1e-5f, save, 0, affine, 0, s.Cout),
        };
        var dw = new float[s.WeightSize];
        foreach (var path in new[] { ConvPath.Auto, ConvPath.Direct, ConvPath.Winograd, ConvPath.Winograd4, ConvPath.Im2Col })
        {
            void Step()
            {
                Conv2dKernel.ForwardFused<Relu, Relu>(s, n, x, w, 0, f, y, path);
                Conv2dKernel.BackwardWeightsFused<Relu>(s, n, x, f.Input, r, dw, 0, path);
            }
            // Scratch grows per thread, and which thread runs which task varies: on a busy machine the caller can drain a
            // whole job before the worker wakes, so the worker may first meet a task (and grow its scratch) many steps in
            // (this failed once with a fixed 5-step warm-up). Steady state is 3 steps in a row that allocate nothing; an
            // allocation made on every step never gets there.
            int steps = 0, quiet = 0;
            long last = 0;
            while (quiet < 3 && steps < 100)
            {
                long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
                Step();
                steps++;
                last = WorkerPool.AllocatedBytesOfPoolAndCaller() - before;
                quiet = last == 0 ? quiet + 1 : 0;
            }
            Assert.True(quiet == 3, $"{path}: still allocating after {steps} steps ({last} bytes in the last)");
        }
    }
}

public class ConvFusionNonFiniteTests
{
    [Fact]
    public void ANaNInputLeavesTheRunningStatisticsTheEpilogueWouldUpdate()
    {
        // Issue #10: as BatchNormKernel.ForwardTrain, statistics taken in the convolution's epilogue must not move the
        // running mean and variance when the batch holds a NaN; a finite batch afterwards still updates them.
        var s = new Conv2dShape(3, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        const int n = 2;
        var rng = new Random(3);
        var x = TestUtil.Sliced(rng, n, s.InSize, 0, 0);
        var y = TestUtil.Sliced(rng, n, s.OutSize, 0, 0);
        var w = TestUtil.Random(rng, s.WeightSize);
        var p = TestUtil.Random(rng, 4 * s.Cout);
        for (int i = 0; i < s.Cout; i++) p[3 * s.Cout + i] = 1f;
        var f = new ConvFusion
        {
            Statistics = new BatchNormStatsTarget(p, 0, s.Cout, 2 * s.Cout, 3 * s.Cout, 0.1f, 1e-5f, new float[2 * s.Cout], 0, null, 0, 0),
        };
        var kept = (float[])p.Clone();
        x.Data[x.Offset + 5] = float.NaN;
        foreach (var path in new[] { ConvPath.Direct, ConvPath.Winograd, ConvPath.Winograd4, ConvPath.Im2Col })
        {
            Conv2dKernel.ForwardFused<Identity, Identity>(s, n, x, w, 0, f, y, path);
            Assert.Equal(kept, p);
        }
        x.Data[x.Offset + 5] = 0.25f;
        Conv2dKernel.ForwardFused<Identity, Identity>(s, n, x, w, 0, f, y, ConvPath.Direct);
        Assert.NotEqual(kept.AsSpan(2 * s.Cout, 2 * s.Cout).ToArray(), p.AsSpan(2 * s.Cout, 2 * s.Cout).ToArray());
    }
}
