// The trainer under divergence and interruption: a non-finite loss, gradient or parameter stops training
// at its step with a NonFiniteException and never replaces a good checkpoint; a run resumed in fresh
// objects from the training-state file ends bit-identical to one that was never interrupted.
using Authoring.Runtime.Checkpoints;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Runtime.Tests.Training;

public sealed class TrainerReliabilityTests : IDisposable
{
    const int Classes = 3, Batch = 32, StepsPerEpoch = 19; // 600 samples: 18 full batches and one of 24
    static readonly int[] Shape = [1, 2, 4];
    readonly string _dir = Directory.CreateTempSubdirectory("trainer-reliability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static LabeledImages Blobs(int n, int seed, bool noisy = false)
    {
        var rng = new Random(seed);
        var x = new float[n * 8];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % Classes;
            for (int d = 0; d < 8; d++) x[i * 8 + d] = (float)((d == y[i] ? 3 : 0) + rng.NextDouble() - 0.5);
            // Noisy: every tenth label wrong, so no weights classify everything and a huge step makes a huge loss.
            if (noisy && i % 10 == 0) y[i] = (y[i] + 1) % Classes;
        }
        return new LabeledImages(x, y, 1, 2, 4, Classes);
    }

    static readonly LabeledImages Train = Blobs(600, 1), Test = Blobs(90, 2), Noisy = Blobs(600, 1, noisy: true);

    /// <summary>Wraps a model and, at one global step (1-based), does something bad after the inner TrainStep:
    /// a NaN loss, a NaN gradient, an infinite parameter, or an exception (a crash).</summary>
    sealed class Saboteur(IModel inner, int atStep, string what) : IModel
    {
        public int Steps { get; private set; }
        public float[]? ValuesBeforeBadStep { get; private set; }
        public string Name => inner.Name;
        public IReadOnlyList<int> InputShape => inner.InputShape;
        public int InputSize => inner.InputSize;
        public int OutputSize => inner.OutputSize;
        public ParameterStore Parameters => inner.Parameters;
        public ulong TrainSteps { get => inner.TrainSteps; set => inner.TrainSteps = value; }
        public void Infer(ReadOnlySpan<float> input, int batch, Span<float> output) => inner.Infer(input, batch, output);

        public StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch)
        {
            if (++Steps == atStep)
            {
                ValuesBeforeBadStep = (float[])Parameters.Values.Clone();
                if (what == "crash") throw new IOException("power cut (simulated)");
            }
            var r = inner.TrainStep(input, labels, batch);
            if (Steps != atStep) return r;
            switch (what)
            {
                case "nan-loss": return r with { Loss = float.NaN };
                case "nan-gradient": Parameters.Grad(0)[5] = float.NaN; break;
                case "inf-parameter": Parameters.Value(1)[2] = float.PositiveInfinity; break;
            }
            return r;
        }
    }

    TrainerOptions Options(int epochs, string name = "ckpt", bool resume = false, int seed = 3) => new()
    {
        Epochs = epochs, BatchSize = Batch, Seed = seed, Log = TextWriter.Null, Progress = ProgressMode.None, Resume = resume,
        Schedule = new CosineSchedule(0.05f, Warmup: 5), CheckpointPath = Path.Combine(_dir, name + ".safetensors"),
    };

    /// <summary>The checkpoint file of the same 3-epoch run after <paramref name="epochs"/> epochs, from a run that crashes right after.</summary>
    byte[] Reference(int epochs)
    {
        var model = new Saboteur(new SoftmaxRegression(Shape, Classes, Batch), epochs * StepsPerEpoch + 1, "crash");
        var options = Options(3, "reference-" + epochs);
        Assert.Throws<IOException>(() => new Trainer(model, new AdamW(0.05f), options).Fit(Train, Test));
        return File.ReadAllBytes(options.CheckpointPath!);
    }

    [Theory]
    [InlineData("nan-loss", NonFiniteKind.Loss, null)]
    [InlineData("nan-gradient", NonFiniteKind.Gradient, "fc.weight")]
    public void ANonFiniteLossOrGradientStopsTrainingAtItsStepAndKeepsTheLastGoodCheckpoint(string what, NonFiniteKind kind, string? tensor)
    {
        // Global step 25 is epoch 2, step 6.
        var model = new Saboteur(new SoftmaxRegression(Shape, Classes, Batch), StepsPerEpoch + 6, what);
        var options = Options(3);
        var e = Assert.Throws<NonFiniteException>(() => new Trainer(model, new AdamW(0.05f), options).Fit(Train, Test));
        Assert.Equal(kind, e.Kind);
        Assert.True(float.IsNaN(e.Value));
        Assert.Equal(tensor, e.Tensor);
        Assert.Equal(2, e.Epoch);
        Assert.Equal(6, e.Step);
        Assert.Equal(StepsPerEpoch + 6, model.Steps); // stopped at that step
        Assert.Contains("at epoch 2, step 6", e.Message);
        Assert.Contains($"The last good checkpoint is {options.CheckpointPath} (epoch 1)", e.Message);
        Assert.Contains("TrainerOptions.Resume", e.Message);
        // The failing step changed nothing: the optimizer did not step (loss) or refused the gradient.
        Assert.Equal(model.ValuesBeforeBadStep, model.Parameters.Values);

        // Both files still hold epoch 1: the checkpoint is byte for byte the one a run that stopped after epoch 1 left.
        var meta = Safetensors.Load(new SoftmaxRegression(Shape, Classes, Batch).Parameters, options.CheckpointPath!);
        Assert.Equal("1", meta["epoch"]);
        Assert.Equal(Reference(1), File.ReadAllBytes(options.CheckpointPath!));
        Assert.Equal("1", Safetensors.ReadHeader(Trainer.TrainingStatePath(options.CheckpointPath!)).Metadata["epochs_done"]);
    }

    [Fact]
    public void AParameterThatBecameInfiniteIsNeverCheckpointed()
    {
        // The loss of the poisoned step is still finite; the epoch-end check finds the infinite bias.
        var model = new Saboteur(new SoftmaxRegression(Shape, Classes, Batch), 2 * StepsPerEpoch, "inf-parameter");
        var options = Options(3);
        var e = Assert.Throws<NonFiniteException>(() => new Trainer(model, new AdamW(0.05f), options).Fit(Train));
        Assert.Equal(NonFiniteKind.Parameter, e.Kind);
        Assert.Equal("fc.bias", e.Tensor);
        Assert.Equal(2, e.Index);
        Assert.Equal(2, e.Epoch);
        Assert.Contains("the checkpoint, which was not written", e.Message);
        Assert.Equal("1", Safetensors.ReadHeader(options.CheckpointPath!).Metadata["epoch"]);
        Assert.Equal("1", Safetensors.ReadHeader(Trainer.TrainingStatePath(options.CheckpointPath!)).Metadata["epochs_done"]);
    }

    [Fact]
    public void TheIssuesDivergingRunNoLongerOverwritesAGoodCheckpoint()
    {
        // Issue #10: at learning rate 1e6 the loss is non-finite within a few steps; the trainer used to warn at the end of the
        // epoch and overwrite the good checkpoint with NaNs. One good epoch, then the same run resumed at 1e6.
        var options = Options(1) with { Schedule = null };
        var model = new SoftmaxRegression(Shape, Classes, Batch);
        new Trainer(model, new Sgd(0.05f), options).Fit(Noisy);
        byte[] good = File.ReadAllBytes(options.CheckpointPath!);

        var diverging = new SoftmaxRegression(Shape, Classes, Batch);
        var log = new StringWriter();
        var e = Assert.Throws<NonFiniteException>(() =>
            new Trainer(diverging, new Sgd(1e6f), options with { Epochs = 3, Resume = true, Log = log }).Fit(Noisy));
        Assert.Equal(NonFiniteKind.Loss, e.Kind);
        Assert.Equal(2, e.Epoch);
        Assert.True(e.Step <= 5, $"stopped at step {e.Step}");
        Assert.Contains("Resuming SoftmaxRegression after epoch 1", log.ToString());
        Assert.Contains("note: Sgd lr was 0.05, now 1000000", log.ToString());
        Assert.Equal(good, File.ReadAllBytes(options.CheckpointPath!));
        Safetensors.Load(new SoftmaxRegression(Shape, Classes, Batch).Parameters, options.CheckpointPath!); // finite, loads
    }

    public static TheoryData<string> Optimizers => new() { "adamw", "sgd-nesterov" };

    static IOptimizer MakeOptimizer(string kind) => kind == "adamw"
        ? new AdamW(0.05f, weightDecay: 0.01)
        : new Sgd(0.05f, momentum: 0.9, weightDecay: 1e-3, nesterov: true);

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void AResumedRunEndsBitIdenticalToAnUninterruptedOne(string optimizer)
    {
        const int Epochs = 4;
        var straight = new SoftmaxRegression(Shape, Classes, Batch);
        var straightOpt = MakeOptimizer(optimizer);
        var straightHistory = new Trainer(straight, straightOpt, Options(Epochs, "straight")).Fit(Train, Test);

        // The same run, crashing at the first step of epoch 3, then resumed in fresh objects.
        var options = Options(Epochs, "resumed");
        var crashing = new Saboteur(new SoftmaxRegression(Shape, Classes, Batch), 2 * StepsPerEpoch + 1, "crash");
        Assert.Throws<IOException>(() => new Trainer(crashing, MakeOptimizer(optimizer), options).Fit(Train, Test));
        Assert.Equal("2", Safetensors.ReadHeader(options.CheckpointPath!).Metadata["epoch"]);

        var resumed = new SoftmaxRegression(Shape, Classes, Batch, seed: 42); // other initial weights: all must come from the file
        var resumedOpt = MakeOptimizer(optimizer);
        var log = new StringWriter();
        var history = new Trainer(resumed, resumedOpt, options with { Resume = true, Log = log }).Fit(Train, Test);

        Assert.Contains("Resuming SoftmaxRegression after epoch 2", log.ToString());
        Assert.Equal([3, 4], history.Select(h => h.Epoch));
        Assert.Equal(straight.Parameters.Values, resumed.Parameters.Values);
        Assert.Equal(straight.TrainSteps, resumed.TrainSteps);
        Assert.Equal(straightOpt.StepCount, resumedOpt.StepCount);
        foreach (var (name, buffer) in straightOpt.GetState().Buffers) Assert.Equal(buffer, resumedOpt.GetState().Buffers[name]);
        // Same batches in the same order: the epochs' losses agree to the bit.
        Assert.Equal(straightHistory.Skip(2).Select(h => h.TrainLoss), history.Select(h => h.TrainLoss));
        Assert.Equal(straightHistory[^1].TestAccuracy, history[^1].TestAccuracy);
    }

    [Fact]
    public void ResumeRefusesSettingsThatWouldMakeAnotherRun()
    {
        new Trainer(new SoftmaxRegression(Shape, Classes, Batch), new AdamW(), Options(1)).Fit(Train);
        var model = new SoftmaxRegression(Shape, Classes, Batch, seed: 5);
        var before = (float[])model.Parameters.Values.Clone();
        var e = Assert.Throws<InvalidOperationException>(() => new Trainer(model, new AdamW(), Options(2, resume: true, seed: 4)).Fit(Train));
        Assert.Contains("the run was trained with seed 3, this one has 4", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => new Trainer(model, new AdamW(), Options(2, resume: true) with { BatchSize = 16 }).Fit(Train));
        Assert.Contains("batch size 32, this one has 16", e.Message);
        var d = Assert.Throws<InvalidDataException>(() => new Trainer(model, new Sgd(0.1f), Options(2, resume: true)).Fit(Train));
        Assert.Contains("it was written by AdamW; this run uses Sgd", d.Message);
        Assert.Equal(before, model.Parameters.Values); // nothing was loaded
    }

    [Fact]
    public void ResumeWithoutAStateFileStartsFromEpochOneAndTheStateFileIsSafetensors()
    {
        var log = new StringWriter();
        var options = Options(1, resume: true) with { Log = log };
        var history = new Trainer(new SoftmaxRegression(Shape, Classes, Batch), new Sgd(0.1f, momentum: 0.5), options).Fit(Train);
        Assert.Equal([1], history.Select(h => h.Epoch));
        Assert.Contains("No training state at", log.ToString());

        string state = Trainer.TrainingStatePath(options.CheckpointPath!);
        Assert.Equal(Path.Combine(_dir, "ckpt.train-state.safetensors"), state);
        Assert.Equal("x.bin.train-state.safetensors", Trainer.TrainingStatePath("x.bin"));
        var header = Safetensors.ReadHeader(state);
        Assert.Equal(["model.fc.weight", "model.fc.bias", "optimizer.momentum_buffer.fc.weight", "optimizer.momentum_buffer.fc.bias"],
            header.Tensors.Select(t => t.Name));
        Assert.Equal("authoring-training-state", header.Metadata["format"]);
        Assert.Equal(StepsPerEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture), header.Metadata["train_steps"]);
        // The checkpoint itself stays a plain state_dict.
        Assert.Equal(["fc.weight", "fc.bias"], Safetensors.ReadHeader(options.CheckpointPath!).Tensors.Select(t => t.Name));
    }
}
