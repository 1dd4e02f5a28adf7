// Smooth activations of transformer-style models (GELU, tanh-GELU, SiLU) and Exp, as IActivation functors so they
// fuse into epilogues and element-wise trees like the others. Scalar forms are also what ILGPU compiles.
// Exact GELU needs erf, which neither System.Math nor the vector types offer: Erf below is Abramowitz & Stegun
// 7.1.26 (absolute error under 1.5e-7 in exact arithmetic, about 2.5e-7 in float), well inside float32 GELU
// parity with PyTorch (checked in the tests at 1e-6 of scale).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Cpu;

/// <summary>erf in scalar and vector forms (Abramowitz &amp; Stegun 7.1.26, odd extension).</summary>
public static class Erf
{
    const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    // exp(-x^2) by FastExp (Cephes expf in float, about 1 ulp): Vector512.Exp widens to double and was most of GELU's
    // cost (lab gelu: 0.68 -> 0.44 ns per value forward). FastExp clamps at -86, where erf and phi only scale a
    // result of 1e-38 instead of a smaller one: nothing changes at float precision.

    /// <summary>erf(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Of(float x)
    {
        float ax = MathF.Abs(x);
        float t = 1f / (1f + P * ax);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float r = 1f - poly * MathF.Exp(-ax * ax);
        return x < 0f ? -r : r;
    }

    /// <summary>erf(x), 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Of(Vector512<float> x) => Of(x, out _);

    /// <summary>erf(x) and the exp(-x^2) it is built from, 16 lanes: GELU's derivative needs that Gaussian too,
    /// and the exponential is most of the cost.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Of(Vector512<float> x, out Vector512<float> gauss)
    {
        var ax = Vector512.Abs(x);
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(P) * ax);
        var poly = ((((Vector512.Create(A5) * t + Vector512.Create(A4)) * t + Vector512.Create(A3)) * t + Vector512.Create(A2)) * t + Vector512.Create(A1)) * t;
        gauss = FastExp.Exp(-(ax * ax));
        var r = Vector512<float>.One - poly * gauss;
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -r, r);
    }

    /// <summary>erf(x), 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Of(Vector256<float> x) => Of(x, out _);

    /// <summary>erf(x) and the exp(-x^2) it is built from, 8 lanes: GELU's derivative needs that Gaussian too,
    /// and the exponential is most of the cost.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Of(Vector256<float> x, out Vector256<float> gauss)
    {
        var ax = Vector256.Abs(x);
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(P) * ax);
        var poly = ((((Vector256.Create(A5) * t + Vector256.Create(A4)) * t + Vector256.Create(A3)) * t + Vector256.Create(A2)) * t + Vector256.Create(A1)) * t;
        gauss = FastExp.Exp(-(ax * ax));
        var r = Vector256<float>.One - poly * gauss;
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -r, r);
    }
}

/// <summary>GELU, exact: z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)) (PyTorch's approximate='none');
/// derivative Phi(z) + z phi(z).</summary>
public struct Gelu : IActivation
{
    const float InvSqrt2 = 0.70710678118654752f, InvSqrt2Pi = 0.39894228040143268f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => 0.5f * z * (1f + Erf.Of(z * InvSqrt2));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => 0.5f * (1f + Erf.Of(z * InvSqrt2)) + z * InvSqrt2Pi * MathF.Exp(-0.5f * z * z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Create(0.5f) * z * (Vector512<float>.One + Erf.Of(z * Vector512.Create(InvSqrt2)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> z)
    {
        // exp(-(z / sqrt 2)^2) is phi's exp(-z^2 / 2): one exponential serves both terms.
        var erf = Erf.Of(z * Vector512.Create(InvSqrt2), out var gauss);
        return Vector512.Create(0.5f) * (Vector512<float>.One + erf) + z * Vector512.Create(InvSqrt2Pi) * gauss;
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Create(0.5f) * z * (Vector256<float>.One + Erf.Of(z * Vector256.Create(InvSqrt2)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> z)
    {
        // exp(-(z / sqrt 2)^2) is phi's exp(-z^2 / 2): one exponential serves both terms.
        var erf = Erf.Of(z * Vector256.Create(InvSqrt2), out var gauss);
        return Vector256.Create(0.5f) * (Vector256<float>.One + erf) + z * Vector256.Create(InvSqrt2Pi) * gauss;
    }
}

/// <summary>GELU, tanh form (PyTorch's approximate='tanh'): 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).</summary>
public struct GeluTanh : IActivation
{
    const float K = 0.79788456080286536f, C = 0.044715f;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => 0.5f * z * (1f + MathF.Tanh(K * (z + C * z * z * z)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Derivative(float z)
    {
        float t = MathF.Tanh(K * (z + C * z * z * z));
        return 0.5f * (1f + t) + 0.5f * z * (1f - t * t) * K * (1f + 3f * C * z * z);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Apply(Vector512<float> z) =>
        Vector512.Create(0.5f) * z * (Vector512<float>.One + default(Tanh).Apply(Vector512.Create(K) * (z + Vector512.Create(C) * z * z * z)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> z)
    {
        var t = default(Tanh).Apply(Vector512.Create(K) * (z + Vector512.Create(C) * z * z * z));
        var half = Vector512.Create(0.5f);
        return half * (Vector512<float>.One + t) + half * z * (Vector512<float>.One - t * t) * Vector512.Create(K) * (Vector512<float>.One + Vector512.Create(3f * C) * z * z);
    }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Apply(Vector256<float> z) =>
        Vector256.Create(0.5f) * z * (Vector256<float>.One + default(Tanh).Apply(Vector256.Create(K) * (z + Vector256.Create(C) * z * z * z)));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> z)
    {
        var t = default(Tanh).Apply(Vector256.Create(K) * (z + Vector256.Create(C) * z * z * z));
        var half = Vector256.Create(0.5f);
        return half * (Vector256<float>.One + t) + half * z * (Vector256<float>.One - t * t) * Vector256.Create(K) * (Vector256<float>.One + Vector256.Create(3f * C) * z * z);
    }
}

/// <summary>SiLU (swish): z * sigmoid(z); derivative s (1 + z (1 - s)).</summary>
public struct Silu : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => z / (1f + MathF.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) { float s = 1f / (1f + MathF.Exp(-z)); return s * (1f + z * (1f - s)); }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => z / (Vector512<float>.One + Vector512.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<float> Derivative(Vector512<float> z) { var s = Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-z)); return s * (Vector512<float>.One + z * (Vector512<float>.One - s)); }
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => z / (Vector256<float>.One + Vector256.Exp(-z));
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<float> Derivative(Vector256<float> z) { var s = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-z)); return s * (Vector256<float>.One + z * (Vector256<float>.One - s)); }
}

/// <summary>exp(z); its own derivative.</summary>
public struct Exp : IActivation
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Apply(float z) => MathF.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public float Derivative(float z) => MathF.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Apply(Vector512<float> z) => Vector512.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<float> Derivative(Vector512<float> z) => Vector512.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Apply(Vector256<float> z) => Vector256.Exp(z);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<float> Derivative(Vector256<float> z) => Vector256.Exp(z);
}
