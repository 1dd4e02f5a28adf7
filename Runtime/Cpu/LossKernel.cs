// The training losses, each writing its mean value and its gradient in one pass, as PyTorch defines them with
// mean reduction: softmax cross-entropy (with label smoothing and ignored labels, per sample or per position),
// mean squared error, mean absolute error, binary cross-entropy on logits. Rows are split over the cores in
// fixed chunks and the chunk sums added in order, in double, so results do not depend on the thread count.
namespace Authoring.Runtime.Cpu;

/// <summary>Losses.</summary>
public static unsafe class LossKernel
{
    /// <summary>The label PyTorch's cross-entropy skips (ignore_index): the row adds nothing to the loss, its
    /// gradient is zero, and the mean is over the other rows.</summary>
    public const int IgnoreIndex = -100;

    const int Chunks = 64;

    /// <summary>Mean softmax cross-entropy over the batch; dlogits = (softmax - onehot) / n.</summary>
    public static StepResult SoftmaxCrossEntropy(int n, int classes, View logits, ReadOnlySpan<int> labels, View dlogits) =>
        CrossEntropy(n, classes, logits, labels, 0f, dlogits);

    /// <summary>Mean softmax cross-entropy over <paramref name="rows"/> rows of <paramref name="classes"/> logits (one
    /// row per sample, or per position when the caller folds positions into rows), against one label per row
    /// (<see cref="IgnoreIndex"/> skips a row), with label smoothing <paramref name="smoothing"/>:
    /// loss = (1 - e) (-log p_label) + e mean_k(-log p_k); dlogits = (p - (1 - e) onehot - e / classes) / counted.</summary>
    public static StepResult CrossEntropy(int rows, int classes, View logits, ReadOnlySpan<int> labels, float smoothing, View dlogits)
    {
        KernelUtil.Check(logits, rows, classes, nameof(logits));
        KernelUtil.Check(dlogits, rows, classes, nameof(dlogits));
        if (labels.Length < rows) throw new ArgumentException($"{labels.Length} labels for {rows} rows.", nameof(labels));
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes));
        if (rows == 0) return new StepResult(0f, 0, 0);
        int counted = 0;
        for (int r = 0; r < rows; r++)
        {
            int label = labels[r];
            if (label == IgnoreIndex) continue;
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"Label {label} of row {r} is not in [0, {classes}) (or {IgnoreIndex}, ignored).");
            counted++;
        }
        var partial = stackalloc double[Chunks];
        var hits = stackalloc int[Chunks];
        fixed (int* pl = labels)
        fixed (float* px = logits.Data, pd = dlogits.Data)
        {
            var job = new CrossEntropyJob
            {
                X = px + logits.Offset, XStride = logits.BatchStride, D = pd + dlogits.Offset, DStride = dlogits.BatchStride,
                Labels = pl, Rows = rows, Classes = classes, Smoothing = smoothing, InvCount = counted == 0 ? 0 : 1.0 / counted,
                Partial = partial, Hits = hits,
            };
            WorkerPool.For(Math.Min(Chunks, rows), ref job);
        }
        double total = 0;
        int correct = 0;
        for (int c = 0; c < Math.Min(Chunks, rows); c++)
        {
            total += partial[c];
            correct += hits[c];
        }
        return new StepResult(counted == 0 ? 0f : (float)(total / counted), correct, counted);
    }

    struct CrossEntropyJob : IParallelJob
    {
        public float* X, D;
        public int* Labels;
        public int XStride, DStride, Rows, Classes;
        public float Smoothing;
        public double InvCount;
        public double* Partial;
        public int* Hits;

        public void Run(int chunk)
        {
            int chunks = Math.Min(Chunks, Rows);
            int begin = (int)((long)Rows * chunk / chunks), end = (int)((long)Rows * (chunk + 1) / chunks);
            double sum = 0, eps = Smoothing;
            int hits = 0;
            for (int r = begin; r < end; r++)
            {
                float* x = X + (long)r * XStride;
                float* d = D + (long)r * DStride;
                int label = Labels[r];
                if (label == IgnoreIndex)
                {
                    new Span<float>(d, Classes).Clear();
                    continue;
                }
                float max = x[0];
                int arg = 0;
                for (int j = 1; j < Classes; j++)
                    if (x[j] > max) { max = x[j]; arg = j; }
                if (arg == label) hits++;
                double s = 0, mean = 0;
                for (int j = 0; j < Classes; j++)
                {
                    s += Math.Exp((double)x[j] - max);
                    mean += x[j];
                }
                double lse = max + Math.Log(s);
                // -log p_label mixed with the mean over classes of -log p_k = lse - mean(x).
                sum += (1 - eps) * (lse - x[label]) + eps * (lse - mean / Classes);
                double inv = 1.0 / s, uniform = eps / Classes;
                for (int j = 0; j < Classes; j++)
                {
                    double p = Math.Exp((double)x[j] - max) * inv;
                    d[j] = (float)((p - (j == label ? 1 - eps : 0) - uniform) * InvCount);
                }
            }
            Partial[chunk] = sum;
            Hits[chunk] = hits;
        }
    }

    /// <summary>Mean squared error over every element: mean((y - t)^2); dy = 2 (y - t) / count.</summary>
    public static StepResult MeanSquaredError(int n, int size, View y, ReadOnlySpan<float> targets, View dy) =>
        Elementwise(n, size, y, targets, dy, ElementLoss.Squared);

    /// <summary>Mean absolute error: mean|y - t|; dy = sign(y - t) / count (0 where y = t, as PyTorch).</summary>
    public static StepResult MeanAbsoluteError(int n, int size, View y, ReadOnlySpan<float> targets, View dy) =>
        Elementwise(n, size, y, targets, dy, ElementLoss.Absolute);

    /// <summary>Binary cross-entropy on logits: mean(max(x, 0) - x t + log(1 + exp(-|x|))); dx = (sigmoid(x) - t) / count.
    /// Correct counts elements whose logit sign matches the target's side of 0.5.</summary>
    public static StepResult BceWithLogits(int n, int size, View x, ReadOnlySpan<float> targets, View dx) =>
        Elementwise(n, size, x, targets, dx, ElementLoss.BceWithLogits);

    enum ElementLoss { Squared, Absolute, BceWithLogits }

    static StepResult Elementwise(int n, int size, View y, ReadOnlySpan<float> targets, View dy, ElementLoss kind)
    {
        KernelUtil.Check(y, n, size, nameof(y));
        KernelUtil.Check(dy, n, size, nameof(dy));
        long count = (long)n * size;
        if (targets.Length < count) throw new ArgumentException($"{targets.Length} targets for {n} samples of {size}.", nameof(targets));
        if (count == 0) return new StepResult(0f, 0, 0);
        var partial = stackalloc double[Chunks];
        var hits = stackalloc int[Chunks];
        int chunks = (int)Math.Min(Chunks, n);
        fixed (float* pt = targets, py = y.Data, pd = dy.Data)
        {
            var job = new ElementJob
            {
                Y = py + y.Offset, YStride = y.BatchStride, D = pd + dy.Offset, DStride = dy.BatchStride, T = pt,
                N = n, Size = size, Kind = kind, InvCount = 1.0 / count, Partial = partial, Hits = hits, ChunkCount = chunks,
            };
            WorkerPool.For(chunks, ref job);
        }
        double total = 0;
        int correct = 0;
        for (int c = 0; c < chunks; c++)
        {
            total += partial[c];
            correct += hits[c];
        }
        bool classifies = kind == ElementLoss.BceWithLogits;
        return new StepResult((float)(total / count), classifies ? correct : 0, classifies ? (int)Math.Min(count, int.MaxValue) : 0);
    }

    struct ElementJob : IParallelJob
    {
        public float* Y, D, T;
        public int YStride, DStride, N, Size, ChunkCount;
        public ElementLoss Kind;
        public double InvCount;
        public double* Partial;
        public int* Hits;

        public void Run(int chunk)
        {
            int begin = (int)((long)N * chunk / ChunkCount), end = (int)((long)N * (chunk + 1) / ChunkCount);
            double sum = 0;
            int hits = 0;
            for (int b = begin; b < end; b++)
            {
                float* y = Y + (long)b * YStride, d = D + (long)b * DStride, t = T + (long)b * Size;
                for (int j = 0; j < Size; j++)
                {
                    double v = y[j], target = t[j];
                    switch (Kind)
                    {
                        case ElementLoss.Squared:
                            sum += (v - target) * (v - target);
                            d[j] = (float)(2 * (v - target) * InvCount);
                            break;
                        case ElementLoss.Absolute:
                            sum += Math.Abs(v - target);
                            d[j] = (float)((v > target ? 1 : v < target ? -1 : 0) * InvCount);
                            break;
                        default:
                            sum += Math.Max(v, 0) - v * target + Math.Log(1 + Math.Exp(-Math.Abs(v)));
                            d[j] = (float)((1 / (1 + Math.Exp(-v)) - target) * InvCount);
                            if ((v > 0) == (target > 0.5)) hits++;
                            break;
                    }
                }
            }
            Partial[chunk] = sum;
            Hits[chunk] = hits;
        }
    }
}
