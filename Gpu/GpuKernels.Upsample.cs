// Nearest-neighbour resize. Source indices come from UpsampleShape.Source, the same float arithmetic
// as the CPU kernel and PyTorch. The backward gathers instead of scattering: each input element sums
// dy over the run of outputs that read it (UpsampleShape.Readers), so there are no atomics and the
// summation order is fixed.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>y[b, c, i, j] = x[b, c, Source(i), Source(j)].</summary>
    public void UpsampleNearestForward(in UpsampleShape s, int n, GView x, GView y)
    {
        int total = n * s.OutSize;
        if (total == 0) return;
        (_upsampleForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, UpsampleShape, GView, GView>(UpsampleNearestForwardKernel))(
            total, s, x, y);
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) the sum of dy over the outputs that read each input.</summary>
    public void UpsampleNearestBackward(in UpsampleShape s, int n, GView dy, GView dx, bool accumulate)
    {
        int total = n * s.InSize;
        if (total == 0) return;
        (_upsampleBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, UpsampleShape, GView, GView, int>(UpsampleNearestBackwardKernel))(
            total, s, dy, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, UpsampleShape, GView, GView>? _upsampleForward;
    Action<Index1D, UpsampleShape, GView, GView, int>? _upsampleBackward;

    /// <summary>One thread per output element (b, ch, oy, ox).</summary>
    internal static void UpsampleNearestForwardKernel(Index1D index, UpsampleShape s, GView x, GView y)
    {
        int plane = s.Ho * s.Wo, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int oy = p / s.Wo, ox = p - oy * s.Wo;
        int sy = UpsampleShape.Source(oy, s.H, s.Ho), sx = UpsampleShape.Source(ox, s.W, s.Wo);
        y.Data[y.At(b) + r] = x.Data[x.At(b) + (ch * s.H + sy) * s.W + sx];
    }

    /// <summary>One thread per input element (b, ch, iy, ix), summing dy over the outputs that read it.</summary>
    internal static void UpsampleNearestBackwardKernel(Index1D index, UpsampleShape s, GView dy, GView dx, int accumulate)
    {
        int plane = s.H * s.W, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int iy = p / s.W, ix = p - iy * s.W;
        UpsampleShape.Readers(iy, s.H, s.Ho, out int oy0, out int oy1);
        UpsampleShape.Readers(ix, s.W, s.Wo, out int ox0, out int ox1);
        int dyPlane = dy.At(b) + ch * s.Ho * s.Wo;
        float acc = 0f;
        for (int oy = oy0; oy < oy1; oy++)
            for (int ox = ox0; ox < ox1; ox++)
                acc += dy.Data[dyPlane + oy * s.Wo + ox];
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + acc : acc;
    }
}
