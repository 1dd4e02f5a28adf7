// Softmax over the last axis, mirroring Runtime's SoftmaxKernel: one thread per row, the maximum subtracted
// before exponentiating; the backward pass reads the stored output only (dx = y (dy - sum(dy y))).
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>y = softmax(x) per row of <paramref name="cols"/> floats (<paramref name="rows"/> rows per sample).</summary>
    public void SoftmaxForward(int n, int rows, int cols, GView x, GView y)
    {
        if (n * rows * cols == 0) return;
        (_softmaxForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RowDims, GView, GView>(SoftmaxForwardKernel))(
            n * rows, new RowDims(rows, cols), x, y);
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = y (dy - sum(dy y)) per row.</summary>
    public void SoftmaxBackward(int n, int rows, int cols, GView y, GView dy, GView dx, bool accumulate)
    {
        if (n * rows * cols == 0) return;
        (_softmaxBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, RowDims, GView, GView, GView, int>(SoftmaxBackwardKernel))(
            n * rows, new RowDims(rows, cols), y, dy, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, RowDims, GView, GView>? _softmaxForward;
    Action<Index1D, RowDims, GView, GView, GView, int>? _softmaxBackward;

    /// <summary>One thread per row (b, i).</summary>
    internal static void SoftmaxForwardKernel(Index1D index, RowDims d, GView x, GView y)
    {
        int r = index;
        int b = r / d.Rows, i = r - b * d.Rows;
        int xo = x.At(b) + i * d.Cols, yo = y.At(b) + i * d.Cols;
        float max = x.Data[xo];
        for (int j = 1; j < d.Cols; j++) max = MathF.Max(max, x.Data[xo + j]);
        float sum = 0f;
        for (int j = 0; j < d.Cols; j++)
        {
            float e = MathF.Exp(x.Data[xo + j] - max);
            y.Data[yo + j] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int j = 0; j < d.Cols; j++) y.Data[yo + j] *= inv;
    }

    /// <summary>One thread per row (b, i).</summary>
    internal static void SoftmaxBackwardKernel(Index1D index, RowDims d, GView y, GView dy, GView dx, int accumulate)
    {
        int r = index;
        int b = r / d.Rows, i = r - b * d.Rows;
        int yo = y.At(b) + i * d.Cols, go = dy.At(b) + i * d.Cols, xo = dx.At(b) + i * d.Cols;
        float dot = 0f;
        for (int j = 0; j < d.Cols; j++) dot += y.Data[yo + j] * dy.Data[go + j];
        for (int j = 0; j < d.Cols; j++)
        {
            float v = y.Data[yo + j] * (dy.Data[go + j] - dot);
            dx.Data[xo + j] = accumulate != 0 ? dx.Data[xo + j] + v : v;
        }
    }
}
