// Kernels that move or reduce along one per-sample axis, mirroring Runtime's TransposeKernel, ReduceKernel and
// AxisKernel: transpose of two axes, sum/mean over an axis and its broadcast back, and the run copies of Concat
// and Slice on inner axes. One thread per element written; reductions sum in a fixed order.
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>y (=, or += when <paramref name="accumulate"/>) x with axes a and b of [outer, a, mid, b, inner] swapped.</summary>
    public void Transpose(int n, int outer, int a, int mid, int b, int inner, GView x, GView y, bool accumulate)
    {
        int total = n * outer * a * mid * b * inner;
        if (total == 0) return;
        (_transpose ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SwapDims, GView, GView, int>(TransposeKernel))(
            total, new SwapDims(outer, a, mid, b, inner), x, y, accumulate ? 1 : 0);
    }

    /// <summary>y[o, i] = <paramref name="scale"/> * sum over l of x[o, l, i] for [outer, len, inner] samples.</summary>
    public void ReduceForward(int n, int outer, int len, int inner, float scale, GView x, GView y)
    {
        int total = n * outer * inner;
        if (total == 0) return;
        (_reduceForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SwapDims, float, GView, GView>(ReduceForwardKernel))(
            total, new SwapDims(outer, len, 1, 1, inner), scale, x, y);
    }

    /// <summary>dx[o, l, i] (=, or += when <paramref name="accumulate"/>) <paramref name="scale"/> * dy[o, i].</summary>
    public void ReduceBackward(int n, int outer, int len, int inner, float scale, GView dy, GView dx, bool accumulate)
    {
        int total = n * outer * len * inner;
        if (total == 0) return;
        (_reduceBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SwapDims, float, GView, GView, int>(ReduceBackwardKernel))(
            total, new SwapDims(outer, len, 1, 1, inner), scale, dy, dx, accumulate ? 1 : 0);
    }

    /// <summary>dst[o * dstRow + dstOff + j] (=, or += when <paramref name="accumulate"/>) src[o * srcRow + srcOff + j]
    /// for o &lt; <paramref name="outer"/>, j &lt; <paramref name="len"/>.</summary>
    public void AxisCopy(int n, int outer, int len, GView src, int srcRow, int srcOff, GView dst, int dstRow, int dstOff, bool accumulate)
    {
        int total = n * outer * len;
        if (total == 0) return;
        (_axisCopy ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RunDims, GView, GView, int>(AxisCopyKernel))(
            total, new RunDims(outer, len, srcRow, srcOff, dstRow, dstOff), src, dst, accumulate ? 1 : 0);
    }

    /// <summary>Gradient of a slice of <paramref name="len"/> at <paramref name="start"/> in rows of <paramref name="full"/>:
    /// the slice (=, or += when <paramref name="accumulate"/>) dy's row; without accumulate the rest is zeroed.</summary>
    public void SliceBackward(int n, int outer, int full, int start, int len, GView dy, GView dx, bool accumulate)
    {
        int total = n * outer * full;
        if (total == 0) return;
        (_sliceBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RunDims, GView, GView, int>(SliceBackwardKernel))(
            total, new RunDims(outer, len, len, 0, full, start), dy, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, SwapDims, GView, GView, int>? _transpose;
    Action<Index1D, SwapDims, float, GView, GView>? _reduceForward;
    Action<Index1D, SwapDims, float, GView, GView, int>? _reduceBackward;
    Action<Index1D, RunDims, GView, GView, int>? _axisCopy;
    Action<Index1D, RunDims, GView, GView, int>? _sliceBackward;

    /// <summary>A sample seen as [outer, a, mid, b, inner] (reductions: [outer, a = len, 1, 1, inner]).</summary>
    internal readonly struct SwapDims(int outer, int a, int mid, int b, int inner)
    {
        public readonly int Outer = outer;
        public readonly int A = a;
        public readonly int Mid = mid;
        public readonly int B = b;
        public readonly int Inner = inner;
    }

    /// <summary>Runs of <see cref="Len"/> floats in <see cref="Outer"/> rows of a source and a destination layout.</summary>
    internal readonly struct RunDims(int outer, int len, int srcRow, int srcOff, int dstRow, int dstOff)
    {
        public readonly int Outer = outer;
        public readonly int Len = len;
        public readonly int SrcRow = srcRow;
        public readonly int SrcOff = srcOff;
        public readonly int DstRow = dstRow;
        public readonly int DstOff = dstOff;
    }

    /// <summary>One thread per output element (s, o, jb, m, ja, e).</summary>
    internal static void TransposeKernel(Index1D index, SwapDims d, GView x, GView y, int accumulate)
    {
        int t = index, per = d.Outer * d.A * d.Mid * d.B * d.Inner;
        int s = t / per, r = t - s * per;
        int e = r % d.Inner, q = r / d.Inner;
        int ja = q % d.A; q /= d.A;
        int m = q % d.Mid; q /= d.Mid;
        int jb = q % d.B, o = q / d.B;
        float v = x.Data[x.At(s) + (((o * d.A + ja) * d.Mid + m) * d.B + jb) * d.Inner + e];
        int at = y.At(s) + r;
        y.Data[at] = accumulate != 0 ? y.Data[at] + v : v;
    }

    /// <summary>One thread per output element (s, o, i), summing l in order.</summary>
    internal static void ReduceForwardKernel(Index1D index, SwapDims d, float scale, GView x, GView y)
    {
        int t = index, per = d.Outer * d.Inner;
        int s = t / per, r = t - s * per, o = r / d.Inner, i = r - o * d.Inner;
        int xo = x.At(s) + o * d.A * d.Inner + i;
        float sum = 0f;
        for (int l = 0; l < d.A; l++) sum += x.Data[xo + l * d.Inner];
        y.Data[y.At(s) + r] = sum * scale;
    }

    /// <summary>One thread per input element (s, o, l, i).</summary>
    internal static void ReduceBackwardKernel(Index1D index, SwapDims d, float scale, GView dy, GView dx, int accumulate)
    {
        int t = index, per = d.Outer * d.A * d.Inner;
        int s = t / per, r = t - s * per, i = r % d.Inner, o = r / (d.A * d.Inner);
        float v = scale * dy.Data[dy.At(s) + o * d.Inner + i];
        int at = dx.At(s) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }

    /// <summary>One thread per copied element (s, o, j).</summary>
    internal static void AxisCopyKernel(Index1D index, RunDims d, GView src, GView dst, int accumulate)
    {
        int t = index, per = d.Outer * d.Len;
        int s = t / per, r = t - s * per, o = r / d.Len, j = r - o * d.Len;
        float v = src.Data[src.At(s) + o * d.SrcRow + d.SrcOff + j];
        int at = dst.At(s) + o * d.DstRow + d.DstOff + j;
        dst.Data[at] = accumulate != 0 ? dst.Data[at] + v : v;
    }

    /// <summary>One thread per element (s, o, c) of dx's rows of DstRow (= full) floats; the slice is [DstOff, DstOff + Len).</summary>
    internal static void SliceBackwardKernel(Index1D index, RunDims d, GView dy, GView dx, int accumulate)
    {
        int t = index, per = d.Outer * d.DstRow;
        int s = t / per, r = t - s * per, o = r / d.DstRow, c = r - o * d.DstRow;
        int at = dx.At(s) + r;
        bool inside = c >= d.DstOff && c < d.DstOff + d.Len;
        float v = inside ? dy.Data[dy.At(s) + o * d.Len + c - d.DstOff] : 0f;
        if (accumulate != 0) { if (inside) dx.Data[at] += v; }
        else dx.Data[at] = v;
    }
}
