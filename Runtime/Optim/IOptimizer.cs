// The contract between the training loop and an optimizer: one in-place update of a ParameterStore
// from its Grads, touching only trainable tensors (BatchNorm running statistics are left alone), and
// its state as plain arrays for resumable checkpoints.
namespace Authoring.Runtime.Optim;

/// <summary>Updates a model's trainable parameters from their gradients.</summary>
public interface IOptimizer
{
    /// <summary>The learning rate the next <see cref="Step"/> uses; schedules set it before each step or epoch.</summary>
    float LearningRate { get; set; }

    /// <summary>Number of completed <see cref="Step"/> calls.</summary>
    long StepCount { get; }

    /// <summary>Applies one update to every trainable tensor of <paramref name="store"/> from
    /// <see cref="ParameterStore.Grads"/>. The optimizer binds to the first store it sees; its state
    /// (momentum, moments) is sized for that store, so passing another store throws.</summary>
    /// <exception cref="NonFiniteException">A gradient holds NaN or an infinity (the built-in optimizers check before
    /// changing anything, so the parameters and the optimizer's state are left as they were).</exception>
    void Step(ParameterStore store);

    /// <summary>A copy of the optimizer's state, for a training checkpoint.</summary>
    /// <exception cref="NotSupportedException">The optimizer cannot save its state (the default).</exception>
    OptimizerState GetState() => throw new NotSupportedException($"{GetType().Name} cannot save its state, so a run using it cannot be resumed.");

    /// <summary>Restores a state from <see cref="GetState"/>, binding the optimizer to <paramref name="store"/>.</summary>
    /// <exception cref="NotSupportedException">The optimizer cannot restore its state (the default).</exception>
    void SetState(ParameterStore store, OptimizerState state) => throw new NotSupportedException($"{GetType().Name} cannot restore its state, so a run using it cannot be resumed.");
}
