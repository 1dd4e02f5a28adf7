// Per-channel reductions and batch copies (concat parts, residual adds into slices).
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Per-channel reductions and copies.</summary>
public static unsafe class ChannelKernel
{
    /// <summary>db[c] += sum over batch and positions of dy[:, c, :].</summary>
    public static void BiasGrad(int n, int c, int hw, View dy, float[] db, int dbOff)
    {
        KernelUtil.Check(dy, n, c * hw, nameof(dy));
        KernelUtil.Check(db, dbOff, c, nameof(db));
        if (n == 0 || c == 0) return;
        fixed (float* pdy = dy.Data, pdb = db)
        {
            if (hw == 1)
            {
                // Rows of features (a linear layer over tokens): one element per row and channel, so the per-row sums of
                // the general path would be calls over single floats, strided by the row. Blocks of adjacent channels
                // read each row contiguously instead, with the same double sums in the same row order (bit-identical).
                var rows = new BiasGradRowsJob { N = n, C = c, Dy = pdy + dy.Offset, Stride = dy.BatchStride, Db = pdb + dbOff };
                WorkerPool.For((c + BiasGradRowsJob.Block - 1) / BiasGradRowsJob.Block, ref rows, (long)n * c * WorkerPool.FlopsPerElement);
                return;
            }
            var job = new BiasGradJob { N = n, Hw = hw, Dy = pdy + dy.Offset, Stride = dy.BatchStride, Db = pdb + dbOff };
            WorkerPool.For(c, ref job, (long)n * c * hw * WorkerPool.FlopsPerElement);
        }
    }

    struct BiasGradRowsJob : IParallelJob
    {
        public const int Block = 16;
        public float* Dy, Db;
        public int N, C, Stride;

        public void Run(int block)
        {
            int c0 = block * Block, len = Math.Min(Block, C - c0);
            if (len == Block && Vector256.IsHardwareAccelerated)
            {
                // The same double sums in the same row order, one lane per channel: bit-identical to the scalar loop.
                Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int b = 0; b < N; b++)
                {
                    float* row = Dy + (long)b * Stride + c0;
                    var lo = Vector256.Load(row);
                    var hi = Vector256.Load(row + 8);
                    a0 += Vector256.WidenLower(lo);
                    a1 += Vector256.WidenUpper(lo);
                    a2 += Vector256.WidenLower(hi);
                    a3 += Vector256.WidenUpper(hi);
                }
                float* db = Db + c0;
                (Vector256.Load(db) + Vector256.Narrow(a0, a1)).Store(db);
                (Vector256.Load(db + 8) + Vector256.Narrow(a2, a3)).Store(db + 8);
                return;
            }
            double* acc = stackalloc double[Block];
            for (int k = 0; k < len; k++) acc[k] = 0;
            for (int b = 0; b < N; b++)
            {
                float* row = Dy + (long)b * Stride + c0;
                for (int k = 0; k < len; k++) acc[k] += row[k];
            }
            for (int k = 0; k < len; k++) Db[c0 + k] += (float)acc[k];
        }
    }

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) = src, <paramref name="size"/> floats per sample.</summary>
    public static void Copy(int n, int size, View src, View dst, bool accumulate)
    {
        KernelUtil.Check(src, n, size, nameof(src));
        KernelUtil.Check(dst, n, size, nameof(dst));
        if (n == 0 || size == 0) return;
        fixed (float* ps = src.Data, pd = dst.Data)
        {
            var job = new CopyJob { Src = ps + src.Offset, SrcStride = src.BatchStride, Dst = pd + dst.Offset, DstStride = dst.BatchStride, Size = size, Accumulate = accumulate };
            WorkerPool.For(n, ref job, (long)n * size * WorkerPool.FlopsPerElement);
        }
    }

    struct BiasGradJob : IParallelJob
    {
        public float* Dy, Db;
        public int N, Hw, Stride;

        public void Run(int ch)
        {
            // Per-row float sums (vector lanes over hw terms), accumulated across the batch in double, in batch order.
            double sum = 0;
            for (int b = 0; b < N; b++)
                sum += System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(Dy + (long)b * Stride + (long)ch * Hw, Hw));
            Db[ch] += (float)sum;
        }
    }

    struct CopyJob : IParallelJob
    {
        public float* Src, Dst;
        public int SrcStride, DstStride, Size;
        public bool Accumulate;

        public void Run(int b) => KernelUtil.CopyOrAdd(Src + (long)b * SrcStride, Dst + (long)b * DstStride, Size, Accumulate);
    }
}
