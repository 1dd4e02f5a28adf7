// Host-side losses over IModel.Infer outputs, for evaluation (TrainStep computes its own): each Loss a model can
// declare, in double, with the counts PyTorch's mean reduction divides by, so a data set's mean is exact across
// batches of any size. Label smoothing is a training device and is not applied here (the plain criterion is reported).
namespace Authoring.Runtime.Training;

/// <summary>Sums of a model's loss and its hit counts over batches, for evaluation.</summary>
public struct EvalLoss
{
    /// <summary>Summed loss over every counted unit (sample, position or element).</summary>
    public double LossSum;
    /// <summary>Units the loss is averaged over: samples, non-ignored positions, or output elements.</summary>
    public long LossCount;
    /// <summary>Correct predictions (arg-max equal to the label, or the logit's sign on the target's side of 0.5).</summary>
    public long Correct;
    /// <summary>Predictions <see cref="Correct"/> counts out of; 0 for MSE and L1.</summary>
    public long Total;

    /// <summary>Mean loss so far (NaN before any unit).</summary>
    public readonly double Mean => LossCount == 0 ? double.NaN : LossSum / LossCount;
    /// <summary>Accuracy so far (NaN for regression losses or before any prediction).</summary>
    public readonly double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;

    /// <summary>Adds a batch of outputs against integer labels (cross-entropy over the last axis).</summary>
    /// <param name="output">batch x rows x classes logits.</param>
    /// <param name="labels">batch x rows labels in [0, classes), or -100 to skip a position.</param>
    /// <param name="rows">Labels per sample (1, or the positions of an (N, classes) output).</param>
    /// <param name="classes">Logits per row.</param>
    public void AddLabels(ReadOnlySpan<float> output, ReadOnlySpan<int> labels, int rows, int classes)
    {
        for (int r = 0; r < labels.Length; r++)
        {
            if (labels[r] == Data.SampleSet.IgnoreLabel) continue;
            LossSum += SoftmaxCrossEntropy.Sum(output.Slice(r * classes, classes), labels.Slice(r, 1), 1, classes, out int c);
            Correct += c;
            LossCount++;
            Total++;
        }
    }

    /// <summary>Adds a batch of outputs against float targets of the same size.</summary>
    /// <param name="loss">MSE, L1 or BCE with logits.</param>
    /// <param name="output">The outputs (logits for BCE).</param>
    /// <param name="targets">One target per output element.</param>
    public void AddTargets(Loss loss, ReadOnlySpan<float> output, ReadOnlySpan<float> targets)
    {
        if (output.Length != targets.Length) throw new ArgumentException($"{output.Length} outputs against {targets.Length} targets.", nameof(targets));
        for (int i = 0; i < output.Length; i++)
        {
            double z = output[i], t = targets[i];
            switch (loss)
            {
                case Loss.Mse: LossSum += (z - t) * (z - t); break;
                case Loss.L1: LossSum += Math.Abs(z - t); break;
                case Loss.BceWithLogits:
                    // max(z, 0) - z t + log(1 + e^-|z|): PyTorch's stable form.
                    LossSum += Math.Max(z, 0) - z * t + Math.Log(1 + Math.Exp(-Math.Abs(z)));
                    if ((z > 0) == (t > 0.5)) Correct++;
                    Total++;
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(loss), loss, "Cross-entropy takes integer labels: use AddLabels.");
            }
        }
        LossCount += output.Length;
    }
}
