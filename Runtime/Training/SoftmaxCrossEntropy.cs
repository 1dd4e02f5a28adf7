// Host-side softmax cross-entropy over logits from IModel.Infer, for evaluation (TrainStep computes its own
// loss). Uses the log-sum-exp shift, in double, so large logits neither overflow nor lose the small terms.
namespace Authoring.Runtime.Training;

/// <summary>Softmax cross-entropy and arg-max accuracy over a batch of logits.</summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>Sums the per-sample loss -log softmax(logits)[label] over the batch, and counts arg-max hits.</summary>
    /// <param name="logits">batch x classes logits, sample-major.</param>
    /// <param name="labels">batch labels in [0, classes).</param>
    /// <param name="batch">Number of samples.</param>
    /// <param name="classes">Logits per sample.</param>
    /// <param name="correct">Samples whose first arg-max equals the label.</param>
    /// <returns>The summed (not averaged) loss, so callers can average over any number of batches.</returns>
    public static double Sum(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int batch, int classes, out int correct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (logits.Length < batch * classes) throw new ArgumentException($"Need {batch} x {classes} logits, got {logits.Length}.", nameof(logits));
        if (labels.Length < batch) throw new ArgumentException($"Need {batch} labels, got {labels.Length}.", nameof(labels));
        double total = 0;
        correct = 0;
        for (int b = 0; b < batch; b++)
        {
            var z = logits.Slice(b * classes, classes);
            int label = labels[b];
            if ((uint)label >= (uint)classes) throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label of sample {b} is outside [0, {classes}).");
            int arg = 0;
            float max = z[0];
            for (int c = 1; c < classes; c++) if (z[c] > max) { max = z[c]; arg = c; }
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp((double)z[c] - max);
            total += Math.Log(sum) - ((double)z[label] - max);
            if (arg == label) correct++;
        }
        return total;
    }
}
