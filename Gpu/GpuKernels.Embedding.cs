// Embedding lookups on the device (Runtime/Cpu/EmbeddingKernel.cs semantics). The backward gives each weight row
// to one thread per column, which sums the batch's positions holding that id in order: deterministic, no atomics.
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    Action<Index1D, int, int, ArrayView<int>, ArrayView<float>, GView>? _embedForward;
    Action<Index1D, int, int, int, ArrayView<int>, GView, ArrayView<float>>? _embedBackward;

    /// <summary>y[b, t, :] = w[ids[b * seq + t], :].</summary>
    public void EmbeddingForward(int n, int seq, int dim, ArrayView<int> ids, ArrayView<float> w, GView y)
    {
        if ((long)n * seq * dim == 0) return;
        (_embedForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, ArrayView<int>, ArrayView<float>, GView>(EmbeddingForwardKernel))(
            n * seq * dim, seq, dim, ids, w, y);
    }

    /// <summary>dw[v, :] += sum over positions holding id v of dy[b, t, :].</summary>
    public void EmbeddingBackward(int n, int seq, int dim, int vocabulary, ArrayView<int> ids, GView dy, ArrayView<float> dw)
    {
        if ((long)n * seq * dim == 0) return;
        (_embedBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, int, ArrayView<int>, GView, ArrayView<float>>(EmbeddingBackwardKernel))(
            vocabulary * dim, n, seq, dim, ids, dy, dw);
    }

    internal static void EmbeddingForwardKernel(Index1D index, int seq, int dim, ArrayView<int> ids, ArrayView<float> w, GView y)
    {
        int i = index;
        int pos = i / dim, d = i - pos * dim;
        int b = pos / seq, t = pos - b * seq;
        y.Data[y.At(b) + t * dim + d] = w[ids[pos] * dim + d];
    }

    internal static void EmbeddingBackwardKernel(Index1D index, int n, int seq, int dim, ArrayView<int> ids, GView dy, ArrayView<float> dw)
    {
        int i = index;
        int v = i / dim, d = i - v * dim;
        float sum = 0f;
        for (int pos = 0; pos < n * seq; pos++)
        {
            if (ids[pos] != v) continue;
            int b = pos / seq, t = pos - b * seq;
            sum += dy.Data[dy.At(b) + t * dim + d];
        }
        dw[i] += sum;
    }
}
