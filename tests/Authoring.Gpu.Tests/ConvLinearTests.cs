// Convolution and linear kernels against double-precision loops. Tolerances: each output sums at
// most a few dozen float products of magnitude <= ~2, so float32 rounding stays below ~1e-5
// absolute; 2e-5 + 1e-5 relative leaves room for ILGPU's approximate exp/tanh on CUDA and nothing more.
using ILGPU;
using Authoring.Runtime.Cpu;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class ConvLinearTests(GpuFixture fx)
{
    const double Atol = 2e-5, Rtol = 1e-5;

    // Cin, H, W, Cout, Kh, Kw, StrideH, StrideW, PadH, PadW, DilH, DilW, Groups
    static readonly Conv2dShape[] Shapes =
    [
        new(3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // dense 3x3, same padding
        new(4, 6, 5, 6, 3, 2, 2, 1, 1, 0, 1, 1, 2),   // groups 2, stride 2 in H, Kh != Kw
        new(3, 7, 6, 3, 3, 3, 1, 1, 2, 2, 2, 2, 3),   // depthwise, dilation 2
        new(2, 5, 4, 4, 1, 3, 2, 2, 0, 1, 1, 2, 2),   // depth multiplier 2, 1x3, stride 2, dilation 2 in W
        new(3, 5, 5, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1),   // 2x2 stride 2 with padding (uneven coverage)
        new(4, 7, 7, 4, 1, 5, 1, 1, 0, 2, 1, 1, 4),   // depthwise 1x5, padding (0, 2): GhostNetV2's DFC attention
        new(4, 7, 7, 4, 5, 1, 1, 1, 2, 0, 1, 1, 4),   // depthwise 5x1, padding (2, 0)
    ];

    public static TheoryData<int> Cases => new() { 0, 1, 2, 3, 4, 5, 6 };

    static double[] ConvRef(in Conv2dShape s, int n, double[] x, float[] w)
    {
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups;
        var y = new double[n * s.OutSize];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        double acc = 0;
                        for (int k = 0; k < cinG; k++)
                            for (int ky = 0; ky < s.Kh; ky++)
                                for (int kx = 0; kx < s.Kw; kx++)
                                {
                                    int ci = co / coutG * cinG + k;
                                    int iy = oy * s.StrideH - s.PadH + ky * s.DilH, ix = ox * s.StrideW - s.PadW + kx * s.DilW;
                                    if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                    acc += x[b * s.InSize + (ci * s.H + iy) * s.W + ix] * w[((co * cinG + k) * s.Kh + ky) * s.Kw + kx];
                                }
                        y[b * s.OutSize + (co * s.Ho + oy) * s.Wo + ox] = acc;
                    }
        return y;
    }

    /// <summary>Scatters every (output, tap) product: the transpose of <see cref="ConvRef"/>, written independently of
    /// the kernels' gather, for both the data and the weight gradient.</summary>
    static (double[] dx, double[] dw) ConvBackRef(in Conv2dShape s, int n, double[] x, double[] dy, float[] w)
    {
        int cinG = s.Cin / s.Groups, coutG = s.Cout / s.Groups;
        var dx = new double[n * s.InSize];
        var dw = new double[s.WeightSize];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        double g = dy[b * s.OutSize + (co * s.Ho + oy) * s.Wo + ox];
                        for (int k = 0; k < cinG; k++)
                            for (int ky = 0; ky < s.Kh; ky++)
                                for (int kx = 0; kx < s.Kw; kx++)
                                {
                                    int ci = co / coutG * cinG + k;
                                    int iy = oy * s.StrideH - s.PadH + ky * s.DilH, ix = ox * s.StrideW - s.PadW + kx * s.DilW;
                                    if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                    int xi = b * s.InSize + (ci * s.H + iy) * s.W + ix, wi = ((co * cinG + k) * s.Kh + ky) * s.Kw + kx;
                                    dx[xi] += g * w[wi];
                                    dw[wi] += g * x[xi];
                                }
                    }
        return (dx, dw);
    }

    [Theory, MemberData(nameof(Cases))]
    public void Conv2dForwardBackward(int which)
    {
        var s = Shapes[which];
        const int n = 2;
        var rng = new Random(100 + which);
        using var x = fx.Batch(rng, n, s.InSize);
        using var w = fx.Array(Random(rng, s.WeightSize));
        using var scale = fx.Array(Random(rng, s.Cout, 3));
        using var shift = fx.Array(Random(rng, s.Cout, 2));
        var acc = ConvRef(s, n, x.Values, w.Host);

        // Fused epilogue with an activation that has kinks inside the range scale/shift produce.
        using (var y = fx.Batch(rng, n, s.OutSize, offset: 1, gap: 2))
        {
            fx.Kernels.Conv2dForward<Relu6>(s, n, x.View, w.View, scale.View, shift.View, y.View);
            var expected = new double[acc.Length];
            for (int i = 0; i < acc.Length; i++)
            {
                int co = i % s.OutSize / (s.Ho * s.Wo);
                expected[i] = Apply(typeof(Relu6), scale.Host[co] * acc[i] + shift.Host[co]);
            }
            Close(expected, y.Read(), Atol, Rtol, "y");
        }
        // No scale, no shift (empty views), identity.
        using (var y = fx.Batch(rng, n, s.OutSize, offset: 0, gap: 1))
        {
            fx.Kernels.Conv2dForward<Identity>(s, n, x.View, w.View, default, default, y.View);
            Close(acc, y.Read(), Atol, Rtol, "y (no epilogue)");
        }

        using var dy = fx.Batch(rng, n, s.OutSize, offset: 2, gap: 3);
        var (dxRef, dwRef) = ConvBackRef(s, n, x.Values, dy.Values, w.Host);
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, s.InSize, offset: 4, gap: 2);
            fx.Kernels.Conv2dBackwardData(s, n, dy.View, w.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
        var dw0 = Random(rng, s.WeightSize);
        using var dw = fx.Array(dw0);
        fx.Kernels.Conv2dBackwardWeights(s, n, x.View, dy.View, dw.View);
        Close(Plus(dwRef, ToDouble(dw0)), dw.Read(), Atol, Rtol, "dw (+=)");
    }

    [Theory, MemberData(nameof(Activations), MemberType = typeof(Reference))]
    public void LinearForwardEveryActivation(Type act) => Invoke(this, nameof(LinearForward), act);

    void LinearForward<TAct>() where TAct : struct, IActivation
    {
        const int n = 3, inF = 7, outF = 5;
        var rng = new Random(7);
        using var x = fx.Batch(rng, n, inF);
        using var w = fx.Array(Random(rng, outF * inF));
        // scale 4, shift 3: pre-activations span about [-8, 8], crossing every kink (0, +-3, 6).
        using var scale = fx.Array(Random(rng, outF, 4));
        using var shift = fx.Array(Random(rng, outF, 3));
        using var y = fx.Batch(rng, n, outF, offset: 1, gap: 4);
        fx.Kernels.LinearForward<TAct>(n, inF, outF, x.View, w.View, scale.View, shift.View, y.View);
        var expected = new double[n * outF];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outF; o++)
            {
                double acc = 0;
                for (int i = 0; i < inF; i++) acc += x.Values[b * inF + i] * w.Host[o * inF + i];
                expected[b * outF + o] = Apply(typeof(TAct), scale.Host[o] * acc + shift.Host[o]);
            }
        Close(expected, y.Read(), Atol, Rtol, "y");
    }

    [Fact]
    public void LinearBackward()
    {
        const int n = 3, inF = 6, outF = 4;
        var rng = new Random(8);
        using var x = fx.Batch(rng, n, inF);
        using var dy = fx.Batch(rng, n, outF, offset: 0, gap: 2);
        using var w = fx.Array(Random(rng, outF * inF));
        var dxRef = new double[n * inF];
        var dwRef = new double[outF * inF];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outF; o++)
                for (int i = 0; i < inF; i++)
                {
                    dxRef[b * inF + i] += dy.Values[b * outF + o] * w.Host[o * inF + i];
                    dwRef[o * inF + i] += dy.Values[b * outF + o] * x.Values[b * inF + i];
                }
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, inF, offset: 5, gap: 1);
            fx.Kernels.LinearBackwardData(n, inF, outF, dy.View, w.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
        var dw0 = Random(rng, outF * inF);
        using var dw = fx.Array(dw0);
        fx.Kernels.LinearBackwardWeights(n, inF, outF, x.View, dy.View, dw.View);
        Close(Plus(dwRef, ToDouble(dw0)), dw.Read(), Atol, Rtol, "dw (+=)");
    }
}
