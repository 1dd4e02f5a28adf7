// Softmax over the last axis (PyTorch's F.softmax(x, dim=-1)): each row of `cols` floats becomes
// exp(x - max) / sum exp(x - max), the maximum subtracted so no exponential overflows. A sample holds `rows`
// rows one after another (every leading axis: heads, tokens). The backward pass reads the stored output only:
// dx = y (dy - sum(dy y)), so the input need not be kept.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Softmax over the last axis, forward and backward.</summary>
public static unsafe class SoftmaxKernel
{
    /// <summary>y = softmax(x) per row of <paramref name="cols"/> floats (<paramref name="rows"/> rows per sample).</summary>
    public static void Forward(int n, int rows, int cols, View x, View y)
    {
        KernelUtil.Check(x, n, rows * cols, nameof(x));
        KernelUtil.Check(y, n, rows * cols, nameof(y));
        if (n == 0 || rows == 0 || cols == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new Job
            {
                Rows = rows, Cols = cols, Total = n * rows, Chunk = LayerNormKernel.RowChunk(cols, 3),
                A = px + x.Offset, AStride = x.BatchStride, Out = py + y.Offset, OutStride = y.BatchStride,
            };
            WorkerPool.For((job.Total + job.Chunk - 1) / job.Chunk, ref job);
        }
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = y (dy - sum(dy y)) per row, from the forward's output y.</summary>
    public static void Backward(int n, int rows, int cols, View y, View dy, View dx, bool accumulate)
    {
        KernelUtil.Check(y, n, rows * cols, nameof(y));
        KernelUtil.Check(dy, n, rows * cols, nameof(dy));
        KernelUtil.Check(dx, n, rows * cols, nameof(dx));
        if (n == 0 || rows == 0 || cols == 0) return;
        fixed (float* py = y.Data, pdy = dy.Data, pdx = dx.Data)
        {
            var job = new Job
            {
                Backward = true, Accumulate = accumulate, Rows = rows, Cols = cols, Total = n * rows, Chunk = LayerNormKernel.RowChunk(cols, 3),
                A = py + y.Offset, AStride = y.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, Out = pdx + dx.Offset, OutStride = dx.BatchStride,
            };
            WorkerPool.For((job.Total + job.Chunk - 1) / job.Chunk, ref job);
        }
    }

    struct Job : IParallelJob
    {
        /// <summary>Forward: A = x, Out = y. Backward: A = y, Out = dx.</summary>
        public float* A, Dy, Out;
        public int Rows, Cols, Total, Chunk, AStride, DyStride, OutStride;
        public bool Backward, Accumulate;

        public void Run(int task)
        {
            int end = Math.Min(Total, (task + 1) * Chunk);
            for (int r = task * Chunk; r < end; r++)
            {
                int b = r / Rows, i = r - b * Rows;
                float* a = A + (long)b * AStride + (long)i * Cols, o = Out + (long)b * OutStride + (long)i * Cols;
                if (Backward) BackRow(a, Dy + (long)b * DyStride + (long)i * Cols, o, Cols, Accumulate);
                else ForwardRow(a, o, Cols);
            }
        }
    }

    static void ForwardRow(float* x, float* y, int len)
    {
        // Maximum.
        int j = 0;
        float max = float.NegativeInfinity;
        if (Simd.Use512 && len >= 16)
        {
            var m = Vector512.Create(float.NegativeInfinity);
            for (; j <= len - 16; j += 16) m = Vector512.Max(m, Vector512.Load(x + j));
            max = Math.Max(max, HMax(m.GetLower(), m.GetUpper()));
        }
        if (len - j >= 8)
        {
            var m = Vector256.Create(float.NegativeInfinity);
            for (; j <= len - 8; j += 8) m = Vector256.Max(m, Vector256.Load(x + j));
            max = Math.Max(max, HMax(m, m));
        }
        for (; j < len; j++) max = Math.Max(max, x[j]);

        // exp(x - max) into y, and its sum (float lanes, combined in double).
        double sum = 0;
        j = 0;
        if (Simd.Use512)
        {
            var m = Vector512.Create(max); var acc = Vector512<float>.Zero;
            for (; j <= len - 16; j += 16) { var e = Vector512.Exp(Vector512.Load(x + j) - m); e.Store(y + j); acc += e; }
            sum += Vector512.Sum(acc);
        }
        {
            var m = Vector256.Create(max); var acc = Vector256<float>.Zero;
            for (; j <= len - 8; j += 8) { var e = Vector256.Exp(Vector256.Load(x + j) - m); e.Store(y + j); acc += e; }
            sum += Vector256.Sum(acc);
        }
        for (; j < len; j++) { float e = MathF.Exp(x[j] - max); y[j] = e; sum += e; }

        float inv = (float)(1.0 / sum);
        var ys = new Span<float>(y, len);
        System.Numerics.Tensors.TensorPrimitives.Multiply(ys, inv, ys);
    }

    static float HMax(Vector256<float> a, Vector256<float> b)
    {
        var m = Vector256.Max(a, b);
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        float r = h.GetElement(0);
        for (int k = 1; k < 4; k++) r = Math.Max(r, h.GetElement(k));
        return r;
    }

    static void BackRow(float* y, float* dy, float* dx, int len, bool accumulate)
    {
        int j = 0;
        double dot = 0;
        if (Simd.Use512)
        {
            var acc = Vector512<float>.Zero;
            for (; j <= len - 16; j += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(y + j), Vector512.Load(dy + j), acc);
            dot += Vector512.Sum(acc);
        }
        {
            var acc = Vector256<float>.Zero;
            for (; j <= len - 8; j += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(y + j), Vector256.Load(dy + j), acc);
            dot += Vector256.Sum(acc);
        }
        for (; j < len; j++) dot += y[j] * dy[j];

        float d = (float)dot;
        j = 0;
        if (Simd.Use512)
        {
            var vd = Vector512.Create(d);
            for (; j <= len - 16; j += 16)
            {
                var v = Vector512.Load(y + j) * (Vector512.Load(dy + j) - vd);
                if (accumulate) v += Vector512.Load(dx + j);
                v.Store(dx + j);
            }
        }
        {
            var vd = Vector256.Create(d);
            for (; j <= len - 8; j += 8)
            {
                var v = Vector256.Load(y + j) * (Vector256.Load(dy + j) - vd);
                if (accumulate) v += Vector256.Load(dx + j);
                v.Store(dx + j);
            }
        }
        for (; j < len; j++)
        {
            float v = y[j] * (dy[j] - d);
            dx[j] = accumulate ? dx[j] + v : v;
        }
    }
}
