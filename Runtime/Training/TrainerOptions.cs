// What a training run is configured with, and what it reports per epoch.
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Training;

/// <summary>How the per-epoch progress bar is shown.</summary>
public enum ProgressMode
{
    /// <summary>An in-place bar when the log is the console attached to a terminal, else a line every ~10%.</summary>
    Auto,
    /// <summary>Always an in-place bar redrawn with '\r'.</summary>
    Bar,
    /// <summary>A line at every ~10% of the epoch.</summary>
    Lines,
    /// <summary>No progress output; only the per-epoch summary line.</summary>
    None,
}

/// <summary>Settings of a <see cref="Trainer"/> run.</summary>
public sealed record TrainerOptions
{
    /// <summary>Passes over the training set.</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>Samples per training step.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Samples per <see cref="IModel.Infer(ReadOnlySpan{float}, int, Span{float})"/> call during evaluation.</summary>
    public int EvalBatchSize { get; init; } = 500;
    /// <summary>Seed of the shuffling.</summary>
    public int Seed { get; init; }
    /// <summary>Skip the last incomplete training batch each epoch (PyTorch DataLoader's drop_last).</summary>
    public bool DropLast { get; init; }
    /// <summary>Learning-rate schedule; null keeps the optimizer's learning rate fixed.</summary>
    public CosineSchedule? Schedule { get; init; }
    /// <summary>When set, the parameters are saved there (safetensors) after every epoch, with the training state
    /// (optimizer buffers, position) beside it in <see cref="Trainer.TrainingStatePath"/>. A checkpoint holding a
    /// non-finite value is never written.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>Continue the run whose training state is beside <see cref="CheckpointPath"/>, when there is one (else start
    /// from epoch 1): same weights, optimizer state, shuffling and dropout masks, so with the same settings, seed and
    /// machine the result is bit-identical to a run that was never interrupted. <see cref="Epochs"/> is the total.</summary>
    public bool Resume { get; init; }
    /// <summary>Where progress and epoch lines go; null means <see cref="Console.Out"/>.</summary>
    public TextWriter? Log { get; init; }
    /// <summary>How progress within an epoch is shown.</summary>
    public ProgressMode Progress { get; init; } = ProgressMode.Auto;
    /// <summary>Called after every epoch (after its evaluation and checkpoint) with every epoch's figures so far,
    /// e.g. to redraw a training-curve plot; null for none.</summary>
    public Action<IReadOnlyList<EpochStats>>? EpochEnd { get; init; }
}

/// <summary>Loss and accuracy of a model on a data set.</summary>
/// <param name="Accuracy">Fraction of predictions that are correct, in [0, 1] (samples, non-ignored positions or BCE labels); NaN for MSE and L1.</param>
/// <param name="Loss">Mean of the model's declared loss (cross-entropy without label smoothing, MSE, L1 or BCE with logits).</param>
public readonly record struct EvalResult(double Accuracy, double Loss);

/// <summary>What one epoch measured.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss over the epoch (training mode, as TrainStep reported it).</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch, in [0, 1].</param>
/// <param name="TestLoss">Mean test loss after the epoch (evaluation mode); NaN without a test set.</param>
/// <param name="TestAccuracy">Test accuracy after the epoch, in [0, 1]; NaN without a test set.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="ImagesPerSecond">Training throughput (steps only, evaluation excluded).</param>
/// <param name="Seconds">Wall time of the whole epoch, evaluation and checkpoint included.</param>
public sealed record EpochStats(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    float LearningRate, double ImagesPerSecond, double Seconds)
{
    /// <summary>Firing rate per spiking neuron layer over the epoch's training steps; empty for other models.</summary>
    public IReadOnlyList<FiringRate> FiringRates { get; init; } = [];
}
