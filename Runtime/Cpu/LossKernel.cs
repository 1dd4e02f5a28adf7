// Softmax cross-entropy, the training loss every classifier ends in. Max-shifted and summed in
// double: the batch is small, so exactness costs nothing.
namespace Authoring.Runtime.Cpu;

/// <summary>Losses.</summary>
public static class LossKernel
{
    /// <summary>Mean softmax cross-entropy over the batch; dlogits = (softmax - onehot) / n.</summary>
    public static StepResult SoftmaxCrossEntropy(int n, int classes, View logits, ReadOnlySpan<int> labels, View dlogits)
    {
        KernelUtil.Check(logits, n, classes, nameof(logits));
        KernelUtil.Check(dlogits, n, classes, nameof(dlogits));
        if (labels.Length < n) throw new ArgumentException($"{labels.Length} labels for a batch of {n}.", nameof(labels));
        if (n == 0) return new StepResult(0f, 0);
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes));
        double total = 0;
        int correct = 0;
        double invN = 1.0 / n;
        float[] x = logits.Data, d = dlogits.Data;
        for (int b = 0; b < n; b++)
        {
            int label = labels[b];
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), $"Label {label} of sample {b} is not in [0, {classes}).");
            int xo = logits.At(b), dOff = dlogits.At(b);
            float max = x[xo];
            int arg = 0;
            for (int j = 1; j < classes; j++)
                if (x[xo + j] > max) { max = x[xo + j]; arg = j; }
            if (arg == label) correct++;
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.Exp((double)x[xo + j] - max);
            double lse = max + Math.Log(sum);
            total += lse - x[xo + label];
            double inv = 1.0 / sum;
            for (int j = 0; j < classes; j++)
            {
                double pj = Math.Exp((double)x[xo + j] - max) * inv;
                d[dOff + j] = (float)((pj - (j == label ? 1.0 : 0.0)) * invN);
            }
        }
        return new StepResult((float)(total * invN), correct);
    }
}
