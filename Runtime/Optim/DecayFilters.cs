// Ready-made choices of which tensors weight decay applies to, for the optimizers' decayFilter argument.
namespace Authoring.Runtime.Optim;

/// <summary>Weight-decay filters: which trainable tensors an optimizer decays.</summary>
public static class DecayFilters
{
    /// <summary>Decay convolution and linear weights only, not biases or BatchNorm scale and shift: the usual
    /// two-param-group recipe in PyTorch training scripts (normalisation and bias terms get weight_decay 0).</summary>
    public static Func<ParameterInfo, bool> WeightsOnly { get; } = static info => info.Role == ParameterRole.Weight;
}
