// Nearest resize against direct loops, up and down, including sizes where PyTorch's float source
// index differs from exact arithmetic. The forward is a copy (compared exactly); the backward sums at
// most a few dozen floats of magnitude <= 1, so float rounding stays below 1e-6: tolerance 1e-5.
using Authoring.Runtime.Cpu;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class UpsampleTests(GpuFixture fx)
{
    const double Atol = 1e-5, Rtol = 1e-5;

    // C, H, W, Ho, Wo
    static readonly UpsampleShape[] Shapes =
    [
        new(3, 3, 3, 7, 7),     // GhostNetV2's 7x7 stage: 3x3 back to 7x7, not an exact 2x
        new(2, 4, 5, 8, 10),    // exact 2x
        new(2, 7, 6, 3, 4),     // downsampling: inputs no output reads get 0
        new(1, 26, 6, 22, 74),  // float rule differs from exact arithmetic (row 11 reads 12, column 37 reads 2)
    ];

    public static TheoryData<int> Cases => new() { 0, 1, 2, 3 };

    /// <summary>PyTorch's rule, written out here: scale = (float)in / out, floorf(dst * scale), clamped.</summary>
    static int TorchSource(int dst, int inLen, int outLen) => Math.Min((int)MathF.Floor(dst * ((float)inLen / outLen)), inLen - 1);

    [Theory, MemberData(nameof(Cases))]
    public void UpsampleNearestForwardBackward(int which)
    {
        var s = Shapes[which];
        const int n = 2;
        var rng = new Random(60 + which);
        using var x = fx.Batch(rng, n, s.InSize, offset: 2, gap: 3);
        using var dy = fx.Batch(rng, n, s.OutSize, offset: 1, gap: 2);
        var yRef = new double[n * s.OutSize];
        var dxRef = new double[n * s.InSize];
        for (int b = 0; b < n; b++)
            for (int c = 0; c < s.C; c++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        int o = b * s.OutSize + (c * s.Ho + oy) * s.Wo + ox;
                        int i = b * s.InSize + (c * s.H + TorchSource(oy, s.H, s.Ho)) * s.W + TorchSource(ox, s.W, s.Wo);
                        yRef[o] = x.Values[i];
                        dxRef[i] += dy.Values[o];
                    }

        using (var y = fx.Batch(rng, n, s.OutSize, offset: 3, gap: 1))
        {
            fx.Kernels.UpsampleNearestForward(s, n, x.View, y.View);
            Close(yRef, y.Read(), 0, 0, "y");
        }
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, s.InSize, offset: 4, gap: 2);
            fx.Kernels.UpsampleNearestBackward(s, n, dy.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
    }
}
