// Per-channel bias gradients, batch copies, the softmax cross-entropy loss and dropout.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>db[ch] += sum over batch and positions of dy[:, ch, :].</summary>
    public void BiasGrad(int n, int c, int hw, GView dy, ArrayView<float> db)
    {
        if (n * c * hw == 0) return;
        int parts = Parts(n * hw);
        var partials = Scratch(c * parts);
        (_biasPartials ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, GView, ArrayView<float>>(BiasPartialsKernel))(
            c * parts, new ChannelDims(n, c, hw), parts, dy, partials);
        AddParts(c, parts, partials, db);
    }

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) = src, <paramref name="size"/> floats per sample.</summary>
    public void Copy(int n, int size, GView src, GView dst, bool accumulate)
    {
        if (n * size == 0) return;
        (_copy ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, GView, GView, int>(CopyKernel))(
            n * size, size, src, dst, accumulate ? 1 : 0);
    }

    /// <summary>Mean softmax cross-entropy over the batch; dlogits = (softmax - onehot) / n (may alias logits);
    /// result[0] = mean loss, result[1] = samples whose first arg-max logit equals the label (as a float).
    /// Stays on the device: read it with <see cref="ReadStepResult"/> when the host needs it.</summary>
    public void SoftmaxCrossEntropy(int n, int classes, GView logits, ArrayView<int> labels, GView dlogits, ArrayView<float> result)
    {
        if (n == 0) return;
        var perSample = Scratch(2 * n);
        (_lossRows ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, GView, ArrayView<int>, GView, ArrayView<float>>(
            LossRowsKernel))(n, n, classes, logits, labels, dlogits, perSample);
        (_lossTotal ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(LossTotalKernel))(
            1, n, perSample, result);
    }

    /// <summary>Waits for the queued work and reads a loss result back: (loss, correct) from
    /// <see cref="SoftmaxCrossEntropy"/>, (loss, correct, counted) from the kernels of GpuKernels.Loss.cs.</summary>
    public StepResult ReadStepResult(ArrayView<float> result)
    {
        Span<float> r = stackalloc float[3];
        int length = (int)Math.Min(3, result.Length);
        Accelerator.Synchronize();
        result.SubView(0, length).CopyToCPU(r[..length]);
        return new StepResult(r[0], (int)r[1], length == 3 ? (int)r[2] : 0);
    }

    /// <summary>mask = (u &gt;= p) / (1 - p) with u = <see cref="DropoutRandom.Uniform"/>(seed, b * size + i), the
    /// CPU backend's generator, so both backends drop the same elements; y = x * mask.</summary>
    public void DropoutForward(int n, int size, float p, ulong seed, GView x, GView mask, GView y)
    {
        if (n * size == 0) return;
        (_dropout ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, float, ulong, GView, GView, GView>(DropoutKernel))(
            n * size, size, p, seed, x, mask, y);
    }

    Action<Index1D, ChannelDims, int, GView, ArrayView<float>>? _biasPartials;
    Action<Index1D, int, ArrayView<float>, ArrayView<float>>? _addParts;

    /// <summary>dst[i] += sum over j &lt; parts of partials[i * parts + j], in order.</summary>
    void AddParts(int count, int parts, ArrayView<float> partials, ArrayView<float> dst) =>
        (_addParts ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(AddPartsKernel))(
            count, parts, partials, dst);
    Action<Index1D, int, GView, GView, int>? _copy;
    Action<Index1D, int, int, GView, ArrayView<int>, GView, ArrayView<float>>? _lossRows;
    Action<Index1D, int, ArrayView<float>, ArrayView<float>>? _lossTotal;
    Action<Index1D, int, float, ulong, GView, GView, GView>? _dropout;

    /// <summary>One thread per (channel, part j): the sum of terms j, j+P, ... of dy[:, ch, :].</summary>
    internal static void BiasPartialsKernel(Index1D index, ChannelDims d, int parts, GView dy, ArrayView<float> partials)
    {
        int i = index;
        int ch = i / parts, j = i - ch * parts, count = d.N * d.HW;
        float sum = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW;
            sum += dy.Data[dy.At(b) + ch * d.HW + e - b * d.HW];
        }
        partials[i] = sum;
    }

    /// <summary>One thread per reduction: adds its parts in order, then accumulates into dst.</summary>
    internal static void AddPartsKernel(Index1D index, int parts, ArrayView<float> partials, ArrayView<float> dst)
    {
        int i = index;
        float sum = 0f;
        for (int j = 0; j < parts; j++) sum += partials[i * parts + j];
        dst[i] += sum;
    }

    /// <summary>One thread per element.</summary>
    internal static void CopyKernel(Index1D index, int size, GView src, GView dst, int accumulate)
    {
        int i = index;
        int b = i / size, k = i - b * size;
        float v = src.Data[src.At(b) + k];
        int at = dst.At(b) + k;
        dst.Data[at] = accumulate != 0 ? dst.Data[at] + v : v;
    }

    /// <summary>One thread per sample: log-sum-exp with the max subtracted, gradient row, and the
    /// sample's loss and hit into perSample[b] and perSample[n + b].</summary>
    internal static void LossRowsKernel(Index1D index, int n, int classes, GView logits, ArrayView<int> labels,
        GView dlogits, ArrayView<float> perSample)
    {
        int b = index;
        int l = logits.At(b), g = dlogits.At(b);
        int label = labels[b];
        float max = logits.Data[l];
        int arg = 0;
        for (int j = 1; j < classes; j++)
        {
            float v = logits.Data[l + j];
            if (v > max) { max = v; arg = j; }
        }
        float sum = 0f;
        for (int j = 0; j < classes; j++) sum += MathF.Exp(logits.Data[l + j] - max);
        float target = label >= 0 && label < classes ? logits.Data[l + label] : max;
        perSample[b] = MathF.Log(sum) + max - target;
        perSample[n + b] = arg == label ? 1f : 0f;
        // Written after every read of the row, so dlogits may alias logits.
        float invSum = 1f / sum, invN = 1f / n;
        for (int j = 0; j < classes; j++)
        {
            float prob = MathF.Exp(logits.Data[l + j] - max) * invSum;
            dlogits.Data[g + j] = (prob - (j == label ? 1f : 0f)) * invN;
        }
    }

    /// <summary>One thread: sums the per-sample losses and hits in order (deterministic).</summary>
    internal static void LossTotalKernel(Index1D index, int n, ArrayView<float> perSample, ArrayView<float> result)
    {
        float loss = 0f, correct = 0f;
        for (int b = 0; b < n; b++)
        {
            loss += perSample[b];
            correct += perSample[n + b];
        }
        result[0] = loss / n;
        result[1] = correct;
    }

    /// <summary>One thread per element.</summary>
    internal static void DropoutKernel(Index1D index, int size, float p, ulong seed, GView x, GView mask, GView y)
    {
        int i = index;
        int b = i / size, k = i - b * size;
        float keep = DropoutRandom.Uniform(seed, i) >= p ? 1f / (1f - p) : 0f;
        mask.Data[mask.At(b) + k] = keep;
        y.Data[y.At(b) + k] = x.Data[x.At(b) + k] * keep;
    }
}
