// Checks a deploy model against the model it was folded from on real data: accuracy of both, how many
// predictions agree, the largest logit difference, and inference throughput of each.
using System.Diagnostics;
using Authoring.Runtime.Data;

namespace Authoring.Runtime.Training;

/// <summary>The training model in evaluation mode against its deploy twin, on one data set.</summary>
/// <param name="TrainedAccuracy">Accuracy of the training model (evaluation mode).</param>
/// <param name="DeployAccuracy">Accuracy of the deploy model.</param>
/// <param name="SamePredictions">Samples whose predicted class is the same under both models.</param>
/// <param name="Count">Samples compared.</param>
/// <param name="MaxLogitDifference">Largest absolute logit difference.</param>
/// <param name="LogitScale">Largest absolute logit of the training model, to read the difference against.</param>
public sealed record DeployComparison(double TrainedAccuracy, double DeployAccuracy, int SamePredictions, int Count,
    double MaxLogitDifference, double LogitScale);

/// <summary>Prediction, comparison and throughput helpers for deploy models.</summary>
public static class Deployment
{
    /// <summary>Runs both models over <paramref name="data"/> (evaluation mode) and compares their logits and predictions.</summary>
    public static DeployComparison Compare(IModel trained, IModel deployed, LabeledImages data, int batchSize = 500)
    {
        ArgumentNullException.ThrowIfNull(trained);
        ArgumentNullException.ThrowIfNull(deployed);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (trained.InputSize != deployed.InputSize || trained.OutputSize != deployed.OutputSize)
            throw new ArgumentException($"{deployed.Name} does not have {trained.Name}'s input and output sizes.", nameof(deployed));
        int inSize = trained.InputSize, outSize = trained.OutputSize;
        var input = new float[batchSize * inSize];
        var a = new float[batchSize * outSize];
        var b = new float[batchSize * outSize];
        var labels = new int[batchSize];
        var batches = new BatchIterator(data, batchSize, shuffle: false);
        int same = 0, correctA = 0, correctB = 0;
        double maxDiff = 0, scale = 0;
        while (batches.Next(input, labels, out int n))
        {
            trained.Infer(input.AsSpan(0, n * inSize), n, a);
            deployed.Infer(input.AsSpan(0, n * inSize), n, b);
            for (int s = 0; s < n; s++)
            {
                var ra = a.AsSpan(s * outSize, outSize);
                var rb = b.AsSpan(s * outSize, outSize);
                int pa = ArgMax(ra), pb = ArgMax(rb);
                if (pa == pb) same++;
                if (pa == labels[s]) correctA++;
                if (pb == labels[s]) correctB++;
                for (int k = 0; k < outSize; k++)
                {
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)ra[k] - rb[k]));
                    scale = Math.Max(scale, Math.Abs((double)ra[k]));
                }
            }
        }
        return new DeployComparison((double)correctA / data.Count, (double)correctB / data.Count, same, data.Count, maxDiff, scale);
    }

    /// <summary>Images per second of <see cref="IModel.Infer(ReadOnlySpan{float}, int, Span{float})"/> at <paramref name="batch"/>, after a warm-up, timed for at least <paramref name="seconds"/>.</summary>
    public static double ImagesPerSecond(IModel model, LabeledImages data, int batch, double seconds = 2)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        if (data.Count < batch) throw new ArgumentException($"The data holds {data.Count} samples; a batch of {batch} needs more.", nameof(data));
        var input = data.Images.AsSpan(0, batch * model.InputSize);
        var output = new float[batch * model.OutputSize];
        // Warm-up: tiered JIT, arena growth and worker start-up stay out of the figure.
        for (int i = 0; i < 5; i++) model.Infer(input, batch, output);
        long images = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            model.Infer(input, batch, output);
            images += batch;
        }
        return images / clock.Elapsed.TotalSeconds;
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
