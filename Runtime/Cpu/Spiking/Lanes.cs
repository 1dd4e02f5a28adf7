// Lane arithmetic for the spiking kernels: the neuron, reset and surrogate definitions are written
// once as generic functions over a lane type, and instantiated with Vector512, Vector256 and plain
// float. The float instantiation is the scalar tail of the CPU kernels and the whole of the ILGPU
// kernels, so every backend runs the same sequence of IEEE operations: spikes agree bit for bit.
// Masks are lanes too: all bits set (vectors) or 1f (float) where true, zero where false.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu.Spiking;

/// <summary>Element-wise float arithmetic on a lane type <typeparamref name="TV"/> (a vector or one float).
/// Every operation rounds once, as the IEEE operation of the same name; nothing is contracted into an FMA.</summary>
public interface ILanes<TV> where TV : struct
{
    /// <summary>Every lane set to <paramref name="a"/>.</summary>
    TV Splat(float a);
    /// <summary>a + b.</summary>
    TV Add(TV a, TV b);
    /// <summary>a - b.</summary>
    TV Sub(TV a, TV b);
    /// <summary>a * b.</summary>
    TV Mul(TV a, TV b);
    /// <summary>a / b (correctly rounded, not a reciprocal estimate).</summary>
    TV Div(TV a, TV b);
    /// <summary>|a|.</summary>
    TV Abs(TV a);
    /// <summary>exp(a) to a few ulp, for a in [-86, 88] (vectors clamp to that range; used only in surrogate gradients).</summary>
    TV Exp(TV a);
    /// <summary>Mask of a &gt;= b.</summary>
    TV Ge(TV a, TV b);
    /// <summary>Mask of a &lt; b.</summary>
    TV Lt(TV a, TV b);
    /// <summary>Mask of a &lt;= b.</summary>
    TV Le(TV a, TV b);
    /// <summary>a where <paramref name="mask"/> is true, else b.</summary>
    TV Select(TV mask, TV a, TV b);
    /// <summary>1 where <paramref name="mask"/> is true, else 0.</summary>
    TV One01(TV mask);
}

/// <summary>Lanes the CPU kernels load and store through pointers.</summary>
public unsafe interface ICpuLanes<TV> : ILanes<TV> where TV : struct
{
    /// <summary>Floats per lane value.</summary>
    int Width { get; }
    /// <summary>Reads <see cref="Width"/> floats at <paramref name="p"/>.</summary>
    TV Load(float* p);
    /// <summary>Writes <see cref="Width"/> floats at <paramref name="p"/>.</summary>
    void Store(TV v, float* p);
    /// <summary>Sum of the lanes, in double.</summary>
    double Sum(TV v);
}

/// <summary>16 floats in a Vector512.</summary>
public unsafe struct Lanes512 : ICpuLanes<Vector512<float>>
{
    /// <inheritdoc/>
    public readonly int Width => 16;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Splat(float a) => Vector512.Create(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Exp(Vector512<float> a) => FastExp.Exp(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Ge(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThanOrEqual(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Lt(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Le(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> One01(Vector512<float> mask) => mask & Vector512<float>.One;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector512<float> Load(float* p) => Vector512.Load(p);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly void Store(Vector512<float> v, float* p) => v.Store(p);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly double Sum(Vector512<float> v) => Vector512.Sum(v);
}

/// <summary>8 floats in a Vector256.</summary>
public unsafe struct Lanes256 : ICpuLanes<Vector256<float>>
{
    /// <inheritdoc/>
    public readonly int Width => 8;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Splat(float a) => Vector256.Create(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Exp(Vector256<float> a) => FastExp.Exp(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Ge(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThanOrEqual(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Lt(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Le(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> One01(Vector256<float> mask) => mask & Vector256<float>.One;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly Vector256<float> Load(float* p) => Vector256.Load(p);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly void Store(Vector256<float> v, float* p) => v.Store(p);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly double Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>One float: the scalar tail of the CPU kernels and the arithmetic of the ILGPU kernels (which
/// call only the <see cref="ILanes{TV}"/> members). Masks are 1f or 0f.</summary>
public unsafe struct LanesScalar : ICpuLanes<float>
{
    /// <inheritdoc/>
    public readonly int Width => 1;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Splat(float a) => a;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Add(float a, float b) => a + b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Sub(float a, float b) => a - b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Mul(float a, float b) => a * b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Div(float a, float b) => a / b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Abs(float a) => Math.Abs(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Exp(float a) => MathF.Exp(a);
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Ge(float a, float b) => a >= b ? 1f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Lt(float a, float b) => a < b ? 1f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Le(float a, float b) => a <= b ? 1f : 0f;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Select(float mask, float a, float b) => mask != 0f ? a : b;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float One01(float mask) => mask;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly float Load(float* p) => *p;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly void Store(float v, float* p) => *p = v;
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public readonly double Sum(float v) => v;
}

/// <summary>exp in float arithmetic (Cephes' expf: exp(x) = 2^n p(r), r = x - n ln 2 in two parts, p of degree 7):
/// about 1 ulp on [-86, 88], and half the work of Vector512.Exp / Vector256.Exp, which evaluate float exp in double.
/// The surrogate's exp is the backward's most expensive step.</summary>
internal static class FastExp
{
    const float Lo = -86f, Hi = 88f; // results stay normal floats, so adding n to the exponent field is exact
    const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return (p.AsInt32() + Vector512.ShiftLeft(Vector512.ConvertToInt32(n), 23)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        return (p.AsInt32() + Vector256.ShiftLeft(Vector256.ConvertToInt32(n), 23)).AsSingle();
    }
}
