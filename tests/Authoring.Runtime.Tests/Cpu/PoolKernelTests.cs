// Pooling against direct references: PyTorch's max tie rule (first maximum wins), padding never
// selected, count_include_pad averaging, global average, with = and += into sliced views.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class PoolKernelTests
{
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 3, 8, 8, 2, 2, 2, 2, 0, 0 },
        new[] { 2, 9, 11, 3, 3, 2, 2, 1, 1 },
        new[] { 4, 7, 10, 3, 2, 1, 2, 1, 0 },
        new[] { 1, 5, 5, 5, 5, 1, 1, 2, 2 },
        new[] { 2, 6, 37, 2, 2, 2, 2, 0, 0 },   // 2x2 stride 2 vector path, odd width
        new[] { 2, 4, 48, 2, 2, 2, 2, 0, 0 },   // 2x2 stride 2, whole vectors only
        new[] { 2, 14, 14, 2, 2, 2, 2, 0, 0 },  // 2x2 stride 2, masked tail only (7 outputs a row)
        new[] { 2, 28, 28, 2, 2, 2, 2, 0, 0 },  // one vector and a masked tail of 6
        new[] { 2, 5, 15, 2, 2, 2, 2, 0, 0 },   // odd height and width, tail of 7
        new[] { 2, 3, 2, 2, 2, 2, 2, 0, 0 },    // one output a row
    };

    static Pool2dShape Shape(int[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);

    static IEnumerable<(int ih, int iw)> Window(in Pool2dShape s, int oh, int ow)
    {
        var list = new List<(int, int)>();
        for (int kh = 0; kh < s.Kh; kh++)
            for (int kw = 0; kw < s.Kw; kw++)
            {
                int ih = oh * s.StrideH - s.PadH + kh, iw = ow * s.StrideW - s.PadW + kw;
                if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) list.Add((ih, iw));
            }
        return list;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MaxPoolPicksTheFirstMaximum(int[] shape)
    {
        var s = Shape(shape);
        int n = 3, inSize = s.C * s.H * s.W, outSize = s.C * s.Ho * s.Wo;
        var rng = new Random(shape.Sum());
        // Few distinct, all negative values: ties are everywhere and padding (-inf) must still lose.
        var x = TestUtil.Sliced(rng, n, inSize, 2, 3);
        for (int b = 0; b < n; b++) for (int i = 0; i < inSize; i++) x.Data[x.At(b) + i] = -1 - rng.Next(3);
        var y = TestUtil.Sliced(rng, n, outSize, 1, 2, fill: false);
        PoolKernel.MaxForward(s, n, x, y);
        var dy = TestUtil.Sliced(rng, n, outSize, 0, 1);
        foreach (bool acc in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, inSize, 3, 1);
            var dx0 = TestUtil.Gather(dx, n, inSize);
            PoolKernel.MaxBackward(s, n, x, dy, dx, acc);
            var eDx = new double[n * inSize];
            if (acc) for (int i = 0; i < eDx.Length; i++) eDx[i] = dx0[i];
            for (int b = 0; b < n; b++)
                for (int c = 0; c < s.C; c++)
                    for (int oh = 0; oh < s.Ho; oh++)
                        for (int ow = 0; ow < s.Wo; ow++)
                        {
                            float best = float.NegativeInfinity; int arg = -1;
                            foreach (var (ih, iw) in Window(s, oh, ow))
                            {
                                float v = x.Data[x.At(b) + (c * s.H + ih) * s.W + iw];
                                if (v > best) { best = v; arg = (c * s.H + ih) * s.W + iw; }
                            }
                            int o = (c * s.Ho + oh) * s.Wo + ow;
                            Assert.Equal(best, y.Data[y.At(b) + o]);
                            eDx[b * inSize + arg] += dy.Data[dy.At(b) + o];
                        }
            // Each input gathers the same few terms in the same order as the reference only up to
            // ordering, so allow the rounding of a sum of up to Kh*Kw terms.
            var tol = eDx.Select(v => TestUtil.SumTol(Math.Abs(v) + 4, s.Kh * s.Kw + 1)).ToArray();
            TestUtil.AssertClose(TestUtil.Gather(dx, n, inSize), eDx, tol, $"max backward acc={acc}");
            TestUtil.AssertUntouchedOutside(dx, n, inSize);
        }
        TestUtil.AssertUntouchedOutside(y, n, outSize);
    }

    [Theory]
    [InlineData(2, 2, 2, 0, 40, 21)]
    [InlineData(3, 3, 2, 1, 40, 21)]
    [InlineData(2, 2, 2, 0, 14, 13)] // in the masked tail, last lane
    [InlineData(2, 2, 2, 0, 14, 8)]  // in the masked tail, second load
    public void MaxPoolPropagatesNaN(int k, int kw, int stride, int pad, int width, int col)
    {
        // PyTorch: a NaN in the window makes the output NaN (and receives the gradient).
        var s = new Pool2dShape(1, 6, width, k, kw, stride, stride, pad, pad);
        var rng = new Random(3);
        var x = TestUtil.Sliced(rng, 1, 6 * width, 0, 0);
        x.Data[1 * width + col] = float.NaN;
        var y = TestUtil.Sliced(rng, 1, s.Ho * s.Wo, 0, 0, fill: false);
        PoolKernel.MaxForward(s, 1, x, y);
        int nanCount = 0;
        for (int oh = 0; oh < s.Ho; oh++)
            for (int ow = 0; ow < s.Wo; ow++)
            {
                bool covers = Window(s, oh, ow).Contains((1, col));
                float v = y.Data[oh * s.Wo + ow];
                Assert.Equal(covers, float.IsNaN(v));
                if (covers) nanCount++;
            }
        Assert.True(nanCount > 0);
        var dy = TestUtil.Sliced(rng, 1, s.Ho * s.Wo, 0, 0);
        var dx = TestUtil.Sliced(rng, 1, 6 * width, 0, 0);
        PoolKernel.MaxBackward(s, 1, x, dy, dx, false);
        double expected = 0;
        for (int oh = 0; oh < s.Ho; oh++)
            for (int ow = 0; ow < s.Wo; ow++)
                if (Window(s, oh, ow).Contains((1, col))) expected += dy.Data[oh * s.Wo + ow];
        Assert.Equal(expected, dx.Data[1 * width + col], 1e-6); // at most 9 terms of magnitude <= 1 summed in float
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AvgPoolCountsPaddingInTheDivisor(int[] shape)
    {
        var s = Shape(shape);
        int n = 2, inSize = s.C * s.H * s.W, outSize = s.C * s.Ho * s.Wo, area = s.Kh * s.Kw;
        var rng = new Random(shape.Sum() + 1);
        var x = TestUtil.Sliced(rng, n, inSize, 2, 3);
        var y = TestUtil.Sliced(rng, n, outSize, 1, 2, fill: false);
        PoolKernel.AvgForward(s, n, x, y);
        var dy = TestUtil.Sliced(rng, n, outSize, 0, 1);
        var eY = new double[n * outSize]; var tY = new double[n * outSize];
        foreach (bool acc in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, inSize, 3, 1);
            var dx0 = TestUtil.Gather(dx, n, inSize);
            PoolKernel.AvgBackward(s, n, dy, dx, acc);
            var eDx = new double[n * inSize]; var magDx = new double[n * inSize];
            if (acc) for (int i = 0; i < eDx.Length; i++) { eDx[i] = dx0[i]; magDx[i] = Math.Abs(dx0[i]); }
            for (int b = 0; b < n; b++)
                for (int c = 0; c < s.C; c++)
                    for (int oh = 0; oh < s.Ho; oh++)
                        for (int ow = 0; ow < s.Wo; ow++)
                        {
                            int o = (c * s.Ho + oh) * s.Wo + ow;
                            double sum = 0, mag = 0, g = dy.Data[dy.At(b) + o] / (double)area;
                            foreach (var (ih, iw) in Window(s, oh, ow))
                            {
                                int i = (c * s.H + ih) * s.W + iw;
                                double v = x.Data[x.At(b) + i];
                                sum += v; mag += Math.Abs(v);
                                eDx[b * inSize + i] += g; magDx[b * inSize + i] += Math.Abs(g);
                            }
                            eY[b * outSize + o] = sum / area;
                            tY[b * outSize + o] = TestUtil.SumTol(mag / area, area + 1);
                        }
            var tDx = magDx.Select(m => TestUtil.SumTol(m, area + 2)).ToArray();
            TestUtil.AssertClose(TestUtil.Gather(dx, n, inSize), eDx, tDx, $"avg backward acc={acc}");
            TestUtil.AssertUntouchedOutside(dx, n, inSize);
        }
        TestUtil.AssertClose(TestUtil.Gather(y, n, outSize), eY, tY, "avg forward");
        TestUtil.AssertUntouchedOutside(y, n, outSize);
    }

    [Theory]
    [InlineData(2, 3, 7, false)]
    [InlineData(64, 32, 49, true)]
    public void GlobalAveragePool(int n, int c, int hw, bool accumulate)
    {
        var rng = new Random(hw);
        var x = TestUtil.Sliced(rng, n, c * hw, 2, 5);
        var y = TestUtil.Sliced(rng, n, c, 3, 1, fill: false);
        PoolKernel.GlobalAvgForward(n, c, hw, x, y);
        var e = new double[n * c]; var t = new double[n * c];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
            {
                double s = 0, mag = 0;
                for (int i = 0; i < hw; i++) { double v = x.Data[x.At(b) + ch * hw + i]; s += v; mag += Math.Abs(v); }
                e[b * c + ch] = s / hw; t[b * c + ch] = TestUtil.SumTol(mag / hw, hw + 1);
            }
        TestUtil.AssertClose(TestUtil.Gather(y, n, c), e, t, "global avg forward");
        TestUtil.AssertUntouchedOutside(y, n, c);

        var dy = TestUtil.Sliced(rng, n, c, 1, 2);
        var dx = TestUtil.Sliced(rng, n, c * hw, 4, 3);
        var dx0 = TestUtil.Gather(dx, n, c * hw);
        PoolKernel.GlobalAvgBackward(n, c, hw, dy, dx, accumulate);
        var eDx = new double[n * c * hw]; var tDx = new double[n * c * hw];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < hw; i++)
                {
                    int k = b * c * hw + ch * hw + i;
                    double g = dy.Data[dy.At(b) + ch] / (double)hw, prior = accumulate ? dx0[k] : 0;
                    eDx[k] = prior + g; tDx[k] = 3 * TestUtil.U * (Math.Abs(g) + Math.Abs(prior)); // divide (or scale) and add: two roundings
                }
        TestUtil.AssertClose(TestUtil.Gather(dx, n, c * hw), eDx, tDx, "global avg backward");
        TestUtil.AssertUntouchedOutside(dx, n, c * hw);
    }
}

/// <summary>Max pooling through a BatchNorm prologue (PoolKernel.MaxForward{TIn} / MaxBackward{TIn}) against applying the
/// affine first (BatchNormKernel.Affine, the kernel the prologue replaces) and pooling the stored result: the same float
/// operations (one FMA, then the activation), so outputs and routed gradients are identical, not merely close.</summary>
public class PoolPrologueTests
{
    [Theory]
    [InlineData(3, 28, 28, 2, 2, 2, 0)]   // the sample's first pool: one vector and a masked tail a row
    [InlineData(5, 14, 14, 2, 2, 2, 0)]   // masked tail only
    [InlineData(2, 6, 37, 2, 2, 2, 0)]    // odd width: vectors, a tail
    [InlineData(3, 9, 11, 3, 3, 2, 1)]    // the generic path, padded
    public void EqualsAffineThenPool(int c, int h, int w, int k, int kw, int stride, int pad)
    {
        Check<Relu>(c, h, w, k, kw, stride, pad);
        Check<Identity>(c, h, w, k, kw, stride, pad);
    }

    static void Check<TAct>(int c, int h, int w, int k, int kw, int stride, int pad) where TAct : struct, IActivation
    {
        var s = new Pool2dShape(c, h, w, k, kw, stride, stride, pad, pad);
        int n = 3, inSize = c * h * w, outSize = c * s.Ho * s.Wo;
        var rng = new Random(c * 1000 + w);
        var x = TestUtil.Sliced(rng, n, inSize, 2, 3);
        // Scales of both signs (a negative gamma reverses the order the pool sees) and shifts that make ReLU clip.
        var affine = new float[2 * c + 3];
        for (int i = 0; i < c; i++)
        {
            affine[3 + i] = (float)(rng.NextDouble() * 2 - 0.5);
            affine[3 + c + i] = (float)(rng.NextDouble() - 0.5);
        }
        var stored = new View(new float[n * inSize], 0, inSize);
        BatchNormKernel.Affine<TAct>(n, c, h * w, x, affine, 3, affine, 3 + c, stored);
        var yRef = new View(new float[n * outSize], 0, outSize);
        PoolKernel.MaxForward(s, n, stored, yRef);
        var y = TestUtil.Sliced(rng, n, outSize, 1, 2, fill: false);
        PoolKernel.MaxForward<TAct>(s, n, x, new ChannelAffine(affine, 3, affine, 3 + c), y);
        Assert.Equal(TestUtil.Gather(yRef, n, outSize), TestUtil.Gather(y, n, outSize));
        TestUtil.AssertUntouchedOutside(y, n, outSize);

        var dy = TestUtil.Sliced(rng, n, outSize, 0, 1);
        foreach (bool acc in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, inSize, 3, 1);
            var dxRef = new View(TestUtil.Gather(dx, n, inSize).Select(v => (float)v).ToArray(), 0, inSize);
            PoolKernel.MaxBackward(s, n, stored, dy, dxRef, acc);
            PoolKernel.MaxBackward<TAct>(s, n, x, new ChannelAffine(affine, 3, affine, 3 + c), dy, dx, acc);
            Assert.Equal(TestUtil.Gather(dxRef, n, inSize), TestUtil.Gather(dx, n, inSize));
            TestUtil.AssertUntouchedOutside(dx, n, inSize);
        }
    }
}
