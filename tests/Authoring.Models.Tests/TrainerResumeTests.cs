// A generated model with BatchNorm and dropout, trained by the runtime's Trainer: interrupted after two
// epochs and resumed in fresh objects from the training-state file, it ends with bit-identical weights,
// running statistics and dropout step counter to a run that was never interrupted (same machine, seed).
using Authoring;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;
using static Authoring.Ops;

namespace Authoring.Models.Tests;

/// <summary>Conv, BatchNorm (running statistics in the checkpoint), ReLU, pool, dropout (masks seeded by the step counter), linear.</summary>
[Model]
public partial class ResumeNet
{
    readonly Conv2d conv = new(1, 5, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn = new(5);
    readonly Dropout drop = new(0.3f);
    readonly Linear fc = new(5, 3);

    Tensor Forward([Shape(1, 6, 6)] Tensor x) => fc.Forward(drop.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x))))));
}

public sealed class TrainerResumeTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("trainer-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Class k brightens row band k of a 6x6 image, plus noise.</summary>
    static LabeledImages Data(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * 36];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = rng.Next(3);
            for (int p = 0; p < 36; p++) x[i * 36 + p] = (float)((p / 12 == y[i] ? 1.0 : 0.0) + 0.5 * rng.NextDouble());
        }
        return new LabeledImages(x, y, 1, 6, 6, 3);
    }

    sealed class CrashAt(IModel inner, int step) : IModel
    {
        int _steps;
        public string Name => inner.Name;
        public IReadOnlyList<int> InputShape => inner.InputShape;
        public int InputSize => inner.InputSize;
        public int OutputSize => inner.OutputSize;
        public ParameterStore Parameters => inner.Parameters;
        public ulong TrainSteps { get => inner.TrainSteps; set => inner.TrainSteps = value; }
        public void Infer(ReadOnlySpan<float> input, int batch, Span<float> output) => inner.Infer(input, batch, output);
        public StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch) =>
            ++_steps == step ? throw new IOException("killed (simulated)") : inner.TrainStep(input, labels, batch);
    }

    [Fact]
    public void AResumedRunOfAModelWithBatchNormAndDropoutIsBitIdenticalToAnUninterruptedOne()
    {
        var train = Data(200, 1);
        var test = Data(60, 2);
        const int Epochs = 4, Steps = 13; // 200 / 16: 12 full batches and one of 8
        TrainerOptions Options(string name) => new()
        {
            Epochs = Epochs, BatchSize = 16, Seed = 7, Log = TextWriter.Null, Progress = ProgressMode.None,
            Schedule = new CosineSchedule(0.02f, Warmup: 4), CheckpointPath = Path.Combine(_dir, name + ".safetensors"),
        };

        var straight = new ResumeNet();
        straight.Parameters.Initialize(seed: 1);
        var straightOpt = new AdamW(0.02f, weightDecay: 1e-3);
        new Trainer(straight, straightOpt, Options("straight")).Fit(train, test);

        var first = new ResumeNet();
        first.Parameters.Initialize(seed: 1);
        var options = Options("resumed");
        Assert.Throws<IOException>(() => new Trainer(new CrashAt(first, 2 * Steps + 1), new AdamW(0.02f, weightDecay: 1e-3), options).Fit(train, test));
        string afterTwoEpochs = Copy(options.CheckpointPath!);

        var resumed = new ResumeNet(); // fresh objects, default (seed 0) initialisation: everything must come from the files
        var resumedOpt = new AdamW(0.02f, weightDecay: 1e-3);
        var history = new Trainer(resumed, resumedOpt, options with { Resume = true }).Fit(train, test);

        Assert.Equal([3, 4], history.Select(h => h.Epoch));
        Assert.Equal((ulong)(Epochs * Steps), straight.TrainSteps);
        Assert.Equal(straight.TrainSteps, resumed.TrainSteps);
        Assert.Equal(straightOpt.StepCount, resumedOpt.StepCount);
        for (int i = 0; i < straight.Parameters.Infos.Count; i++)
            Assert.True(straight.Parameters.Value(i).SequenceEqual(resumed.Parameters.Value(i)), $"{straight.Parameters.Infos[i].Name} differs");
        // The checkpoints of both runs are the same bytes, running statistics and metadata included.
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "straight.safetensors")), File.ReadAllBytes(options.CheckpointPath!));

        // Control: the same resume with the dropout step counter not restored (the model ignores it) draws other masks and
        // ends elsewhere, so the identity above is the counter's doing, not dropout being inert.
        var forgetful = new ResumeNet();
        new Trainer(new ForgetsSteps(forgetful), new AdamW(0.02f, weightDecay: 1e-3), options with { Resume = true, CheckpointPath = afterTwoEpochs })
            .Fit(train, test);
        Assert.Equal(straight.TrainSteps / 2, forgetful.TrainSteps);
        Assert.False(forgetful.Parameters.Values.SequenceEqual(straight.Parameters.Values));
    }

    /// <summary>Copies a checkpoint and its training state under a new name, for a second resume of the same run.</summary>
    string Copy(string checkpoint)
    {
        string to = Path.Combine(_dir, "copy.safetensors");
        File.Copy(checkpoint, to);
        File.Copy(Trainer.TrainingStatePath(checkpoint), Trainer.TrainingStatePath(to));
        return to;
    }

    sealed class ForgetsSteps(IModel inner) : IModel
    {
        public string Name => inner.Name;
        public IReadOnlyList<int> InputShape => inner.InputShape;
        public int InputSize => inner.InputSize;
        public int OutputSize => inner.OutputSize;
        public ParameterStore Parameters => inner.Parameters;
        public ulong TrainSteps { get => inner.TrainSteps; set { } }
        public void Infer(ReadOnlySpan<float> input, int batch, Span<float> output) => inner.Infer(input, batch, output);
        public StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch) => inner.TrainStep(input, labels, batch);
    }
}
