// What every generated model offers the runtime: inference, one training step, its parameters.
namespace Authoring.Runtime;

/// <summary>The result of one training step over a batch.</summary>
/// <param name="Loss">Mean softmax cross-entropy over the batch.</param>
/// <param name="Correct">Samples whose arg-max logit equals the label.</param>
public readonly record struct StepResult(float Loss, int Correct);

/// <summary>A compiled model (CPU SIMD or ILGPU backend), as the generator emits it.</summary>
public interface IModel
{
    /// <summary>The model class name.</summary>
    string Name { get; }
    /// <summary>Shape of one input sample (batch excluded).</summary>
    IReadOnlyList<int> InputShape { get; }
    /// <summary>Floats per input sample.</summary>
    int InputSize { get; }
    /// <summary>Floats per output sample (logits).</summary>
    int OutputSize { get; }
    /// <summary>Parameters, gradients and running statistics.</summary>
    ParameterStore Parameters { get; }
    /// <summary>Training steps taken; seeds each step's dropout masks; checkpoints save it (so a resumed run draws
    /// the masks an uninterrupted one would).</summary>
    ulong TrainSteps { get; set; }
    /// <summary>Evaluation-mode forward (running BatchNorm statistics, no dropout) into <paramref name="output"/>.</summary>
    void Infer(ReadOnlySpan<float> input, int batch, Span<float> output);
    /// <summary>Training-mode forward, softmax cross-entropy against <paramref name="labels"/>, and backward:
    /// parameter gradients are overwritten in <see cref="ParameterStore.Grads"/>; running statistics update.</summary>
    StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch);
}
