// Pooling. Backward passes gather: each input element sums what the windows covering it send,
// so there are no write races and no atomics. Max pooling recomputes each window's first maximum
// from x (as PyTorch picks it) instead of storing indices.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Max pooling (padding acts as negative infinity).</summary>
    public void MaxPoolForward(in Pool2dShape s, int n, GView x, GView y)
    {
        int total = n * s.C * s.Ho * s.Wo;
        if (total == 0) return;
        (_maxForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Pool2dShape, GView, GView>(MaxPoolForwardKernel))(total, s, x, y);
    }

    /// <summary>Routes dy to the first maximum of each window, recomputed from x; dx = or += when <paramref name="accumulate"/>.</summary>
    public void MaxPoolBackward(in Pool2dShape s, int n, GView x, GView dy, GView dx, bool accumulate)
    {
        int total = n * s.C * s.H * s.W;
        if (total == 0) return;
        (_maxBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Pool2dShape, GView, GView, GView, int>(MaxPoolBackwardKernel))(
            total, s, x, dy, dx, accumulate ? 1 : 0);
    }

    /// <summary>Average pooling, zero padding counted in the divisor (PyTorch's count_include_pad = true).</summary>
    public void AvgPoolForward(in Pool2dShape s, int n, GView x, GView y)
    {
        int total = n * s.C * s.Ho * s.Wo;
        if (total == 0) return;
        (_avgForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Pool2dShape, GView, GView>(AvgPoolForwardKernel))(total, s, x, y);
    }

    /// <summary>Backward of <see cref="AvgPoolForward"/>; dx = or += when <paramref name="accumulate"/>.</summary>
    public void AvgPoolBackward(in Pool2dShape s, int n, GView dy, GView dx, bool accumulate)
    {
        int total = n * s.C * s.H * s.W;
        if (total == 0) return;
        (_avgBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, Pool2dShape, GView, GView, int>(AvgPoolBackwardKernel))(
            total, s, dy, dx, accumulate ? 1 : 0);
    }

    /// <summary>y[b, ch] = mean over hw of x[b, ch, :].</summary>
    public void GlobalAvgPoolForward(int n, int c, int hw, GView x, GView y)
    {
        if (n * c * hw == 0) return;
        (_globalForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, GView>(GlobalAvgForwardKernel))(
            n * c, new ChannelDims(n, c, hw), x, y);
    }

    /// <summary>dx[b, ch, :] (= or += when <paramref name="accumulate"/>) dy[b, ch] / hw.</summary>
    public void GlobalAvgPoolBackward(int n, int c, int hw, GView dy, GView dx, bool accumulate)
    {
        if (n * c * hw == 0) return;
        (_globalBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, GView, int>(GlobalAvgBackwardKernel))(
            n * c * hw, new ChannelDims(n, c, hw), dy, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, Pool2dShape, GView, GView>? _maxForward, _avgForward;
    Action<Index1D, Pool2dShape, GView, GView, GView, int>? _maxBackward;
    Action<Index1D, Pool2dShape, GView, GView, int>? _avgBackward;
    Action<Index1D, ChannelDims, GView, GView>? _globalForward;
    Action<Index1D, ChannelDims, GView, GView, int>? _globalBackward;

    /// <summary>Position (iy * W + ix) of the first maximum of window (oy, ox) in plane <paramref name="plane"/>
    /// of x; -1 when the window holds only padding. Row-major scan, strict greater-than: PyTorch's choice.</summary>
    static int FirstMax(in Pool2dShape s, GView x, int plane, int oy, int ox, out float max)
    {
        int best = -1;
        max = float.NegativeInfinity;
        for (int ky = 0; ky < s.Kh; ky++)
        {
            int iy = oy * s.StrideH - s.PadH + ky;
            if (iy < 0 || iy >= s.H) continue;
            for (int kx = 0; kx < s.Kw; kx++)
            {
                int ix = ox * s.StrideW - s.PadW + kx;
                if (ix < 0 || ix >= s.W) continue;
                float v = x.Data[plane + iy * s.W + ix];
                if (best < 0 || v > max)
                {
                    max = v;
                    best = iy * s.W + ix;
                }
            }
        }
        return best;
    }

    /// <summary>Output rows (or columns) whose windows cover input row <paramref name="i"/>: [lo, hi].</summary>
    static void Covering(int i, int pad, int k, int stride, int outLen, out int lo, out int hi)
    {
        int first = i + pad - k + 1;
        lo = first <= 0 ? 0 : (first + stride - 1) / stride;
        hi = (i + pad) / stride;
        if (hi > outLen - 1) hi = outLen - 1;
    }

    /// <summary>One thread per output element (b, ch, oy, ox).</summary>
    internal static void MaxPoolForwardKernel(Index1D index, Pool2dShape s, GView x, GView y)
    {
        int ho = s.Ho, wo = s.Wo, plane = ho * wo, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int oy = p / wo, ox = p - oy * wo;
        FirstMax(s, x, x.At(b) + ch * s.H * s.W, oy, ox, out float max);
        y.Data[y.At(b) + r] = max;
    }

    /// <summary>One thread per input element: sums dy over the windows whose first maximum it is.</summary>
    internal static void MaxPoolBackwardKernel(Index1D index, Pool2dShape s, GView x, GView dy, GView dx, int accumulate)
    {
        int ho = s.Ho, wo = s.Wo, plane = s.H * s.W, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int iy = p / s.W, ix = p - iy * s.W;
        Covering(iy, s.PadH, s.Kh, s.StrideH, ho, out int oy0, out int oy1);
        Covering(ix, s.PadW, s.Kw, s.StrideW, wo, out int ox0, out int ox1);
        int xPlane = x.At(b) + ch * plane, dyPlane = dy.At(b) + ch * ho * wo;
        float acc = 0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (FirstMax(s, x, xPlane, oy, ox, out _) == p) acc += dy.Data[dyPlane + oy * wo + ox];
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + acc : acc;
    }

    /// <summary>One thread per output element; the divisor is Kh Kw (padding included).</summary>
    internal static void AvgPoolForwardKernel(Index1D index, Pool2dShape s, GView x, GView y)
    {
        int ho = s.Ho, wo = s.Wo, plane = ho * wo, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int oy = p / wo, ox = p - oy * wo;
        int xPlane = x.At(b) + ch * s.H * s.W;
        float sum = 0f;
        for (int ky = 0; ky < s.Kh; ky++)
        {
            int iy = oy * s.StrideH - s.PadH + ky;
            if (iy < 0 || iy >= s.H) continue;
            for (int kx = 0; kx < s.Kw; kx++)
            {
                int ix = ox * s.StrideW - s.PadW + kx;
                if (ix < 0 || ix >= s.W) continue;
                sum += x.Data[xPlane + iy * s.W + ix];
            }
        }
        y.Data[y.At(b) + r] = sum / (s.Kh * s.Kw);
    }

    /// <summary>One thread per input element: sums dy / (Kh Kw) over the windows covering it.</summary>
    internal static void AvgPoolBackwardKernel(Index1D index, Pool2dShape s, GView dy, GView dx, int accumulate)
    {
        int ho = s.Ho, wo = s.Wo, plane = s.H * s.W, per = s.C * plane;
        int i = index;
        int b = i / per, r = i - b * per, ch = r / plane, p = r - ch * plane;
        int iy = p / s.W, ix = p - iy * s.W;
        Covering(iy, s.PadH, s.Kh, s.StrideH, ho, out int oy0, out int oy1);
        Covering(ix, s.PadW, s.Kw, s.StrideW, wo, out int ox0, out int ox1);
        int dyPlane = dy.At(b) + ch * ho * wo;
        float sum = 0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                sum += dy.Data[dyPlane + oy * wo + ox];
        float v = sum / (s.Kh * s.Kw);
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }

    /// <summary>One thread per (b, ch).</summary>
    internal static void GlobalAvgForwardKernel(Index1D index, ChannelDims d, GView x, GView y)
    {
        int i = index;
        int b = i / d.C, ch = i - b * d.C;
        int at = x.At(b) + ch * d.HW;
        float sum = 0f;
        for (int p = 0; p < d.HW; p++) sum += x.Data[at + p];
        y.Data[y.At(b) + ch] = sum / d.HW;
    }

    /// <summary>One thread per input element.</summary>
    internal static void GlobalAvgBackwardKernel(Index1D index, ChannelDims d, GView dy, GView dx, int accumulate)
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float v = dy.Data[dy.At(b) + ch] / d.HW;
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }
}
