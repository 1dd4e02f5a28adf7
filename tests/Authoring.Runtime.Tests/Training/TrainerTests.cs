// The training loop end to end with a hand-written model on a synthetic, linearly separable data set:
// accuracy reached, history, schedule, checkpoints, progress output and no allocation per step.
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Runtime.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    const int Classes = 3, Batch = 32;
    static readonly int[] Shape = [1, 2, 4];
    readonly string _dir = Directory.CreateTempSubdirectory("trainer-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Class k is a Gaussian blob (std 0.5) around 3 * e_k in 8 dimensions: centres 4.2 apart, so the
    /// classes are linearly separable up to a few-in-a-million tail.</summary>
    static LabeledImages Blobs(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * 8];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % Classes;
            for (int d = 0; d < 8; d++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                x[i * 8 + d] = (float)((d == y[i] ? 3 : 0) + 0.5 * g);
            }
        }
        return new LabeledImages(x, y, 1, 2, 4, Classes);
    }

    static readonly LabeledImages Train = Blobs(600, 1), Test = Blobs(300, 2);

    [Fact]
    public void ReachesNinetyEightPercentOnSeparableBlobsAndReportsEachEpoch()
    {
        var model = new SoftmaxRegression(Shape, Classes, Batch);
        var log = new StringWriter();
        var schedule = new CosineSchedule(0.1f, Warmup: 5);
        var trainer = new Trainer(model, new Sgd(0.1f, momentum: 0.9f), new TrainerOptions
        {
            Epochs = 5, BatchSize = Batch, Seed = 3, Schedule = schedule, Log = log, Progress = ProgressMode.Lines,
            CheckpointPath = Path.Combine(_dir, "blobs.safetensors"),
        });
        double before = Trainer.Evaluate(model, Test).Accuracy;
        var history = trainer.Fit(Train, Test);

        Assert.Equal(5, history.Count);
        Assert.Equal([1, 2, 3, 4, 5], history.Select(h => h.Epoch));
        var last = history[^1];
        Assert.True(last.TestAccuracy >= 0.98, $"test accuracy {last.TestAccuracy:P2} (was {before:P2} untrained)");
        Assert.True(last.TrainAccuracy >= 0.98, $"train accuracy {last.TrainAccuracy:P2}");
        Assert.True(last.TrainLoss < history[0].TrainLoss / 2, $"train loss {history[0].TrainLoss} -> {last.TrainLoss}");
        Assert.True(last.ImagesPerSecond > 0 && last.Seconds > 0);

        // The reported test numbers are what Evaluate gives for the final parameters.
        var eval = Trainer.Evaluate(model, Test, batchSize: 7);
        Assert.Equal(last.TestAccuracy, eval.Accuracy);
        Assert.Equal(last.TestLoss, eval.Loss, 9);

        // The schedule ran per step: 19 steps per epoch (600 / 32, last batch partial), 95 in all.
        Assert.Equal(schedule.LearningRate(94, 95), last.LearningRate);

        // Log: a header, 9 progress lines (10%..90%) and one summary line per epoch.
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal) && l.Contains("test loss")));
        Assert.Equal(9, lines.Count(l => l.StartsWith("  epoch 3/5 ", StringComparison.Ordinal)));
        // Progress lines show throughput and the time left of the epoch and, before the last epoch, of the run.
        Assert.All(lines.Where(l => l.StartsWith("  epoch ", StringComparison.Ordinal)), l => Assert.Matches(@" \d+ img/s \d+:\d\d left", l));
        Assert.Equal(36, lines.Count(l => l.StartsWith("  epoch ", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(l, @"left, run \d+:\d\d$")));
        Assert.DoesNotContain('\r', log.ToString());

        // The checkpoint holds the final parameters: a fresh model loading it scores the same.
        var restored = new SoftmaxRegression(Shape, Classes, Batch, seed: 99);
        var meta = Safetensors.Load(restored.Parameters, Path.Combine(_dir, "blobs.safetensors"));
        Assert.Equal(model.Parameters.Values, restored.Parameters.Values);
        Assert.Equal("5", meta["epoch"]);
        Assert.Equal(nameof(SoftmaxRegression), meta["model"]);
    }

    [Fact]
    public void TheLoopAllocatesNothingBetweenSteps()
    {
        var model = new SoftmaxRegression(Shape, Classes, Batch);
        var trainer = new Trainer(model, new AdamW(0.05f), new TrainerOptions
        {
            Epochs = 2, BatchSize = Batch, Schedule = new CosineSchedule(0.05f), Log = TextWriter.Null, Progress = ProgressMode.None,
        });
        trainer.Fit(Train, Test);
        const int steps = 19;
        var at = model.AllocatedAtSteps;
        Assert.Equal(2 * steps, at.Length);
        for (int i = 1; i < at.Length; i++)
        {
            // Skip epoch boundaries (evaluation, timers) and the optimizer's first step, which sizes its state.
            if (i % steps == 0 || i == 1) continue;
            Assert.True(at[i] == at[i - 1], $"{at[i] - at[i - 1]} bytes allocated between steps {i - 1} and {i}");
        }
    }

    [Fact]
    public void BarModeRedrawsInPlace()
    {
        var log = new StringWriter();
        new Trainer(new SoftmaxRegression(Shape, Classes, Batch), new Sgd(0.1f),
            new TrainerOptions { Epochs = 1, BatchSize = Batch, Log = log, Progress = ProgressMode.Bar }).Fit(Train);
        string text = log.ToString();
        Assert.Contains("\repoch 1/1 [", text);
        Assert.Contains("19/19", text);
        Assert.Matches(@"19/19 loss \d\.\d{4} acc \d+\.\d\d% \d+ img/s 0:00 left", text);
        Assert.Contains("test loss NaN", text); // no test set given
    }

    [Fact]
    public void RejectsDataThatDoesNotFitTheModel()
    {
        var model = new SoftmaxRegression([1, 3, 3], Classes, Batch);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, new Sgd(0.1f)).Fit(Train));
        Assert.Contains("Samples of shape (1, 2, 4) = 8 floats do not fit SoftmaxRegression's input (1, 3, 3) = 9 floats", e.Message);
    }

    [Fact]
    public void SoftmaxCrossEntropyMatchesHandComputedValues()
    {
        float[] logits = [1f, 2f, 3f, 1000f, 0f, 0f];
        double loss = SoftmaxCrossEntropy.Sum(logits, [2, 1], 2, 3, out int correct);
        // -log softmax([1,2,3])[2] = log(e + e^2 + e^3) - 3 = 0.40760596; [1000, 0, 0] label 1: 1000 + log(1 + 2e-1000) = 1000.
        Assert.Equal(0.40760596444 + 1000, loss, 6);
        Assert.Equal(1, correct);
    }
}
