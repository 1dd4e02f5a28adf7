// Spiking neuron layers with SpikingJelly's names, arguments and defaults (spikingjelly.activation_based.neuron
// IFNode, LIFNode, ParametricLIFNode and the surrogate module). A neuron acts on a time-major value (T, ...) per
// sample (the batch stays outside, as in SpikingJelly's multi-step mode with [T, N, ...] tensors): the whole time loop
// runs in one fused kernel forward and one backward (BPTT). Encoders and the readout are in Ops (Repeat, Poisson,
// MeanOverTime). Like the other layers, these classes only remember their arguments.
namespace Authoring;

/// <summary>The surrogate gradient a neuron's backward uses in place of the Heaviside step's derivative (SpikingJelly's
/// <c>surrogate</c> module); the forward is always the step, spike = (h &gt;= v_threshold).</summary>
public enum Surrogate
{
    /// <summary><c>surrogate.Sigmoid(alpha=4)</c>: g'(x) = alpha sigmoid(alpha x) (1 - sigmoid(alpha x)).</summary>
    Sigmoid,
    /// <summary><c>surrogate.ATan(alpha=2)</c>: g'(x) = (alpha / 2) / (1 + (pi/2 alpha x)^2).</summary>
    ATan,
    /// <summary>The rectangular window, height alpha and width 1/alpha (default alpha 1): g'(x) = alpha where |x| &lt; 0.5/alpha.</summary>
    Rect,
    /// <summary><c>surrogate.PiecewiseQuadratic(alpha=1)</c>, the triangular window: g'(x) = alpha - alpha^2 |x| where |x| &lt;= 1/alpha.</summary>
    PiecewiseQuadratic,
}

/// <summary>Base of the spiking neuron layers. Each acts on a time-major value (T, C, H, W), (T, F) or (T, N, D) per
/// sample, carrying its membrane potential v across the T steps; the membrane starts every sample at v_reset (0 with
/// soft reset), as after SpikingJelly's <c>functional.reset_net</c>.</summary>
/// <remarks>
/// <para>Reset: <c>vReset</c> is SpikingJelly's <c>v_reset</c>. A finite value is a hard reset (v = v_reset after a
/// spike); <see cref="SoftReset"/> (NaN) stands for SpikingJelly's <c>v_reset=None</c>, the soft reset
/// v = h - v_threshold after a spike. (C# layer arguments must be constants, and a nullable default cannot be read as
/// one, so None is spelled NaN.)</para>
/// <para>Surrogate: <c>surrogate</c> and <c>alpha</c> are SpikingJelly's <c>surrogate_function=surrogate.X(alpha)</c>;
/// alpha NaN (the default) takes that surrogate's SpikingJelly default (Sigmoid 4, ATan 2, Rect 1,
/// PiecewiseQuadratic 1).</para>
/// <para><c>detachReset</c>: backward ignores the reset's dependence on the spike (SpikingJelly's <c>detach_reset</c>).</para>
/// <para>Firing rates: every compiled model counts each neuron layer's spikes; <c>model.FiringRates</c> lists the
/// rate per layer since <c>ResetFiringRates()</c>.</para>
/// </remarks>
public abstract class NeuronLayer : Layer
{
    /// <summary>Pass as <c>vReset</c> for a soft reset (SpikingJelly's <c>v_reset=None</c>).</summary>
    public const float SoftReset = float.NaN;
}

/// <summary>SpikingJelly <c>IFNode</c>: integrate-and-fire, h[t] = v[t-1] + x[t]; spike where h &gt;= v_threshold.
/// No parameters.</summary>
/// <param name="vThreshold">Firing threshold (finite; positive with a soft reset).</param>
/// <param name="vReset">Hard-reset value (below <paramref name="vThreshold"/>), or <see cref="NeuronLayer.SoftReset"/>.</param>
/// <param name="surrogate">Surrogate gradient function.</param>
/// <param name="alpha">Surrogate sharpness; NaN: the surrogate's SpikingJelly default.</param>
/// <param name="detachReset">Detach the reset from the graph in backward.</param>
public sealed class IFNode(float vThreshold = 1f, float vReset = 0f, Surrogate surrogate = Surrogate.Sigmoid, float alpha = float.NaN,
    bool detachReset = false) : NeuronLayer
{
    /// <summary>Firing threshold.</summary>
    public float VThreshold { get; } = vThreshold;
    /// <summary>Hard-reset value, or NaN for a soft reset.</summary>
    public float VReset { get; } = vReset;
    /// <summary>Surrogate gradient function.</summary>
    public Surrogate Surrogate { get; } = surrogate;
    /// <summary>Surrogate sharpness (NaN: its default).</summary>
    public float Alpha { get; } = alpha;
    /// <summary>Whether backward detaches the reset.</summary>
    public bool DetachReset { get; } = detachReset;
}

/// <summary>SpikingJelly <c>LIFNode</c>: leaky integrate-and-fire. With <paramref name="decayInput"/>
/// h[t] = v[t-1] + (x[t] - (v[t-1] - v_reset)) / tau, without it h[t] = v[t-1] - (v[t-1] - v_reset) / tau + x[t]
/// (v_reset counts as 0 with a soft reset). No parameters.</summary>
/// <param name="tau">Membrane time constant, finite and above 1 (SpikingJelly asserts tau &gt; 1).</param>
/// <param name="decayInput">Whether the input decays with the membrane.</param>
/// <param name="vThreshold">Firing threshold (finite; positive with a soft reset).</param>
/// <param name="vReset">Hard-reset value (below <paramref name="vThreshold"/>), or <see cref="NeuronLayer.SoftReset"/>.</param>
/// <param name="surrogate">Surrogate gradient function.</param>
/// <param name="alpha">Surrogate sharpness; NaN: the surrogate's SpikingJelly default.</param>
/// <param name="detachReset">Detach the reset from the graph in backward.</param>
public sealed class LIFNode(float tau = 2f, bool decayInput = true, float vThreshold = 1f, float vReset = 0f,
    Surrogate surrogate = Surrogate.Sigmoid, float alpha = float.NaN, bool detachReset = false) : NeuronLayer
{
    /// <summary>Membrane time constant.</summary>
    public float Tau { get; } = tau;
    /// <summary>Whether the input decays with the membrane.</summary>
    public bool DecayInput { get; } = decayInput;
    /// <summary>Firing threshold.</summary>
    public float VThreshold { get; } = vThreshold;
    /// <summary>Hard-reset value, or NaN for a soft reset.</summary>
    public float VReset { get; } = vReset;
    /// <summary>Surrogate gradient function.</summary>
    public Surrogate Surrogate { get; } = surrogate;
    /// <summary>Surrogate sharpness (NaN: its default).</summary>
    public float Alpha { get; } = alpha;
    /// <summary>Whether backward detaches the reset.</summary>
    public bool DetachReset { get; } = detachReset;
}

/// <summary>SpikingJelly <c>ParametricLIFNode</c> (PLIF): LIF whose 1/tau = sigmoid(w) is learned. One scalar parameter,
/// state_dict name <c>{field}.w</c>, initialised to -ln(init_tau - 1) so that tau starts at <paramref name="initTau"/>.</summary>
/// <param name="initTau">Initial tau, finite and above 1.</param>
/// <param name="decayInput">Whether the input decays with the membrane.</param>
/// <param name="vThreshold">Firing threshold (finite; positive with a soft reset).</param>
/// <param name="vReset">Hard-reset value (below <paramref name="vThreshold"/>), or <see cref="NeuronLayer.SoftReset"/>.</param>
/// <param name="surrogate">Surrogate gradient function.</param>
/// <param name="alpha">Surrogate sharpness; NaN: the surrogate's SpikingJelly default.</param>
/// <param name="detachReset">Detach the reset from the graph in backward.</param>
public sealed class ParametricLIFNode(float initTau = 2f, bool decayInput = true, float vThreshold = 1f, float vReset = 0f,
    Surrogate surrogate = Surrogate.Sigmoid, float alpha = float.NaN, bool detachReset = false) : NeuronLayer
{
    /// <summary>Initial membrane time constant.</summary>
    public float InitTau { get; } = initTau;
    /// <summary>Whether the input decays with the membrane.</summary>
    public bool DecayInput { get; } = decayInput;
    /// <summary>Firing threshold.</summary>
    public float VThreshold { get; } = vThreshold;
    /// <summary>Hard-reset value, or NaN for a soft reset.</summary>
    public float VReset { get; } = vReset;
    /// <summary>Surrogate gradient function.</summary>
    public Surrogate Surrogate { get; } = surrogate;
    /// <summary>Surrogate sharpness (NaN: its default).</summary>
    public float Alpha { get; } = alpha;
    /// <summary>Whether backward detaches the reset.</summary>
    public bool DetachReset { get; } = detachReset;
}
