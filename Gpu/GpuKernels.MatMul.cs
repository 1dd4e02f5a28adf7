// Batched products of per-sample matrices, mirroring Runtime's MatMulKernel: one thread per output element,
// a dot product over k in order (no atomics, fixed summation order). Either operand may be read transposed.
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Z (=, or += when <paramref name="accumulate"/>) op(X) op(Y) for the <paramref name="batch"/> matrices of
    /// each sample: op(X) m x k (X stored k x m when <paramref name="transX"/>), op(Y) k x <paramref name="cols"/>
    /// (Y stored cols x k when <paramref name="transY"/>), Z m x cols.</summary>
    public void MatMul(int n, int batch, int m, int cols, int k, bool transX, bool transY, GView x, GView y, GView z, bool accumulate)
    {
        int total = n * batch * m * cols;
        if (total == 0) return;
        (_matMul ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, MatMulDims, GView, GView, GView, int>(MatMulKernel))(
            total, new MatMulDims(batch, m, cols, k, transX ? 1 : 0, transY ? 1 : 0), x, y, z, accumulate ? 1 : 0);
    }

    Action<Index1D, MatMulDims, GView, GView, GView, int>? _matMul;

    /// <summary>Sizes and transposition flags of a batched product.</summary>
    internal readonly struct MatMulDims(int batch, int m, int cols, int k, int transX, int transY)
    {
        public readonly int Batch = batch;
        public readonly int M = m;
        public readonly int Cols = cols;
        public readonly int K = k;
        public readonly int TransX = transX;
        public readonly int TransY = transY;
    }

    /// <summary>One thread per output element (b, h, i, j).</summary>
    internal static void MatMulKernel(Index1D index, MatMulDims d, GView x, GView y, GView z, int accumulate)
    {
        int t = index, plane = d.M * d.Cols, per = d.Batch * plane;
        int b = t / per, r = t - b * per, h = r / plane, q = r - h * plane, i = q / d.Cols, j = q - i * d.Cols;
        int xo = x.At(b) + h * d.M * d.K, yo = y.At(b) + h * d.K * d.Cols;
        float acc = 0f;
        for (int p = 0; p < d.K; p++)
        {
            float a = x.Data[xo + (d.TransX != 0 ? p * d.M + i : i * d.K + p)];
            float c = y.Data[yo + (d.TransY != 0 ? j * d.K + p : p * d.Cols + j)];
            acc += a * c;
        }
        int at = z.At(b) + r;
        z.Data[at] = accumulate != 0 ? z.Data[at] + acc : acc;
    }
}
