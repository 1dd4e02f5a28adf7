// Embedding lookups: rows of a weight table gathered by token id, and the gradient scattered back into the
// rows the batch used (sparse in effect: untouched rows get nothing). The backward splits the columns of the
// table over the cores, so every row is summed by one thread in position order: deterministic, no atomics.
namespace Authoring.Runtime.Cpu;

/// <summary>Embedding forward and backward over token ids.</summary>
public static unsafe class EmbeddingKernel
{
    /// <summary>y[b][t * dim + d] = w[wOff + ids[b * seq + t] * dim + d]; ids already checked against the vocabulary.</summary>
    public static void Forward(int n, int seq, int dim, int[] ids, float[] w, int wOff, View y)
    {
        KernelUtil.Check(y, n, seq * dim, nameof(y));
        if (ids.Length < n * seq) throw new ArgumentException($"{ids.Length} ids for {n} samples of {seq}.", nameof(ids));
        if ((long)n * seq * dim == 0) return;
        fixed (int* pi = ids)
        fixed (float* pw = w, py = y.Data)
        {
            var job = new ForwardJob { Ids = pi, W = pw + wOff, Y = py + y.Offset, Stride = y.BatchStride, Seq = seq, Dim = dim };
            WorkerPool.For(n, ref job);
        }
    }

    struct ForwardJob : IParallelJob
    {
        public int* Ids;
        public float* W, Y;
        public int Stride, Seq, Dim;

        public void Run(int b)
        {
            for (int t = 0; t < Seq; t++)
                new ReadOnlySpan<float>(W + (long)Ids[b * Seq + t] * Dim, Dim).CopyTo(new Span<float>(Y + (long)b * Stride + (long)t * Dim, Dim));
        }
    }

    /// <summary>g[gOff + ids[p] * dim + d] += dy at position p, for every position of the batch.</summary>
    public static void Backward(int n, int seq, int dim, int[] ids, View dy, float[] g, int gOff)
    {
        KernelUtil.Check(dy, n, seq * dim, nameof(dy));
        if ((long)n * seq * dim == 0) return;
        fixed (int* pi = ids)
        fixed (float* pd = dy.Data, pg = g)
        {
            int blocks = Math.Min(WorkerPool.ThreadCount * 4, (dim + 15) / 16);
            var job = new BackwardJob { Ids = pi, G = pg + gOff, Dy = pd + dy.Offset, Stride = dy.BatchStride, N = n, Seq = seq, Dim = dim, Blocks = blocks };
            WorkerPool.For(blocks, ref job);
        }
    }

    struct BackwardJob : IParallelJob
    {
        public int* Ids;
        public float* G, Dy;
        public int Stride, N, Seq, Dim, Blocks;

        public void Run(int block)
        {
            int d0 = (int)((long)Dim * block / Blocks), d1 = (int)((long)Dim * (block + 1) / Blocks);
            int width = d1 - d0;
            for (int b = 0; b < N; b++)
                for (int t = 0; t < Seq; t++)
                {
                    var src = new ReadOnlySpan<float>(Dy + (long)b * Stride + (long)t * Dim + d0, width);
                    var dst = new Span<float>(G + (long)Ids[b * Seq + t] * Dim + d0, width);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
                }
        }
    }
}
