// SLAB's PRepBN mix on ILGPU, as Runtime PRepBNKernel: the counters are one float each in the device parameter
// store, updated by a single-thread kernel that also writes the step's lambda to the state array; the element-wise
// kernels read lambda and alpha from device memory, so nothing is copied to the host. The alpha gradient reduces
// interleaved partial sums in a fixed order (no atomics).
using ILGPU;
using ILGPU.Runtime;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Training: lambda from the counters (updated) into <paramref name="lambda"/>[0]; y = lambda ln + (1 - lambda)(bn + alpha x).</summary>
    public void PRepBNForwardTrain(int n, int size, GView ln, GView bn, GView x, ArrayView<float> alpha, ArrayView<float> warm,
        ArrayView<float> iter, ArrayView<float> total, ArrayView<float> lambda, GView y)
    {
        (_prepbnStep ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            PRepBNStepKernel))(1, warm, iter, total, lambda);
        if (n * size == 0) return;
        (_prepbnMix ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>(
            PRepBNMixKernel))(n * size, size, ln, bn, x, alpha, lambda, y, 1);
    }

    /// <summary>Evaluation (RepBN): y = bn + alpha x.</summary>
    public void PRepBNForwardEval(int n, int size, GView bn, GView x, ArrayView<float> alpha, GView y)
    {
        if (n * size == 0) return;
        (_prepbnMix ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>(
            PRepBNMixKernel))(n * size, size, bn, bn, x, alpha, alpha, y, 0);
    }

    /// <summary>d(input) (= or +=) = c dy, c = lambda (which 0), 1 - lambda (1) or (1 - lambda) alpha (2).</summary>
    public void PRepBNBackwardInput(int n, int size, int which, ArrayView<float> alpha, ArrayView<float> lambda, GView dy, GView dst, bool accumulate)
    {
        if (which is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(which), $"which must be 0, 1 or 2, got {which}.");
        if (n * size == 0) return;
        (_prepbnScale ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>, GView, GView, int>(
            PRepBNScaleKernel))(n * size, size, which, alpha, lambda, dy, dst, accumulate ? 1 : 0);
    }

    /// <summary>dAlpha[0] += (1 - lambda) sum over the batch of dy * x.</summary>
    public void PRepBNBackwardAlpha(int n, int size, GView dy, GView x, ArrayView<float> lambda, ArrayView<float> dAlpha)
    {
        if (n * size == 0) return;
        int parts = Parts(n * size);
        var partials = Scratch(parts);
        (_prepbnPartials ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, int, GView, GView, ArrayView<float>>(
            PRepBNAlphaPartialsKernel))(parts, n, size, parts, dy, x, partials);
        (_prepbnAlpha ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            PRepBNAlphaKernel))(1, parts, partials, lambda, dAlpha);
    }

    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _prepbnStep;
    Action<Index1D, int, GView, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>? _prepbnMix;
    Action<Index1D, int, int, ArrayView<float>, ArrayView<float>, GView, GView, int>? _prepbnScale;
    Action<Index1D, int, int, int, GView, GView, ArrayView<float>>? _prepbnPartials;
    Action<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _prepbnAlpha;

    /// <summary>One thread: the reference's counter update (warm first, then iter), lambda into lambda[0].</summary>
    internal static void PRepBNStepKernel(Index1D index, ArrayView<float> warm, ArrayView<float> iter, ArrayView<float> total, ArrayView<float> lambda)
    {
        if (warm[0] > 0f)
        {
            warm[0] = warm[0] - 1f;
            lambda[0] = 1f;
            return;
        }
        float it = iter[0];
        lambda[0] = it / total[0];
        if (it > 0f) iter[0] = it - 1f;
    }

    /// <summary>One thread per element; train != 0 reads lambda from lambda[0], else lambda = 0 (RepBN).</summary>
    internal static void PRepBNMixKernel(Index1D index, int size, GView ln, GView bn, GView x, ArrayView<float> alpha, ArrayView<float> lambda, GView y, int train)
    {
        int i = index;
        int b = i / size, k = i - b * size;
        float lam = train != 0 ? lambda[0] : 0f, mu = 1f - lam;
        float v = mu * bn.Data[bn.At(b) + k] + mu * alpha[0] * x.Data[x.At(b) + k];
        if (train != 0) v += lam * ln.Data[ln.At(b) + k];
        y.Data[y.At(b) + k] = v;
    }

    internal static void PRepBNScaleKernel(Index1D index, int size, int which, ArrayView<float> alpha, ArrayView<float> lambda, GView dy, GView dst, int accumulate)
    {
        int i = index;
        int b = i / size, k = i - b * size;
        float lam = lambda[0];
        float c = which == 0 ? lam : which == 1 ? 1f - lam : (1f - lam) * alpha[0];
        float v = c * dy.Data[dy.At(b) + k];
        int at = dst.At(b) + k;
        dst.Data[at] = accumulate != 0 ? dst.Data[at] + v : v;
    }

    /// <summary>Thread j sums dy * x over elements j, j + P, ... of the whole batch.</summary>
    internal static void PRepBNAlphaPartialsKernel(Index1D index, int n, int size, int parts, GView dy, GView x, ArrayView<float> partials)
    {
        int j = index;
        float sum = 0f;
        for (int e = j; e < n * size; e += parts)
        {
            int b = e / size, k = e - b * size;
            sum += dy.Data[dy.At(b) + k] * x.Data[x.At(b) + k];
        }
        partials[j] = sum;
    }

    internal static void PRepBNAlphaKernel(Index1D index, int parts, ArrayView<float> partials, ArrayView<float> lambda, ArrayView<float> dAlpha)
    {
        float sum = 0f;
        for (int j = 0; j < parts; j++) sum += partials[j];
        dAlpha[0] = dAlpha[0] + (1f - lambda[0]) * sum;
    }
}
