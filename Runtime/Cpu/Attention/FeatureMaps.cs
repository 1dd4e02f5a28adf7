// Feature maps of linear attention, as activation functors (IActivation) so that the kernels are
// generic over them like every fused epilogue: ReLU is Runtime's Relu (SLAB's simplified linear
// attention and ReLU linear attention); EluPlusOne is Katharopoulos et al.'s elu(x) + 1.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>elu(z) + 1: z + 1 for z &gt; 0, exp(z) otherwise (the feature map of "Transformers are RNNs",
/// Katharopoulos et al. 2020); derivative 1 for z &gt; 0, exp(z) otherwise (1 at 0 from both sides, as PyTorch).</summary>
/// <remarks>exp(z) is the exact value of elu(z) + 1 = (exp(z) - 1) + 1; PyTorch rounds exp(z) - 1 first, so for
/// z below about -17 it returns 0 where this returns exp(z): an absolute difference under 2^-24.</remarks>
public struct EluPlusOne : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z > 0f ? z + 1f : MathF.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => z > 0f ? 1f : MathF.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> z) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero), z + Vector512<float>.One, Vector512.Exp(Vector512.Min(z, Vector512<float>.Zero)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> z) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero), Vector512<float>.One, Vector512.Exp(Vector512.Min(z, Vector512<float>.Zero)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> z) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z + Vector256<float>.One, Vector256.Exp(Vector256.Min(z, Vector256<float>.Zero)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> z) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), Vector256<float>.One, Vector256.Exp(Vector256.Min(z, Vector256<float>.Zero)));
}
