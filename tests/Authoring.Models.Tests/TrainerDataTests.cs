// The trainer and the data types with every kind of input and target the DSL compiles: token ids with a label per
// position, float targets for MSE, L1 and BCE. The host-side evaluation loss (EvalLoss, double) is an implementation
// independent of the generated loss kernels: on models without BatchNorm or dropout, evaluation mode equals training
// mode, so its mean and accuracy over one batch must equal what TrainStep reports for that batch.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Models.Tests;

public class TrainerDataTests
{
    /// <summary>A data set of <paramref name="count"/> samples the model takes, from LossTests' batch maker.</summary>
    static SampleSet Data(IModel m, int count, int seed, IModel? teacher = null)
    {
        var b = LossTests.Batch(m, count, seed);
        if (teacher is not null) b = Teach(teacher, b, count);
        return (m.InputKind, m.Loss == Loss.CrossEntropy) switch
        {
            (InputKind.Tokens, true) => SampleSet.TokensWithLabels(b.Ids, m.InputSize, b.Labels, m.OutputShape[^1], m.TargetSize),
            (InputKind.Tokens, false) => SampleSet.TokensWithTargets(b.Ids, m.InputSize, b.Targets, m.TargetSize),
            (_, true) => SampleSet.WithLabels(b.X, m.InputShape, b.Labels, m.OutputShape[^1], m.TargetSize),
            _ => SampleSet.WithTargets(b.X, m.InputShape, b.Targets, m.TargetSize),
        };
    }

    /// <summary>
    /// Replaces the batch's random targets by what <paramref name="teacher"/> (the same architecture with other
    /// weights) computes from the inputs: the student can fit them exactly, so a falling loss is a property of the
    /// trainer, not luck of the data. Random targets carry an irreducible loss that need not fall by any margin.
    /// </summary>
    static (float[] X, int[] Ids, int[] Labels, float[] Targets) Teach(IModel teacher, (float[] X, int[] Ids, int[] Labels, float[] Targets) b, int count)
    {
        var y = new float[count * teacher.OutputSize];
        LossTests.Infer(teacher, b, count, y);
        if (teacher.Loss == Loss.CrossEntropy)
        {
            int classes = teacher.OutputShape[^1];
            var labels = new int[y.Length / classes];
            for (int r = 0; r < labels.Length; r++)
                labels[r] = b.Labels[r] == SampleSet.IgnoreLabel ? SampleSet.IgnoreLabel : ArgMax(y.AsSpan(r * classes, classes));
            return (b.X, b.Ids, labels, b.Targets);
        }
        // BCE: the teacher's decisions as 0/1 labels; MSE/L1: its outputs as they are.
        var targets = teacher.Loss == Loss.BceWithLogits ? y.Select(v => v > 0 ? 1f : 0f).ToArray() : y;
        return (b.X, b.Ids, b.Labels, targets);
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    public static TheoryData<string> Models => new() { nameof(TinyLm), nameof(Regressor), nameof(L1Regressor), nameof(MultiLabel) };

    static IModel Make(string name) => name switch
    {
        nameof(TinyLm) => new TinyLm(),
        nameof(Regressor) => new Regressor(),
        nameof(L1Regressor) => new L1Regressor(),
        _ => new MultiLabel(),
    };

    [Theory, MemberData(nameof(Models))]
    public void EvaluationLossEqualsTheTrainingStepsLossOnOneBatch(string name)
    {
        var model = Make(name);
        GradientTests.Randomize(model.Parameters, 5);
        const int N = 6;
        var data = Data(model, N, 8);
        var eval = Trainer.Evaluate(model, data, batchSize: 4); // two Infer calls: means must combine across batches
        var r = LossTests.Train(model, LossTests.Batch(model, N, 8), N);
        // float32 kernels (sums over <= 6 x 7 x 11 terms) against double: 1e-5 relative is ~100x the round-off.
        Assert.Equal(r.Loss, eval.Loss, Math.Max(1e-6, 1e-5 * Math.Abs(r.Loss)));
        if (model.Loss is Loss.Mse or Loss.L1)
        {
            Assert.True(double.IsNaN(eval.Accuracy));
            Assert.Equal(0, r.Total);
        }
        else Assert.Equal((double)r.Correct / r.Total, eval.Accuracy);
    }

    [Theory, MemberData(nameof(Models))]
    public void TheTrainerTrainsEveryKindOfTargetUntilItsLossFalls(string name)
    {
        var model = Make(name);
        GradientTests.Randomize(model.Parameters, 2);
        var teacher = Make(name);
        GradientTests.Randomize(teacher.Parameters, 7);
        var train = Data(model, 96, 3, teacher);
        var log = new StringWriter();
        var history = new Trainer(model, new AdamW(0.03f), new TrainerOptions { Epochs = 10, BatchSize = 16, Log = log, Progress = ProgressMode.None })
            .Fit(train, train.Slice(0, 32));
        Assert.True(history[^1].TrainLoss < 0.8 * history[0].TrainLoss, $"{name}: {history[0].TrainLoss} -> {history[^1].TrainLoss}\n{log}");
        Assert.True(history[^1].TestLoss < history[0].TestLoss, log.ToString());
        bool regression = model.Loss is Loss.Mse or Loss.L1;
        Assert.Equal(regression, double.IsNaN(history[^1].TrainAccuracy));
        Assert.Equal(regression, double.IsNaN(history[^1].TestAccuracy));
        if (regression) Assert.Contains("acc -", log.ToString());
        if (!regression) Assert.InRange(history[^1].TrainAccuracy, 0, 1);
        Assert.Contains(model.InputKind == InputKind.Tokens || model.InputShape.Count != 3 ? "samples/s" : "img/s", log.ToString());
    }

    [Fact]
    public void DataOfTheWrongKindIsRejectedBeforeTraining()
    {
        var options = new TrainerOptions { Epochs = 1, BatchSize = 4, Log = TextWriter.Null };
        var lm = new TinyLm();
        var floats = SampleSet.WithLabels(new float[8 * 7], [7], new int[8 * 7], 11, 7);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(lm, new Sgd(0.1f), options).Fit(floats));
        Assert.Contains("TinyLm takes token ids; the data holds floats", e.Message);

        var regressor = new Regressor();
        var labelled = SampleSet.WithLabels(new float[8 * 5], [5], new int[8], 3);
        e = Assert.Throws<ArgumentException>(() => new Trainer(regressor, new Sgd(0.1f), options).Fit(labelled));
        Assert.Contains("trains with Mse, which takes float targets; the data holds integer labels", e.Message);

        var onePerSample = SampleSet.TokensWithLabels(new int[8 * 7], 7, new int[8], 11);
        e = Assert.Throws<ArgumentException>(() => new Trainer(lm, new Sgd(0.1f), options).Fit(onePerSample));
        Assert.Contains("takes 7 labels per sample; the data has 1", e.Message);
    }

    [Fact]
    public void SampleSetsCheckWhatTheyAreGiven()
    {
        Assert.Contains("not a whole number of samples", Assert.Throws<ArgumentException>(() => SampleSet.WithTargets(new float[7], [2], new float[3], 1)).Message);
        Assert.Contains("need 6 labels (2 per sample); got 5", Assert.Throws<ArgumentException>(() => SampleSet.TokensWithLabels(new int[6], 2, new int[5], 4, 2)).Message);
        Assert.Contains("Label 4 at 1 (sample 0) is outside [0, 4)", Assert.Throws<ArgumentException>(() => SampleSet.TokensWithLabels(new int[2], 2, [0, 4], 4, 2)).Message);
        Assert.Contains("Token -1 at 1", Assert.Throws<ArgumentException>(() => SampleSet.TokensWithLabels([0, -1], 2, [0], 4)).Message);
        Assert.Contains("targets must be finite", Assert.Throws<ArgumentException>(() => SampleSet.WithTargets(new float[2], [1], [0f, float.NaN], 1)).Message);
        // The ignored label is data, not an error; a slice keeps every kind.
        var lm = SampleSet.TokensWithLabels([1, 2, 3, 4], 2, [SampleSet.IgnoreLabel, 1, 2, 3], 4, 2);
        var tail = lm.Slice(1, 1);
        Assert.Equal((1, InputKind.Tokens, 2, 4), (tail.Count, tail.InputKind, tail.TargetSize, tail.ClassCount));
    }
}
