// Pooling kernels against direct loops. Tolerance 1e-5: each output sums at most nine floats of
// magnitude <= 1 (average) or copies one (max), so float rounding is ~1e-7.
using Authoring.Runtime.Cpu;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class PoolTests(GpuFixture fx)
{
    const double Atol = 1e-5, Rtol = 1e-5;

    // C, H, W, Kh, Kw, StrideH, StrideW, PadH, PadW
    static readonly Pool2dShape[] Shapes =
    [
        new(3, 5, 5, 2, 2, 2, 2, 0, 0),   // classic 2x2 / 2, odd input (last row and column unused)
        new(2, 6, 5, 3, 2, 2, 1, 1, 1),   // Kh != Kw, padding, stride 2 x 1
        new(3, 5, 5, 3, 3, 1, 1, 1, 1),   // overlapping windows: an element can be the max of several
    ];

    public static TheoryData<int> Cases => new() { 0, 1, 2 };

    [Theory, MemberData(nameof(Cases))]
    public void MaxAndAveragePooling(int which)
    {
        var s = Shapes[which];
        const int n = 2;
        int inSize = s.C * s.H * s.W, outSize = s.C * s.Ho * s.Wo;
        var rng = new Random(40 + which);
        // Case 2 draws x from five levels so windows hold ties: the first maximum (row-major) must win.
        using var xs = which == 2 ? Quantized(rng, n, inSize) : fx.Batch(rng, n, inSize, offset: 2, gap: 3);
        using var dy = fx.Batch(rng, n, outSize, offset: 1, gap: 1);

        var maxRef = new double[n * outSize];
        var avgRef = new double[n * outSize];
        var dxMax = new double[n * inSize];
        var dxAvg = new double[n * inSize];
        for (int b = 0; b < n; b++)
            for (int c = 0; c < s.C; c++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        int o = b * outSize + (c * s.Ho + oy) * s.Wo + ox;
                        double best = double.NegativeInfinity, sum = 0;
                        int arg = -1;
                        for (int ky = 0; ky < s.Kh; ky++)
                            for (int kx = 0; kx < s.Kw; kx++)
                            {
                                int iy = oy * s.StrideH - s.PadH + ky, ix = ox * s.StrideW - s.PadW + kx;
                                if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                int i = b * inSize + (c * s.H + iy) * s.W + ix;
                                if (arg < 0 || xs.Values[i] > best) { best = xs.Values[i]; arg = i; }
                                sum += xs.Values[i];
                                dxAvg[i] += dy.Values[o] / (s.Kh * s.Kw);
                            }
                        maxRef[o] = best;
                        avgRef[o] = sum / (s.Kh * s.Kw);
                        dxMax[arg] += dy.Values[o];
                    }

        using (var y = fx.Batch(rng, n, outSize, offset: 0, gap: 2))
        {
            fx.Kernels.MaxPoolForward(s, n, xs.View, y.View);
            Close(maxRef, y.Read(), 0, 0, "max y"); // a copy of one input: exact
        }
        using (var y = fx.Batch(rng, n, outSize, offset: 3, gap: 0))
        {
            fx.Kernels.AvgPoolForward(s, n, xs.View, y.View);
            Close(avgRef, y.Read(), Atol, Rtol, "avg y");
        }
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, inSize, offset: 1, gap: 4);
            fx.Kernels.MaxPoolBackward(s, n, xs.View, dy.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxMax, dx.Values) : dxMax, dx.Read(), Atol, Rtol, $"max dx (accumulate {accumulate})");
            using var dx2 = fx.Batch(rng, n, inSize, offset: 2, gap: 1);
            fx.Kernels.AvgPoolBackward(s, n, dy.View, dx2.View, accumulate);
            Close(accumulate ? Plus(dxAvg, dx2.Values) : dxAvg, dx2.Read(), Atol, Rtol, $"avg dx (accumulate {accumulate})");
        }
    }

    /// <summary>A batch whose values take only five levels, so pooling windows contain ties.</summary>
    DeviceBatch Quantized(Random rng, int n, int size) => fx.Batch(new QuantizedRandom(rng), n, size, offset: 2, gap: 3);

    sealed class QuantizedRandom(Random inner) : Random
    {
        public override double NextDouble() => Math.Round(inner.NextDouble() * 4) / 4; // {0, .25, .5, .75, 1} -> x in {-1, -.5, 0, .5, 1}
    }

    [Fact]
    public void GlobalAveragePooling()
    {
        const int n = 2, c = 3, hw = 7;
        var rng = new Random(9);
        using var x = fx.Batch(rng, n, c * hw, offset: 1, gap: 2);
        using var dy = fx.Batch(rng, n, c, offset: 2, gap: 3);
        using var y = fx.Batch(rng, n, c, offset: 0, gap: 1);
        fx.Kernels.GlobalAvgPoolForward(n, c, hw, x.View, y.View);
        var yRef = new double[n * c];
        for (int i = 0; i < n * c * hw; i++) yRef[i / hw] += x.Values[i] / hw;
        Close(yRef, y.Read(), Atol, Rtol, "y");
        var dxRef = new double[n * c * hw];
        for (int i = 0; i < dxRef.Length; i++) dxRef[i] = dy.Values[i / hw] / hw;
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, c * hw, offset: 3, gap: 2);
            fx.Kernels.GlobalAvgPoolBackward(n, c, hw, dy.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
    }
}
