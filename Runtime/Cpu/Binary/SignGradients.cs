// Surrogate gradients of the binarising sign for training (the forward is always sign with
// sign(0) = +1). Kernels are generic over these structs, so the JIT specialises the backward.
//   SteSign:    straight-through estimator, the clipped identity: d/du = 1 for |u| <= clip, else 0
//               (BinaryNet, Larq's ste_sign; inclusive as torch.clamp's gradient and Larq's docs).
//   ApproxSign: Bi-Real Net's piecewise-quadratic approximation, used by ReActNet: d/du = 2 - 2|u| for
//               |u| < 1, else 0 (Larq's approx_sign; ReActNet's BinaryActivation).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>A surrogate derivative of sign(u) used by the binary layers' backward passes.</summary>
public interface ISignGradient
{
    /// <summary>The surrogate d sign / du at u.</summary>
    float Derivative(float u);
    /// <summary>The surrogate d sign / du, 8 lanes.</summary>
    Vector256<float> Derivative(Vector256<float> u);
}

/// <summary>Straight-through estimator: 1 where |u| &lt;= <see cref="Clip"/>, else 0.</summary>
/// <param name="clip">Where the identity is cut off (1 in BinaryNet and Larq).</param>
public readonly struct SteSign(float clip) : ISignGradient
{
    /// <summary>The clip value.</summary>
    public readonly float Clip = clip;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float u) => MathF.Abs(u) <= Clip ? 1f : 0f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> u)
        => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(Vector256.Abs(u), Vector256.Create(Clip)), Vector256<float>.One, Vector256<float>.Zero);
}

/// <summary>Bi-Real Net's ApproxSign: 2 - 2|u| where |u| &lt; 1, else 0.</summary>
public readonly struct ApproxSign : ISignGradient
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float u) => MathF.Max(2f - 2f * MathF.Abs(u), 0f);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> u)
        => Vector256.Max(Vector256.Create(2f) - Vector256.Create(2f) * Vector256.Abs(u), Vector256<float>.Zero);
}

/// <summary>How the gradient of scaled binary weights alpha * sign(w), alpha = mean |w| per output channel, reaches w.</summary>
public enum WeightGradient
{
    /// <summary>Straight through the clip only: dw = dwb * 1{|w| &lt;= clip}. ReActNet's and Bi-Real Net's PyTorch code
    /// (<c>scale * sign(w)</c> detached, minus <c>clamp(w)</c> detached, plus <c>clamp(w)</c>).</summary>
    Clip,
    /// <summary>alpha held constant: dw = dwb * alpha * 1{|w| &lt;= clip}. Larq's <c>magnitude_aware_sign</c>
    /// (<c>stop_gradient(scale) * ste_sign(w)</c>).</summary>
    ScaledClip,
    /// <summary>Through alpha too (XNOR-Net): dw_i = alpha dwb_i 1{|w_i| &lt;= clip} + sgn(w_i) / K * sum_j dwb_j sign(w_j),
    /// sgn the derivative of |w| (0 at 0, as torch.abs), sign the binariser (+1 at 0), K weights per output channel.</summary>
    Full,
}
