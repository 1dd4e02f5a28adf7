// The neurons of SpikingJelly's `neuron` module (IFNode, LIFNode, ParametricLIFNode), defined once over
// any lane type: charge h[t] = f(v[t-1], x[t]), fire s[t] = H(h[t] - v_threshold), reset v[t] = r(h[t], s[t]).
// The charge equations keep PyTorch's operation order (`functional.neuron.lif_charge`, `plif_step`) so a
// float32 step loop in PyTorch produces the same bits. The backward factors are those of SpikingJelly's
// fused BPTT kernels (`cuda_kernel/neuron_kernel/multi_step/base.py`):
//   grad_h[t] = (grad_h[t+1] dh/dv) dv/dh[t] + grad_s[t] g'(h[t] - v_th),  grad_x[t] = grad_h[t] dh/dx,
// with dv/dh = (1 - s) + (v_reset - h) g' (hard reset) or 1 - v_th g' (soft), the g' terms dropped by
// detach_reset; PLIF adds grad_k = sum grad_h[t] dh/dk and grad_w = grad_k k (1 - k), k = sigmoid(w).
using System.Runtime.CompilerServices;

namespace Authoring.Runtime.Cpu.Spiking;

/// <summary>Which neuron of SpikingJelly's <c>neuron</c> module.</summary>
public enum NeuronModel
{
    /// <summary><c>IFNode</c>: h = v + x.</summary>
    If,
    /// <summary><c>LIFNode</c>: h = v + (x - (v - v_reset)) / tau, or v - (v - v_reset) / tau + x without decay_input.</summary>
    Lif,
    /// <summary><c>ParametricLIFNode</c>: LIF with 1/tau = sigmoid(w), w learnable.</summary>
    ParametricLif,
}

/// <summary>The dynamics of one neuron layer, with SpikingJelly's arguments and defaults.</summary>
/// <remarks>The membrane starts each sequence at v_reset (hard reset) or 0 (soft reset), as SpikingJelly's
/// <c>BaseNode</c> registers <c>v</c> and <c>functional.reset_net</c> restores it. PLIF's parameter is a single scalar
/// <c>w</c> (state_dict name <c>{layer}.w</c>), initialised to <see cref="InitialW"/>(init_tau); the other neurons have
/// no parameters and no buffers (<c>v</c> is a memory, not part of state_dict).</remarks>
public readonly struct NeuronDynamics
{
    NeuronDynamics(NeuronModel model, float tau, bool decayInput, float vThreshold, float? vReset, bool detachReset)
    {
        if (!(vThreshold is > float.NegativeInfinity and < float.PositiveInfinity)) throw new ArgumentOutOfRangeException(nameof(vThreshold), "v_threshold must be finite.");
        if (vReset is { } r && !(r is > float.NegativeInfinity and < float.PositiveInfinity)) throw new ArgumentOutOfRangeException(nameof(vReset), "v_reset must be finite or null (soft reset).");
        Model = model; Tau = tau; DecayInput = decayInput; VThreshold = vThreshold; VReset = vReset; DetachReset = detachReset;
    }

    /// <summary>The neuron.</summary>
    public NeuronModel Model { get; }
    /// <summary>LIF's membrane time constant (unused by IF and PLIF).</summary>
    public float Tau { get; }
    /// <summary>Whether the input decays with the membrane (LIF and PLIF).</summary>
    public bool DecayInput { get; }
    /// <summary>Firing threshold: a spike where h &gt;= v_threshold.</summary>
    public float VThreshold { get; }
    /// <summary>Hard reset to this value after a spike; null: soft reset (subtract v_threshold).</summary>
    public float? VReset { get; }
    /// <summary>Whether backward ignores the reset's dependence on the spike.</summary>
    public bool DetachReset { get; }
    /// <summary>The membrane potential before the first step: v_reset, or 0 with soft reset.</summary>
    public float VInit => VReset ?? 0f;

    /// <summary>SpikingJelly <c>IFNode(v_threshold=1., v_reset=0., detach_reset=False)</c>.</summary>
    public static NeuronDynamics If(float vThreshold = 1f, float? vReset = 0f, bool detachReset = false)
        => new(NeuronModel.If, 0f, false, vThreshold, vReset, detachReset);

    /// <summary>SpikingJelly <c>LIFNode(tau=2., decay_input=True, v_threshold=1., v_reset=0., detach_reset=False)</c>; tau &gt; 1 as SpikingJelly asserts.</summary>
    public static NeuronDynamics Lif(float tau = 2f, bool decayInput = true, float vThreshold = 1f, float? vReset = 0f, bool detachReset = false)
    {
        if (!(tau > 1f) || float.IsInfinity(tau)) throw new ArgumentOutOfRangeException(nameof(tau), "LIF needs a finite tau > 1 (SpikingJelly asserts tau > 1).");
        return new(NeuronModel.Lif, tau, decayInput, vThreshold, vReset, detachReset);
    }

    /// <summary>SpikingJelly <c>ParametricLIFNode(init_tau=2., decay_input=True, v_threshold=1., v_reset=0., detach_reset=False)</c>;
    /// tau comes from the parameter w at run time (initialise it with <see cref="InitialW"/>).</summary>
    public static NeuronDynamics ParametricLif(bool decayInput = true, float vThreshold = 1f, float? vReset = 0f, bool detachReset = false)
        => new(NeuronModel.ParametricLif, 0f, decayInput, vThreshold, vReset, detachReset);

    /// <summary>PLIF's initial w = -log(init_tau - 1), so that 1/tau = sigmoid(w) = 1/init_tau; init_tau &gt; 1.</summary>
    public static float InitialW(float initTau = 2f)
    {
        if (!(initTau > 1f) || float.IsInfinity(initTau)) throw new ArgumentOutOfRangeException(nameof(initTau), "PLIF needs a finite init_tau > 1.");
        return (float)-Math.Log(initTau - 1.0);
    }

    /// <summary>PLIF's decay k = 1/tau = sigmoid(w) in float32, computed the same way by every backend.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Decay(float w) => 1f / (1f + MathF.Exp(-w));
}

/// <summary>The charge equation h[t] = f(v[t-1], x[t]) and its partial derivatives.</summary>
/// <remarks>PLIF's decay k = sigmoid(w) is an argument rather than a field: the kernels compute it where w lives
/// (the host array, or device memory on a GPU) once per call. The other neurons ignore it.</remarks>
public interface ICharge
{
    /// <summary>Whether the decay is a parameter (PLIF): backward then reduces dh/dk.</summary>
    bool Learnable { get; }
    /// <summary>dh[t]/dv[t-1], a constant given the decay <paramref name="k"/>.</summary>
    float DhDv(float k);
    /// <summary>dh[t]/dx[t], a constant given the decay <paramref name="k"/>.</summary>
    float DhDx(float k);
    /// <summary>h[t] from v[t-1] and x[t] (and PLIF's decay k, every lane equal).</summary>
    TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV>;
    /// <summary>dh[t]/dk with k = 1/tau (PLIF only).</summary>
    TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV>;
}

/// <summary>IFNode: h = v + x.</summary>
public readonly struct IfCharge : ICharge
{
    /// <inheritdoc/>
    public bool Learnable => false;
    /// <inheritdoc/>
    public float DhDv(float k) => 1f;
    /// <inheritdoc/>
    public float DhDx(float k) => 1f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV> => default(TL).Add(v, x);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV> => default(TL).Splat(0f);
}

/// <summary>LIFNode with decay_input: h = v + (x - (v - v_reset)) / tau (v_reset 0 for soft reset).</summary>
public readonly struct LifCharge(float tau, float vRest) : ICharge
{
    readonly float _tau = tau, _vRest = vRest, _invTau = 1f / tau;
    /// <inheritdoc/>
    public bool Learnable => false;
    /// <inheritdoc/>
    public float DhDv(float k) => 1f - _invTau;
    /// <inheritdoc/>
    public float DhDx(float k) => _invTau;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Add(v, l.Div(l.Sub(x, l.Sub(v, l.Splat(_vRest))), l.Splat(_tau)));
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV> => default(TL).Splat(0f);
}

/// <summary>LIFNode without decay_input: h = v - (v - v_reset) / tau + x.</summary>
public readonly struct LifNoDecayInputCharge(float tau, float vRest) : ICharge
{
    readonly float _tau = tau, _vRest = vRest, _invTau = 1f / tau;
    /// <inheritdoc/>
    public bool Learnable => false;
    /// <inheritdoc/>
    public float DhDv(float k) => 1f - _invTau;
    /// <inheritdoc/>
    public float DhDx(float k) => 1f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Add(l.Sub(v, l.Div(l.Sub(v, l.Splat(_vRest)), l.Splat(_tau))), x);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV> => default(TL).Splat(0f);
}

/// <summary>ParametricLIFNode with decay_input: h = v + (x - (v - v_reset)) * k, k = sigmoid(w).</summary>
public readonly struct PlifCharge(float vRest) : ICharge
{
    readonly float _vRest = vRest;
    /// <inheritdoc/>
    public bool Learnable => true;
    /// <inheritdoc/>
    public float DhDv(float k) => 1f - k;
    /// <inheritdoc/>
    public float DhDx(float k) => k;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Add(v, l.Mul(l.Sub(x, l.Sub(v, l.Splat(_vRest))), k));
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Sub(x, l.Sub(v, l.Splat(_vRest)));
    }
}

/// <summary>ParametricLIFNode without decay_input: h = v - (v - v_reset) * k + x.</summary>
public readonly struct PlifNoDecayInputCharge(float vRest) : ICharge
{
    readonly float _vRest = vRest;
    /// <inheritdoc/>
    public bool Learnable => true;
    /// <inheritdoc/>
    public float DhDv(float k) => 1f - k;
    /// <inheritdoc/>
    public float DhDx(float k) => 1f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Charge<TV, TL>(TV v, TV x, TV k) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Add(l.Sub(v, l.Mul(l.Sub(v, l.Splat(_vRest)), k)), x);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DhDk<TV, TL>(TV v, TV x) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return l.Sub(l.Splat(_vRest), v);
    }
}

/// <summary>The reset v[t] = r(h[t], s[t]) and its total derivative through h (the spike path included unless detached).</summary>
public interface IReset
{
    /// <summary>v[t] from h[t] and the spike mask.</summary>
    TV Apply<TV, TL>(TV h, TV spike) where TV : struct where TL : struct, ILanes<TV>;
    /// <summary>dv[t]/dh[t] given the spike mask and g' = surrogate gradient at h - v_threshold.</summary>
    TV DvDh<TV, TL>(TV h, TV spike, TV sg) where TV : struct where TL : struct, ILanes<TV>;
}

/// <summary>Hard reset v = s v_reset + (1 - s) h: v_reset after a spike, h otherwise.</summary>
/// <remarks>Computed as a select, which equals PyTorch's arithmetic form for s in {0, 1} up to the sign of a zero.</remarks>
public readonly struct HardReset(float vReset, bool detach) : IReset
{
    readonly float _vReset = vReset;
    // An int, not a bool: ILGPU passes only blittable structs to kernels.
    readonly int _detach = detach ? 1 : 0;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TV, TL>(TV h, TV spike) where TV : struct where TL : struct, ILanes<TV>
        => default(TL).Select(spike, default(TL).Splat(_vReset), h);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DvDh<TV, TL>(TV h, TV spike, TV sg) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        var keep = l.Sub(l.Splat(1f), l.One01(spike));
        return _detach != 0 ? keep : l.Add(keep, l.Mul(l.Sub(l.Splat(_vReset), h), sg));
    }
}

/// <summary>Soft reset v = h - s v_threshold.</summary>
public readonly struct SoftReset(float vThreshold, bool detach) : IReset
{
    readonly float _vThreshold = vThreshold;
    readonly int _detach = detach ? 1 : 0;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TV, TL>(TV h, TV spike) where TV : struct where TL : struct, ILanes<TV>
        => default(TL).Select(spike, default(TL).Sub(h, default(TL).Splat(_vThreshold)), h);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV DvDh<TV, TL>(TV h, TV spike, TV sg) where TV : struct where TL : struct, ILanes<TV>
    {
        TL l = default;
        return _detach != 0 ? l.Splat(1f) : l.Sub(l.Splat(1f), l.Mul(l.Splat(_vThreshold), sg));
    }
}
