// What an optimizer carries from step to step, as plain arrays, so a training run can be checkpointed
// and resumed bit for bit (Trainer writes it into the training-state file beside the checkpoint).
namespace Authoring.Runtime.Optim;

/// <summary>An optimizer's state: its step count and named buffers, each laid out like <see cref="ParameterStore.Values"/>
/// (entries of non-trainable tensors unused). Buffer names follow torch.optim's state_dict: "exp_avg", "exp_avg_sq"
/// (AdamW), "momentum_buffer" (SGD with momentum).</summary>
/// <param name="Optimizer">The optimizer's type name; loading into another type is refused.</param>
/// <param name="StepCount">Completed steps (bias corrections and SGD's first-step rule depend on it).</param>
/// <param name="Buffers">Named buffers, copies of the optimizer's own.</param>
/// <param name="Settings">Hyper-parameters, as invariant strings, so a resumed run can say what changed.</param>
public sealed record OptimizerState(string Optimizer, long StepCount, IReadOnlyDictionary<string, float[]> Buffers,
    IReadOnlyDictionary<string, string> Settings);
