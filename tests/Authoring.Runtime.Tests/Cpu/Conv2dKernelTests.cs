// Convolution forward and both backward passes against a direct double-precision reference, on
// sliced views (offset, batch stride larger than a sample), for plain, grouped, pointwise and
// depthwise shapes with stride, padding, dilation and non-square kernels. Dense and grouped shapes
// run through each implementation (the shape's own choice, the direct kernels forced wherever they
// apply, im2col + GEMM forced), at batch 1 (positions split over threads) and larger batches.
using System.Reflection;
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class Conv2dKernelTests
{
    // (Cin, H, W, Cout, Kh, Kw, Sh, Sw, Ph, Pw, Dh, Dw, Groups)
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 3, 9, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },      // plain 3x3
        new[] { 4, 11, 10, 6, 3, 2, 2, 2, 1, 1, 2, 2, 2 },    // groups 2, stride 2, dilation 2, Kh != Kw
        new[] { 8, 5, 7, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1 },     // pointwise: GEMM on the sample itself
        new[] { 6, 7, 9, 4, 1, 1, 2, 2, 0, 0, 1, 1, 2 },      // 1x1 stride 2, grouped (im2col path)
        new[] { 16, 14, 14, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // GEMM-sized: K = 144, N = 196
        new[] { 40, 18, 20, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // K = 360: output positions in slabs of 160 (160, 160, 40)
        new[] { 48, 41, 30, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2 },   // stride 2, K = 216 per group: slabs of 288 over 21 x 15
        new[] { 5, 9, 37, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5 },     // depthwise, wide rows (vector + tail)
        new[] { 5, 12, 40, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5 },    // depthwise stride 2
        new[] { 3, 10, 35, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3 },    // depthwise dilation 2
        new[] { 4, 9, 41, 4, 3, 5, 2, 1, 1, 2, 1, 1, 4 },     // depthwise 3x5, stride (2, 1)
        new[] { 2, 13, 50, 2, 5, 5, 2, 2, 2, 2, 1, 1, 2 },    // depthwise 5x5 stride 2
        new[] { 3, 6, 6, 3, 2, 3, 1, 2, 0, 1, 2, 1, 3 },      // depthwise tiny, odd everything
        new[] { 4, 7, 7, 4, 1, 5, 1, 1, 0, 2, 1, 1, 4 },      // depthwise 1x5, padding (0, 2): GhostNetV2's DFC, 7x7 stage
        new[] { 4, 7, 7, 4, 5, 1, 1, 1, 2, 0, 1, 1, 4 },      // depthwise 5x1, padding (2, 0)
        new[] { 3, 6, 19, 3, 1, 5, 1, 1, 0, 2, 1, 1, 3 },     // 1x5 over rows of two vectors plus a tail
        new[] { 3, 11, 10, 3, 5, 1, 1, 1, 2, 0, 1, 1, 3 },    // 5x1 over more rows than the kernel
        new[] { 2, 9, 20, 2, 1, 5, 2, 2, 0, 2, 1, 1, 2 },     // 1x5 stride 2 (phase-split plane)
        new[] { 6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6 },      // depthwise 7x7: rows narrower than a vector
        new[] { 4, 5, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4 },      // depthwise, 3 wide: a vector spans three rows
        new[] { 5, 14, 14, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5 },    // depthwise 14x14: each row's last vector overlaps
        new[] { 4, 8, 16, 4, 3, 1, 1, 1, 1, 0, 1, 1, 4 },     // depthwise 3x1, rows of exactly two vectors
        new[] { 3, 6, 9, 3, 2, 3, 1, 1, 2, 1, 1, 1, 3 },      // depthwise, padding past the kernel (data gradient scatters)
        new[] { 2, 11, 12, 2, 5, 5, 1, 1, 2, 2, 1, 1, 2 },    // depthwise 5x5 stride 1: taps in groups of nine
        new[] { 3, 9, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3 },      // depthwise stride 2, 5 wide: narrow rows from phase-split planes
        new[] { 6, 14, 14, 6, 5, 5, 2, 2, 2, 2, 1, 1, 6 },    // GhostBottleneck's depthwise 5x5 stride 2: 14-wide rows split through the buffer
        new[] { 5, 14, 15, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5 },    // stride 2, odd width: the odd phase one shorter
        new[] { 3, 5, 31, 3, 3, 3, 2, 2, 0, 1, 1, 1, 3 },     // stride 2 over 31: 16 split by vector, 15 through the buffer
        new[] { 3, 4, 17, 3, 1, 3, 2, 2, 0, 0, 1, 1, 3 },     // stride 2 unpadded over 17: a tail of one
        new[] { 3, 1, 12, 3, 1, 3, 1, 1, 0, 1, 1, 1, 3 },     // one row of 12 (512-bit rows: the plane's last row alone)
        new[] { 5, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5 },      // rows of 9 (the narrowest 512-bit row), 9 rows: blocks of 5 and 4
        new[] { 3, 17, 16, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3 },    // rows of 16 (no spill), 17 rows: blocks of 6, 6 and 5
        new[] { 3, 11, 13, 3, 3, 3, 2, 2, 1, 2, 2, 2, 3 },    // depthwise stride 2, dilation 2: every tap in phase 0, phase 1 none
        new[] { 2, 10, 14, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2 },    // depthwise stride 3: three phases, one tap each
        new[] { 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // the sample's 3x3 conv 32 -> 64
        new[] { 12, 9, 11, 20, 2, 3, 1, 1, 0, 2, 1, 1, 1 },   // Kh != Kw, Ph != Pw, 20 channels (a part-filled tile)
        new[] { 8, 10, 9, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1 },    // stride 2 (data gradient through col2im)
        new[] { 16, 8, 8, 32, 3, 3, 1, 1, 1, 1, 2, 2, 2 },    // groups 2 of 16 channels, dilation 2
        new[] { 6, 7, 8, 16, 1, 3, 1, 1, 3, 1, 1, 1, 1 },     // padding past the kernel's reach
        new[] { 3, 5, 5, 17, 5, 5, 1, 1, 2, 2, 1, 1, 1 },     // 17 channels, K = 75
        new[] { 9, 6, 13, 24, 3, 5, 2, 1, 2, 1, 1, 2, 3 },    // groups 3, stride (2, 1), dilation (1, 2), 3x5
        new[] { 16, 5, 7, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1 },    // pointwise 16 -> 32: planes read in place
        new[] { 8, 9, 10, 16, 3, 3, 1, 1, 0, 0, 1, 1, 1 },    // unpadded 3x3: planes read in place
        new[] { 5, 6, 7, 9, 3, 3, 1, 1, 2, 2, 1, 1, 1 },      // 3x3 padding 2 (Winograd's data gradient unpadded)
        new[] { 12, 7, 11, 19, 3, 3, 1, 1, 0, 2, 1, 1, 1 },   // 3x3 padding (0, 2): odd outputs, 19 channels
        new[] { 24, 13, 15, 36, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // Ghost-like channel counts, odd 13 x 15: edge tiles
        new[] { 4, 3, 5, 6, 3, 3, 1, 1, 0, 0, 1, 1, 1 },      // one output row (Ho = 1): half tiles
        new[] { 40, 20, 22, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // several Winograd tile blocks, 33 channels
        new[] { 20, 14, 14, 260, 3, 3, 1, 1, 1, 1, 1, 1, 1 }, // Winograd at small batches splits 260 output channels in 2-3 parts (last ragged)
        new[] { 260, 13, 14, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1 }, // ... and the data gradient's 260
        new[] { 64, 14, 14, 128, 1, 1, 1, 1, 0, 0, 1, 1, 1 }, // pointwise of the depthwise-separable block: 196 = whole tiles + 4
        new[] { 13, 9, 11, 21, 1, 1, 1, 1, 0, 0, 1, 1, 1 },   // pointwise, odd channels (part-filled row blocks both ways), 99 positions
        new[] { 10, 4, 8, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2 },     // pointwise groups 2, 32 positions: no edge tile
        new[] { 6, 3, 6, 40, 1, 1, 1, 1, 0, 0, 1, 1, 1 },     // pointwise, 18 positions: the other paths at 512 bits, a tile and an edge tile at 256
    };

    public static readonly string[] Paths = ["Auto", "Direct", "Im2Col", "Winograd", "Winograd4", "Pointwise"];

    /// <summary>Every shape on every path (depthwise shapes have one).</summary>
    public static TheoryData<int[], string> ShapesAndPaths
    {
        get
        {
            var data = new TheoryData<int[], string>();
            foreach (object[] row in (IEnumerable<object[]>)Shapes)
            {
                var shape = (int[])row[0];
                foreach (var path in Shape(shape).IsDepthwise ? ["Auto"] : Paths) data.Add(shape, path);
            }
            return data;
        }
    }

    static ConvPath Path(string name) => Enum.Parse<ConvPath>(name);

    static Conv2dShape Shape(int[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]);

    [Theory]
    [MemberData(nameof(ShapesAndPaths))]
    public void ForwardMatchesReference(int[] shape, string path)
    {
        foreach (int n in new[] { 1, 3, 4 }) CheckForward(Shape(shape), n, "Relu", withScale: true, seed: n, Path(path));
    }

    public static TheoryData<string> Acts => new(TestUtil.Activations);

    [Theory]
    [MemberData(nameof(Acts))]
    public void ForwardAppliesEveryActivation(string act)
    {
        CheckForward(Shape([4, 11, 10, 6, 3, 2, 2, 2, 1, 1, 2, 2, 2]), 2, act, withScale: true, seed: 11);
        CheckForward(Shape([4, 11, 10, 6, 3, 2, 2, 2, 1, 1, 2, 2, 2]), 2, act, withScale: true, seed: 13, ConvPath.Direct);
        CheckForward(Shape([12, 9, 11, 20, 2, 3, 1, 1, 0, 2, 1, 1, 1]), 1, act, withScale: true, seed: 14, ConvPath.Direct);
        CheckForward(Shape([5, 9, 37, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5]), 2, act, withScale: false, seed: 12);
        CheckForward(Shape([6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6]), 2, act, withScale: true, seed: 15);
    }

    [Theory]
    [MemberData(nameof(ShapesAndPaths))]
    public void BackwardDataMatchesReference(int[] shape, string path)
    {
        foreach (int n in new[] { 1, 3, 4 }) CheckBackwardData(Shape(shape), n, seed: n, Path(path));
    }

    [Theory]
    [MemberData(nameof(ShapesAndPaths))]
    public void BackwardWeightsMatchesReference(int[] shape, string path)
    {
        foreach (int n in new[] { 1, 2, 5 }) CheckBackwardWeights(Shape(shape), n, seed: n, Path(path));
    }

    /// <summary>Batches large enough for Auto to take F(4x4, 3x3) (the fixed shapes run at batches under its threshold):
    /// the RepVGG block's 32 -> 32 at 14 x 14 and odd 13 x 15 with 20 -> 36 channels, forward and data gradient; 12 x 20
    /// (whole 4 x 4 tiles) the weight gradient too.</summary>
    [Theory]
    [InlineData(32, 14, 14, 32, 16)]
    [InlineData(20, 13, 15, 36, 17)]
    [InlineData(20, 12, 20, 36, 14)]
    public void AutoTakesF4AtLargeBatches(int cin, int h, int w, int cout, int n)
    {
        var s = new Conv2dShape(cin, h, w, cout, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        Assert.Equal(4, Conv2dKernel.WinogradTile(ConvPath.Auto, s, n, Conv2dKernel.Pass.Forward));
        Assert.Equal(4, Conv2dKernel.WinogradTile(ConvPath.Auto, s, n, Conv2dKernel.Pass.Data));
        CheckForward(s, n, "Relu", withScale: true, seed: n);
        CheckBackwardData(s, n, seed: n);
        Assert.Equal(s.Ho % 4 == 0 && s.Wo % 4 == 0 ? 4 : 2, Conv2dKernel.WinogradTile(ConvPath.Auto, s, n, Conv2dKernel.Pass.Weights));
        CheckBackwardWeights(s, n, seed: n);
    }

    /// <summary>Seeded random small shapes: every combination of stride, padding, dilation, groups and
    /// kernel size the fixed list might miss, through all three passes.</summary>
    [Fact]
    public void RandomShapesMatchReference()
    {
        var rng = new Random(2024);
        for (int trial = 0; trial < 40; trial++)
        {
            int groups = rng.Next(3) switch { 0 => 1, 1 => 2, _ => 3 };
            bool depthwise = rng.Next(4) == 0;
            int cin = depthwise ? groups * rng.Next(1, 3) : groups * rng.Next(1, 4);
            int cout = depthwise ? cin : groups * rng.Next(1, 4);
            if (depthwise) groups = cin;
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5), sh = rng.Next(1, 3), sw = rng.Next(1, 3);
            int dh = rng.Next(1, 3), dw = rng.Next(1, 3), ph = rng.Next(0, kh), pw = rng.Next(0, kw);
            int h = rng.Next(dh * (kh - 1) + 1, 12), w = rng.Next(dw * (kw - 1) + 1, 40);
            var s = new Conv2dShape(cin, h, w, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups);
            if (s.Ho <= 0 || s.Wo <= 0) continue;
            var path = (ConvPath)(trial % 4);
            int n = 1 + trial % 3;
            CheckForward(s, n, "HardSwish", withScale: trial % 2 == 0, seed: trial, path);
            CheckBackwardData(s, n, seed: trial, path);
            CheckBackwardWeights(s, n, seed: trial, path);
        }
    }

    [Theory]
    [InlineData("Direct")]
    [InlineData("Im2Col")]
    public void BackwardWeightsIsDeterministic(string path)
    {
        var s = Shape([16, 14, 14, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
        foreach (int n in new[] { 1, 7 })
        {
            var rng = new Random(5);
            var x = TestUtil.Sliced(rng, n, s.InSize, 0, 0);
            var dy = TestUtil.Sliced(rng, n, s.OutSize, 0, 0);
            var dw1 = new float[s.WeightSize];
            var dw2 = new float[s.WeightSize];
            Conv2dKernel.BackwardWeights(s, n, x, dy, dw1, 0, Path(path));
            Conv2dKernel.BackwardWeights(s, n, x, dy, dw2, 0, Path(path));
            Assert.Equal(dw1, dw2);
        }
    }

    /// <summary>The three reference results of one problem, with per-element error bounds from the term counts and magnitudes.</summary>
    sealed class Reference
    {
        public double[] Y = [], YMag = [], Dx = [], DxMag = [], Dw = [], DwMag = [];
        public int[] YCount = [], DxCount = [], DwCount = [];
    }

    static Reference Compute(in Conv2dShape s, int n, float[] x, float[] w, float[] dy)
    {
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups, ho = s.Ho, wo = s.Wo;
        var r = new Reference
        {
            Y = new double[n * s.OutSize], YMag = new double[n * s.OutSize], YCount = new int[n * s.OutSize],
            Dx = new double[n * s.InSize], DxMag = new double[n * s.InSize], DxCount = new int[n * s.InSize],
            Dw = new double[s.WeightSize], DwMag = new double[s.WeightSize], DwCount = new int[s.WeightSize],
        };
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++)
                    {
                        int yi = b * s.OutSize + (co * ho + oh) * wo + ow;
                        int g = co / coutG;
                        for (int ci = 0; ci < cinG; ci++)
                            for (int kh = 0; kh < s.Kh; kh++)
                                for (int kw = 0; kw < s.Kw; kw++)
                                {
                                    int ih = oh * s.StrideH - s.PadH + kh * s.DilH, iw = ow * s.StrideW - s.PadW + kw * s.DilW;
                                    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                                    int xi = b * s.InSize + ((g * cinG + ci) * s.H + ih) * s.W + iw;
                                    int wi = ((co * cinG + ci) * s.Kh + kh) * s.Kw + kw;
                                    double yx = (double)w[wi] * x[xi], dxv = (double)w[wi] * dy[yi], dwv = (double)dy[yi] * x[xi];
                                    r.Y[yi] += yx; r.YMag[yi] += Math.Abs(yx); r.YCount[yi]++;
                                    r.Dx[xi] += dxv; r.DxMag[xi] += Math.Abs(dxv); r.DxCount[xi]++;
                                    r.Dw[wi] += dwv; r.DwMag[wi] += Math.Abs(dwv); r.DwCount[wi]++;
                                }
                    }
        return r;
    }

    static void CheckForward(in Conv2dShape s, int n, string act, bool withScale, int seed, ConvPath path = ConvPath.Auto)
    {
        var rng = new Random(seed);
        var x = TestUtil.Sliced(rng, n, s.InSize, 3, 5);
        var y = TestUtil.Sliced(rng, n, s.OutSize, 7, 2, fill: false);
        var w = TestUtil.Random(rng, s.WeightSize + 4);
        float[]? scale = withScale ? TestUtil.Random(rng, s.Cout + 1, 0.5f, 2f) : null;
        float[]? shift = withScale ? TestUtil.Random(rng, s.Cout + 2) : null;
        var forward = typeof(Conv2dKernel).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Single(m => m.Name == nameof(Conv2dKernel.Forward) && m.GetParameters().Length == 11)
            .MakeGenericMethod(typeof(Identity).Assembly.GetType("Authoring.Runtime.Cpu." + act, throwOnError: true)!);
        try { forward.Invoke(null, [s, n, x, w, 4, scale, 1, shift, 2, y, path]); }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }

        var xs = TestUtil.Gather(x, n, s.InSize);
        var r = Compute(s, n, xs, w[4..], new float[n * s.OutSize]);
        int hw = s.Ho * s.Wo;
        // A Winograd run is held to the rounding bound derived from its transforms (WinogradBound), the others to the summation bound.
        int m = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Forward);
        double[]? wino = m > 0 ? WinogradBound.ForwardAbs(s, n, m, WinogradBound.Abs(xs), w[4..]) : null;
        var expected = new double[r.Y.Length];
        var tol = new double[r.Y.Length];
        for (int i = 0; i < r.Y.Length; i++)
        {
            int co = i % s.OutSize / hw;
            double sc = scale is null ? 1 : scale[1 + co], sh = shift is null ? 0 : shift[2 + co];
            double z = sc * r.Y[i] + sh;
            expected[i] = TestUtil.Act(act, z);
            // Summation error of the conv, scaled and passed through the activation's slope, plus the epilogue's own rounding.
            double conv = wino is null ? TestUtil.SumTol(r.YMag[i], r.YCount[i])
                : WinogradBound.Tol(wino[i], WinogradBound.DepthForward(m, s.Cin, false), r.YCount[i]);
            tol[i] = TestUtil.MaxSlope * (sc * conv + 2 * TestUtil.U * (Math.Abs(z) + sc * r.YMag[i]))
                + TestUtil.ActTol(expected[i]);
        }
        TestUtil.AssertClose(TestUtil.Gather(y, n, s.OutSize), expected, tol, $"forward {s} n={n} {act} {path}");
        TestUtil.AssertUntouchedOutside(y, n, s.OutSize);
    }

    static void CheckBackwardData(in Conv2dShape s, int n, int seed, ConvPath path = ConvPath.Auto)
    {
        var rng = new Random(seed);
        var dy = TestUtil.Sliced(rng, n, s.OutSize, 2, 3);
        var w = TestUtil.Random(rng, s.WeightSize);
        var dys = TestUtil.Gather(dy, n, s.OutSize);
        var r = Compute(s, n, new float[n * s.InSize], w, dys);
        int m = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Data);
        double[]? wino = m > 0 ? WinogradBound.DataAbs(s, n, m, dys, w) : null;
        foreach (bool accumulate in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, s.InSize, 5, 4);
            var dx0 = TestUtil.Gather(dx, n, s.InSize);
            Conv2dKernel.BackwardData(s, n, dy, w, 0, dx, accumulate, path);
            var expected = new double[r.Dx.Length];
            var tol = new double[r.Dx.Length];
            for (int i = 0; i < expected.Length; i++)
            {
                double prior = accumulate ? dx0[i] : 0;
                expected[i] = r.Dx[i] + prior;
                tol[i] = wino is null ? TestUtil.SumTol(r.DxMag[i] + Math.Abs(prior), r.DxCount[i] + 1)
                    : WinogradBound.Tol(wino[i] + Math.Abs(prior), WinogradBound.DepthForward(m, s.Cout, accumulate), r.DxCount[i] + 1);
            }
            TestUtil.AssertClose(TestUtil.Gather(dx, n, s.InSize), expected, tol, $"backward data {s} n={n} accumulate={accumulate} {path}");
            TestUtil.AssertUntouchedOutside(dx, n, s.InSize);
        }
    }

    static void CheckBackwardWeights(in Conv2dShape s, int n, int seed, ConvPath path = ConvPath.Auto)
    {
        var rng = new Random(seed);
        var x = TestUtil.Sliced(rng, n, s.InSize, 1, 6);
        var dy = TestUtil.Sliced(rng, n, s.OutSize, 0, 3);
        var dw = TestUtil.Random(rng, s.WeightSize + 3);
        var dw0 = (float[])dw.Clone();
        Conv2dKernel.BackwardWeights(s, n, x, dy, dw, 3, path);

        var xs = TestUtil.Gather(x, n, s.InSize);
        var dys = TestUtil.Gather(dy, n, s.OutSize);
        var r = Compute(s, n, xs, new float[s.WeightSize], dys);
        int m = Conv2dKernel.WinogradTile(path, s, n, Conv2dKernel.Pass.Weights);
        double[]? wino = m > 0 ? WinogradBound.WeightsAbs(s, n, m, xs, dys) : null;
        var expected = new double[dw.Length];
        var tol = new double[dw.Length];
        for (int i = 0; i < 3; i++) expected[i] = dw0[i];
        for (int i = 0; i < s.WeightSize; i++)
        {
            expected[3 + i] = dw0[3 + i] + r.Dw[i];
            tol[3 + i] = wino is null ? TestUtil.SumTol(r.DwMag[i] + Math.Abs(dw0[3 + i]), r.DwCount[i] + 1)
                : WinogradBound.Tol(wino[i] + Math.Abs(dw0[3 + i]), WinogradBound.DepthWeights(m, n, WinogradBound.Tiles(s, m)), r.DwCount[i] + 1);
        }
        TestUtil.AssertClose(dw, expected, tol, $"backward weights {s} n={n} {path}");
    }
}
