// What every generated model offers the runtime: inference, one training step, its parameters. A model takes
// float inputs or integer token ids, and trains on integer labels (cross-entropy) or float targets (MSE, L1,
// BCE with logits), as its [Model] attribute declares; the overloads that do not fit a model throw.
namespace Authoring.Runtime;

/// <summary>The result of one training step over a batch.</summary>
/// <param name="Loss">The mean loss over the batch (over positions for per-position cross-entropy, over elements
/// for MSE, L1 and BCE), as PyTorch's mean reduction.</param>
/// <param name="Correct">Predictions that match: arg-max equal to the label (cross-entropy), or logit sign equal to
/// the target's side of 0.5 (BCE); 0 for regression losses.</param>
/// <param name="Total">Predictions <paramref name="Correct"/> counts out of; 0 for regression losses. A
/// hand-written model may leave it 0 for one label per sample (then the batch size is meant).</param>
public readonly record struct StepResult(float Loss, int Correct, int Total = 0);

/// <summary>What a model's input holds.</summary>
public enum InputKind
{
    /// <summary>Floats of the input shape per sample.</summary>
    Floats,
    /// <summary>Integer token ids per sample, read by an Embedding.</summary>
    Tokens,
}

/// <summary>A compiled model (CPU SIMD or ILGPU backend), as the generator emits it.</summary>
/// <remarks>A model instance is single-threaded: its arena and state are shared by its calls. Calling it from a
/// second thread while a call is running throws <see cref="InvalidOperationException"/>; use one instance per thread
/// (instances may share a <see cref="ParameterStore"/> for inference).</remarks>
public interface IModel
{
    /// <summary>The model class name.</summary>
    string Name { get; }
    /// <summary>Shape of one input sample (batch excluded).</summary>
    IReadOnlyList<int> InputShape { get; }
    /// <summary>Floats (or token ids) per input sample.</summary>
    int InputSize { get; }
    /// <summary>Floats per output sample.</summary>
    int OutputSize { get; }
    /// <summary>Shape of one output sample.</summary>
    IReadOnlyList<int> OutputShape => [OutputSize];
    /// <summary>Whether the input is floats or token ids.</summary>
    InputKind InputKind => InputKind.Floats;
    /// <summary>The loss a training step minimises.</summary>
    Loss Loss => Loss.CrossEntropy;
    /// <summary>Targets per sample: integer labels for cross-entropy (one per sample, or one per position of an
    /// (N, classes) output), floats of the output's size for the other losses.</summary>
    int TargetSize => 1;
    /// <summary>Parameters, gradients and running statistics.</summary>
    ParameterStore Parameters { get; }
    /// <summary>Training steps taken; seeds each step's dropout masks; checkpoints save it (so a resumed run draws
    /// the masks an uninterrupted one would).</summary>
    ulong TrainSteps { get; set; }
    /// <summary>Evaluation-mode forward (running BatchNorm statistics, no dropout) into <paramref name="output"/>.</summary>
    void Infer(ReadOnlySpan<float> input, int batch, Span<float> output);
    /// <summary>Evaluation-mode forward of a model over token ids.</summary>
    void Infer(ReadOnlySpan<int> tokens, int batch, Span<float> output) =>
        throw new InvalidOperationException($"{Name} takes float input, not token ids: call Infer(ReadOnlySpan<float> input, ...).");
    /// <summary>Training-mode forward, the loss against integer <paramref name="labels"/>, and backward:
    /// parameter gradients are overwritten in <see cref="ParameterStore.Grads"/>; running statistics update.</summary>
    StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch);
    /// <summary>A training step against float <paramref name="targets"/> (MSE, L1, BCE with logits).</summary>
    StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<float> targets, int batch) =>
        throw new InvalidOperationException($"{Name} trains on integer class labels: call TrainStep(input, ReadOnlySpan<int> labels, batch).");
    /// <summary>A training step of a token model against integer labels.</summary>
    StepResult TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<int> labels, int batch) =>
        throw new InvalidOperationException($"{Name} takes float input, not token ids: call TrainStep(ReadOnlySpan<float> input, ...).");
    /// <summary>Firing rate of each spiking neuron layer (in the order of Forward) over every forward pass, training and
    /// inference, since <see cref="ResetFiringRates"/>; empty for a model without neurons.</summary>
    IReadOnlyList<FiringRate> FiringRates => [];
    /// <summary>Clears the spike counters behind <see cref="FiringRates"/>.</summary>
    void ResetFiringRates() { }
    /// <summary>Runs <paramref name="step"/> (one of this model's training steps) in diagnostic mode, checking the input
    /// and every value the step writes, step by step, and returns where the first NaN or infinity appeared; null when
    /// every value stayed finite, or when the backend cannot trace (the ILGPU backend, hand-written models). The
    /// trainer calls it after a step whose loss or gradients were non-finite, to name the op and layer: tracing costs
    /// a pass over every value after every kernel, so ordinary steps never do it.</summary>
    NonFiniteOrigin? TraceNonFinite(Func<StepResult> step) => null;
    /// <summary>A training step of a token model against float targets.</summary>
    StepResult TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<float> targets, int batch) =>
        throw new InvalidOperationException($"{Name} takes float input, not token ids: call TrainStep(ReadOnlySpan<float> input, ...).");
}
