// The contract between the training loop and an optimizer: one in-place update of a ParameterStore
// from its Grads, touching only trainable tensors (BatchNorm running statistics are left alone).
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
    void Step(ParameterStore store);
}
