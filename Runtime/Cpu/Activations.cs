// Activation functors. Kernels are generic over these structs so the JIT (and ILGPU) specialise the
// fused epilogue; derivatives take the pre-activation z, which kernels recompute instead of storing.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>An element-wise activation with its derivative, in scalar and vector forms.</summary>
public interface IActivation
{
    /// <summary>act(z).</summary>
    float Apply(float z);
    /// <summary>d act / dz at z.</summary>
    float Derivative(float z);
    /// <summary>act(z), 16 lanes.</summary>
    Vector512<float> Apply(Vector512<float> z);
    /// <summary>d act / dz, 16 lanes.</summary>
    Vector512<float> Derivative(Vector512<float> z);
    /// <summary>act(z), 8 lanes.</summary>
    Vector256<float> Apply(Vector256<float> z);
    /// <summary>d act / dz, 8 lanes.</summary>
    Vector256<float> Derivative(Vector256<float> z);
}

/// <summary>The identity (no activation).</summary>
public struct Identity : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => 1f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => z;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) => Vector512<float>.One;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => z;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) => Vector256<float>.One;
}

/// <summary>max(z, 0); derivative 1 where z &gt; 0 (0 at 0, as PyTorch).</summary>
public struct Relu : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z < 0f ? 0f : z; // NaN passes through, as PyTorch and the vector path
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => z > 0f ? 1f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Max(z, Vector512<float>.Zero);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) => Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero), Vector512<float>.One, Vector512<float>.Zero);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Max(z, Vector256<float>.Zero);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) => Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero);
}

/// <summary>min(max(z, 0), 6); derivative 1 on (0, 6).</summary>
public struct Relu6 : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z < 0f ? 0f : (z > 6f ? 6f : z); // NaN passes through
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => z > 0f && z < 6f ? 1f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Min(Vector512.Max(z, Vector512<float>.Zero), Vector512.Create(6f));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) => Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero) & Vector512.LessThan(z, Vector512.Create(6f)), Vector512<float>.One, Vector512<float>.Zero);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Min(Vector256.Max(z, Vector256<float>.Zero), Vector256.Create(6f));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) => Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero) & Vector256.LessThan(z, Vector256.Create(6f)), Vector256<float>.One, Vector256<float>.Zero);
}

/// <summary>relu6(z + 3) / 6; derivative 1/6 on (-3, 3), as PyTorch.</summary>
public struct HardSigmoid : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z <= -3f ? 0f : z >= 3f ? 1f : z / 6f + 0.5f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => z > -3f && z < 3f ? 1f / 6f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Min(Vector512.Max(z * Vector512.Create(1f / 6f) + Vector512.Create(0.5f), Vector512<float>.Zero), Vector512<float>.One);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) => Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512.Create(-3f)) & Vector512.LessThan(z, Vector512.Create(3f)), Vector512.Create(1f / 6f), Vector512<float>.Zero);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Min(Vector256.Max(z * Vector256.Create(1f / 6f) + Vector256.Create(0.5f), Vector256<float>.Zero), Vector256<float>.One);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) => Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256.Create(-3f)) & Vector256.LessThan(z, Vector256.Create(3f)), Vector256.Create(1f / 6f), Vector256<float>.Zero);
}

/// <summary>z * relu6(z + 3) / 6; derivative (2z + 3) / 6 on (-3, 3), 1 above, as PyTorch.</summary>
public struct HardSwish : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z <= -3f ? 0f : z >= 3f ? z : z * (z + 3f) / 6f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => z < -3f ? 0f : z > 3f ? 1f : (2f * z + 3f) / 6f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => z * Vector512.Min(Vector512.Max(z + Vector512.Create(3f), Vector512<float>.Zero), Vector512.Create(6f)) * Vector512.Create(1f / 6f);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> z)
    {
        var mid = (z + z + Vector512.Create(3f)) * Vector512.Create(1f / 6f);
        var r = Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512.Create(3f)), Vector512<float>.One, mid);
        return Vector512.ConditionalSelect(Vector512.LessThan(z, Vector512.Create(-3f)), Vector512<float>.Zero, r);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => z * Vector256.Min(Vector256.Max(z + Vector256.Create(3f), Vector256<float>.Zero), Vector256.Create(6f)) * Vector256.Create(1f / 6f);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> z)
    {
        var mid = (z + z + Vector256.Create(3f)) * Vector256.Create(1f / 6f);
        var r = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256.Create(3f)), Vector256<float>.One, mid);
        return Vector256.ConditionalSelect(Vector256.LessThan(z, Vector256.Create(-3f)), Vector256<float>.Zero, r);
    }
}

/// <summary>1 / (1 + exp(-z)).</summary>
public struct Sigmoid : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => 1f / (1f + MathF.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) { float s = Apply(z); return s * (1f - s); }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) { var s = Apply(z); return s * (Vector512<float>.One - s); }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) { var s = Apply(z); return s * (Vector256<float>.One - s); }
}

/// <summary>tanh(z), computed as 2 sigmoid(2z) - 1.</summary>
public struct Tanh : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => MathF.Tanh(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) { float t = MathF.Tanh(z); return 1f - t * t; }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Create(2f) / (Vector512<float>.One + Vector512.Exp(z * Vector512.Create(-2f))) - Vector512<float>.One;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) { var t = Apply(z); return Vector512<float>.One - t * t; }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Create(2f) / (Vector256<float>.One + Vector256.Exp(z * Vector256.Create(-2f))) - Vector256<float>.One;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) { var t = Apply(z); return Vector256<float>.One - t * t; }
}
