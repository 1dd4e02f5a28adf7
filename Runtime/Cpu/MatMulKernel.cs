// Batched products of per-sample matrices, as PyTorch's matmul over (..., M, K) x (..., K, N): a sample holds
// `batch` matrices of each operand one after another (attention heads), each dense and row-major. Both operands
// may be read transposed, which is also how the backward pass is written (dA = dC B^T, dB = A^T dC and their
// transposed forms are the same kernel with other flags). Large matrices go to the packed GEMM (Gemm.cs), one
// matrix per task when there are enough of them, else each spread over the pool by the GEMM itself; small ones
// (attention over a few dozen tokens) take a direct path that keeps strips of four output rows in registers while
// op(B) streams by rows (each load feeding four multiply-adds), with no packing beyond transposed copies of an
// operand read transposed.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Batched matrix products of per-sample matrices.</summary>
public static unsafe class MatMulKernel
{
    /// <summary>Products of at least this many multiply-adds go to the packed GEMM; below, packing and blocking cost
    /// more than they save. Measured with 256 square products on both ISAs (a loaded machine, so indicative): the
    /// direct path 2-7x faster from 8^3 to 24^3, the GEMM ahead from 32^3 on (1.2-2x at 32^3 and 64^3).</summary>
    public const int GemmMinWork = 32 * 32 * 32;

    [ThreadStatic] static float[]? packY;
    [ThreadStatic] static float[]? rowX;

    /// <summary>Z (=, or += when <paramref name="accumulate"/>) op(X) op(Y) for each of the <paramref name="batch"/>
    /// matrices of each of the <paramref name="n"/> samples. op(X) is m x k (X stored k x m when
    /// <paramref name="transX"/>), op(Y) is k x <paramref name="cols"/> (Y stored cols x k when <paramref name="transY"/>),
    /// Z is m x cols; each sample holds its matrices one after another.</summary>
    public static void Multiply(int n, int batch, int m, int cols, int k, bool transX, bool transY, View x, View y, View z, bool accumulate)
    {
        KernelUtil.Check(x, n, batch * m * k, nameof(x));
        KernelUtil.Check(y, n, batch * k * cols, nameof(y));
        KernelUtil.Check(z, n, batch * m * cols, nameof(z));
        if (n == 0 || batch == 0 || m == 0 || cols == 0) return;
        fixed (float* px = x.Data, py = y.Data, pz = z.Data)
        {
            var job = new Job
            {
                Batch = batch, M = m, Cols = cols, K = k, TransX = transX, TransY = transY, Accumulate = accumulate,
                X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, Z = pz + z.Offset, ZStride = z.BatchStride,
            };
            int count = job.Count = n * batch;
            long work = (long)m * cols * k;
            if (work >= GemmMinWork)
            {
                job.Gemm = true;
                // Enough matrices to keep every thread busy: one per task; else each product uses the whole pool.
                if (count >= 2 * WorkerPool.ThreadCount) WorkerPool.For(count, ref job);
                else for (int t = 0; t < count; t++) job.RunGemm(t, parallel: !WorkerPool.InsideJob);
            }
            else
            {
                // Tasks of several matrices, so a task holds ~32K multiply-adds.
                job.PerTask = (int)Math.Max(1, 32768 / Math.Max(1, work));
                WorkerPool.For((count + job.PerTask - 1) / job.PerTask, ref job);
            }
        }
    }

    struct Job : IParallelJob
    {
        public float* X, Y, Z;
        public int Batch, M, Cols, K, XStride, YStride, ZStride, PerTask, Count;
        public bool TransX, TransY, Accumulate, Gemm;

        public void Run(int task)
        {
            if (Gemm)
            {
                RunGemm(task, parallel: false);
                return;
            }
            int end = (int)Math.Min((long)(task + 1) * PerTask, Count);
            for (int t = task * PerTask; t < end; t++)
            {
                Matrices(t, out var x, out var y, out var z);
                Small(M, Cols, K, TransX, TransY, x, y, z, Accumulate);
            }
        }

        public void RunGemm(int t, bool parallel)
        {
            Matrices(t, out var x, out var y, out var z);
            GemmCore.Run(TransX, TransY, M, Cols, K, 1f, x, TransX ? M : K, y, TransY ? K : Cols, Accumulate ? 1f : 0f, z, Cols, parallel);
        }

        void Matrices(int t, out float* x, out float* y, out float* z)
        {
            int b = t / Batch, h = t - b * Batch;
            x = X + (long)b * XStride + (long)h * M * K;
            y = Y + (long)b * YStride + (long)h * K * Cols;
            z = Z + (long)b * ZStride + (long)h * M * Cols;
        }
    }

    /// <summary>One small product on the calling thread: four rows of Z at a time are built from strips of accumulators
    /// held in registers while op(Y)'s rows stream by (op(X) / op(Y) copied transposed first when read transposed).</summary>
    static void Small(int m, int cols, int k, bool transX, bool transY, float* x, float* y, float* z, bool accumulate)
    {
        float* b = y;
        int ldb = cols;
        if (transY)
        {
            // op(Y)[p, j] = Y[j, p]: a k x cols copy makes its rows contiguous.
            var buf = Scratch.Get(ref packY, k * cols);
            fixed (float* pb = buf)
            {
                for (int j = 0; j < cols; j++)
                    for (int p = 0; p < k; p++) pb[(long)p * cols + j] = y[(long)j * k + p];
                SmallRows(m, cols, k, transX, x, pb, ldb, z, accumulate);
            }
            return;
        }
        SmallRows(m, cols, k, transX, x, b, ldb, z, accumulate);
    }

    static void SmallRows(int m, int cols, int k, bool transX, float* x, float* b, int ldb, float* z, bool accumulate)
    {
        // op(X) row-major: X itself, or its transpose copied once (m x k).
        var buf = transX ? Scratch.Get(ref rowX, m * k) : null;
        fixed (float* pr = buf)
        {
            float* a = x;
            if (transX)
            {
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) pr[(long)i * k + p] = x[(long)p * m + i];
                a = pr;
            }
            int i0 = 0;
            // Four rows at a time: each load of op(Y) feeds four multiply-adds.
            for (; i0 <= m - 4; i0 += 4) Rows4(cols, k, a + (long)i0 * k, b, ldb, z + (long)i0 * cols, accumulate);
            for (; i0 < m; i0++) Row(cols, k, a + (long)i0 * k, b, ldb, z + (long)i0 * cols, accumulate);
        }
    }

    /// <summary>Rows r..r+3 of Z from rows of op(X) at <paramref name="a"/> (k apart) and op(Y) rows ldb apart.</summary>
    static void Rows4(int cols, int k, float* a, float* b, int ldb, float* z, bool accumulate)
    {
        float* a0 = a, a1 = a + k, a2 = a + 2 * k, a3 = a + 3 * k;
        float* z0 = z, z1 = z + cols, z2 = z + 2 * cols, z3 = z + 3 * cols;
        int j = 0;
        if (Simd.Use512)
            for (; j <= cols - 16; j += 16)
            {
                var c0 = accumulate ? Vector512.Load(z0 + j) : Vector512<float>.Zero;
                var c1 = accumulate ? Vector512.Load(z1 + j) : Vector512<float>.Zero;
                var c2 = accumulate ? Vector512.Load(z2 + j) : Vector512<float>.Zero;
                var c3 = accumulate ? Vector512.Load(z3 + j) : Vector512<float>.Zero;
                for (int p = 0; p < k; p++)
                {
                    var bv = Vector512.Load(b + (long)p * ldb + j);
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[p]), bv, c0);
                    c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[p]), bv, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[p]), bv, c2);
                    c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[p]), bv, c3);
                }
                c0.Store(z0 + j); c1.Store(z1 + j); c2.Store(z2 + j); c3.Store(z3 + j);
            }
        for (; j <= cols - 8; j += 8)
        {
            var c0 = accumulate ? Vector256.Load(z0 + j) : Vector256<float>.Zero;
            var c1 = accumulate ? Vector256.Load(z1 + j) : Vector256<float>.Zero;
            var c2 = accumulate ? Vector256.Load(z2 + j) : Vector256<float>.Zero;
            var c3 = accumulate ? Vector256.Load(z3 + j) : Vector256<float>.Zero;
            for (int p = 0; p < k; p++)
            {
                var bv = Vector256.Load(b + (long)p * ldb + j);
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[p]), bv, c0);
                c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a1[p]), bv, c1);
                c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[p]), bv, c2);
                c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[p]), bv, c3);
            }
            c0.Store(z0 + j); c1.Store(z1 + j); c2.Store(z2 + j); c3.Store(z3 + j);
        }
        if (j < cols)
            for (int r = 0; r < 4; r++) Tail(j, cols, k, a + (long)r * k, b, ldb, z + (long)r * cols, accumulate);
    }

    /// <summary>One row of Z.</summary>
    static void Row(int cols, int k, float* ai, float* b, int ldb, float* zi, bool accumulate)
    {
        int j = 0;
        if (Simd.Use512)
            for (; j <= cols - 16; j += 16)
            {
                var c0 = accumulate ? Vector512.Load(zi + j) : Vector512<float>.Zero;
                for (int p = 0; p < k; p++) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(ai[p]), Vector512.Load(b + (long)p * ldb + j), c0);
                c0.Store(zi + j);
            }
        for (; j <= cols - 8; j += 8)
        {
            var c0 = accumulate ? Vector256.Load(zi + j) : Vector256<float>.Zero;
            for (int p = 0; p < k; p++) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(ai[p]), Vector256.Load(b + (long)p * ldb + j), c0);
            c0.Store(zi + j);
        }
        Tail(j, cols, k, ai, b, ldb, zi, accumulate);
    }

    /// <summary>Columns [j, cols) of one row, scalar.</summary>
    static void Tail(int j, int cols, int k, float* ai, float* b, int ldb, float* zi, bool accumulate)
    {
        for (; j < cols; j++)
        {
            float c = accumulate ? zi[j] : 0f;
            for (int p = 0; p < k; p++) c = MathF.FusedMultiplyAdd(ai[p], b[(long)p * ldb + j], c);
            zi[j] = c;
        }
    }
}
