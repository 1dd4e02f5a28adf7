// The training losses on the device, with the CPU kernels' semantics (Runtime/Cpu/LossKernel.cs): softmax
// cross-entropy with label smoothing and ignored rows (per sample or per position), MSE, L1 and BCE with logits.
// Per-row or per-element terms go to scratch; one thread adds them in order, so results are reproducible.
// The result stays on the device as (loss, correct, counted) until ReadStepResult.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    Action<Index1D, int, float, GView, ArrayView<int>, GView, ArrayView<float>>? _ceRows;
    Action<Index1D, int, ArrayView<float>, ArrayView<float>>? _ceTotal;
    Action<Index1D, int, GView, ArrayView<float>>? _ceScale;
    Action<Index1D, int, int, GView, ArrayView<float>, GView, ArrayView<float>, float>? _elementTerms;
    Action<Index1D, long, int, ArrayView<float>, ArrayView<float>>? _elementTotal;

    /// <summary>Mean softmax cross-entropy over <paramref name="rows"/> rows (labels per row, -100 ignored) with label
    /// smoothing; dlogits as <see cref="LossKernel.CrossEntropy"/>. Result: (loss, correct, counted).</summary>
    public void CrossEntropy(int rows, int classes, GView logits, ArrayView<int> labels, float smoothing, GView dlogits, ArrayView<float> result)
    {
        if (rows == 0) return;
        var perRow = Scratch(3 * rows);
        (_ceRows ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, float, GView, ArrayView<int>, GView, ArrayView<float>>(CrossEntropyRowsKernel))(
            rows, classes, smoothing, logits, labels, dlogits, perRow);
        (_ceTotal ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(CrossEntropyTotalKernel))(
            1, rows, perRow, result);
        (_ceScale ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, GView, ArrayView<float>>(CrossEntropyScaleKernel))(
            rows * classes, classes, dlogits, result);
    }

    /// <summary>MSE (kind 0), L1 (1) or BCE with logits (2) against float targets (sample-major, <paramref name="size"/>
    /// per sample), gradients into <paramref name="dy"/>. Result: (loss, correct, counted); correct and counted only for BCE.</summary>
    public void ElementLoss(int kind, int n, int size, GView y, ArrayView<float> targets, GView dy, ArrayView<float> result)
    {
        long count = (long)n * size;
        if (count == 0) return;
        var terms = Scratch(2 * (int)count);
        (_elementTerms ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, GView, ArrayView<float>, GView, ArrayView<float>, float>(ElementTermsKernel))(
            (int)count, kind, size, y, targets, dy, terms, (float)(1.0 / count));
        (_elementTotal ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, long, int, ArrayView<float>, ArrayView<float>>(ElementTotalKernel))(
            1, count, kind, terms, result);
    }

    /// <summary>One thread per row: the row's loss, hit and validity into scratch, unscaled gradient into dlogits.</summary>
    internal static void CrossEntropyRowsKernel(Index1D index, int classes, float smoothing, GView logits, ArrayView<int> labels,
        GView dlogits, ArrayView<float> perRow)
    {
        int r = index;
        int rows = (int)(perRow.Length / 3);
        int l = logits.At(r), g = dlogits.At(r);
        int label = labels[r];
        if (label == LossKernel.IgnoreIndex || label < 0 || label >= classes)
        {
            for (int j = 0; j < classes; j++) dlogits.Data[g + j] = 0f;
            perRow[r] = 0f;
            perRow[rows + r] = 0f;
            perRow[2 * rows + r] = 0f;
            return;
        }
        float max = logits.Data[l];
        int arg = 0;
        float mean = 0f;
        for (int j = 0; j < classes; j++)
        {
            float v = logits.Data[l + j];
            mean += v;
            if (v > max) { max = v; arg = j; }
        }
        float sum = 0f;
        for (int j = 0; j < classes; j++) sum += MathF.Exp(logits.Data[l + j] - max);
        float lse = MathF.Log(sum) + max;
        perRow[r] = (1f - smoothing) * (lse - logits.Data[l + label]) + smoothing * (lse - mean / classes);
        perRow[rows + r] = arg == label ? 1f : 0f;
        perRow[2 * rows + r] = 1f;
        // Written after every read of the row, so dlogits may alias logits; scaled by 1 / counted afterwards.
        float invSum = 1f / sum, uniform = smoothing / classes;
        for (int j = 0; j < classes; j++)
        {
            float prob = MathF.Exp(logits.Data[l + j] - max) * invSum;
            dlogits.Data[g + j] = prob - (j == label ? 1f - smoothing : 0f) - uniform;
        }
    }

    /// <summary>One thread: loss sum / counted, hits, counted (in row order).</summary>
    internal static void CrossEntropyTotalKernel(Index1D index, int rows, ArrayView<float> perRow, ArrayView<float> result)
    {
        float loss = 0f, correct = 0f, counted = 0f;
        for (int r = 0; r < rows; r++)
        {
            loss += perRow[r];
            correct += perRow[rows + r];
            counted += perRow[2 * rows + r];
        }
        result[0] = counted > 0f ? loss / counted : 0f;
        result[1] = correct;
        result[2] = counted;
    }

    /// <summary>One thread per gradient element: divides by the number of counted rows.</summary>
    internal static void CrossEntropyScaleKernel(Index1D index, int classes, GView dlogits, ArrayView<float> result)
    {
        int i = index;
        int r = i / classes, j = i - r * classes;
        float counted = result[2];
        int k = dlogits.At(r) + j;
        dlogits.Data[k] = counted > 0f ? dlogits.Data[k] / counted : 0f;
    }

    /// <summary>One thread per element: its loss term and hit into scratch, its gradient into dy.</summary>
    internal static void ElementTermsKernel(Index1D index, int kind, int size, GView y, ArrayView<float> targets, GView dy,
        ArrayView<float> terms, float invCount)
    {
        int i = index;
        int count = (int)(terms.Length / 2);
        int b = i / size, j = i - b * size;
        float v = y.Data[y.At(b) + j], t = targets[i];
        float term, grad, hit = 0f;
        if (kind == 0)
        {
            term = (v - t) * (v - t);
            grad = 2f * (v - t);
        }
        else if (kind == 1)
        {
            term = MathF.Abs(v - t);
            grad = v > t ? 1f : v < t ? -1f : 0f;
        }
        else
        {
            term = MathF.Max(v, 0f) - v * t + MathF.Log(1f + MathF.Exp(-MathF.Abs(v)));
            grad = 1f / (1f + MathF.Exp(-v)) - t;
            hit = (v > 0f) == (t > 0.5f) ? 1f : 0f;
        }
        terms[i] = term;
        terms[count + i] = hit;
        dy.Data[dy.At(b) + j] = grad * invCount;
    }

    /// <summary>One thread: the mean of the terms and the hits, in order.</summary>
    internal static void ElementTotalKernel(Index1D index, long count, int kind, ArrayView<float> terms, ArrayView<float> result)
    {
        float sum = 0f, hits = 0f;
        for (long i = 0; i < count; i++)
        {
            sum += terms[i];
            hits += terms[count + i];
        }
        result[0] = sum / count;
        result[1] = kind == 2 ? hits : 0f;
        result[2] = kind == 2 ? count : 0f;
    }
}
