// Shared pieces of the kernels: argument checks that make the unsafe inner loops safe, and the
// vectorised fused epilogue y = act(scale * acc + shift).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Which vector width the kernels use.</summary>
internal static class Simd
{
    /// <summary>Use the Vector512 paths: where Vector512 is accelerated, or when AUTHORING_SIMD512=1
    /// forces them (Vector512 then runs in software), which is how those paths are tested on
    /// AVX2-only machines. Static readonly, so the JIT folds the branches away.</summary>
    public static readonly bool Use512 = Vector512.IsHardwareAccelerated || Environment.GetEnvironmentVariable("AUTHORING_SIMD512") == "1";
}

internal static unsafe class KernelUtil
{
    /// <summary>Throws unless samples [0, n) of <paramref name="size"/> floats each lie inside the view's array.</summary>
    public static void Check(in View v, int n, int size, string name)
    {
        if (v.Data is null) throw new ArgumentNullException(name);
        if (n < 0 || size < 0) throw new ArgumentOutOfRangeException(name, "Batch and sample sizes must be non-negative.");
        if (n == 0 || size == 0) return;
        long last = (long)v.Offset + (long)(n - 1) * v.BatchStride;
        if (v.Offset < 0 || v.BatchStride < 0 || last + size > v.Data.Length || (n > 1 && v.BatchStride < size && v.BatchStride != 0))
            throw new ArgumentException($"View {name} (offset {v.Offset}, stride {v.BatchStride}) cannot hold {n} samples of {size} floats in an array of {v.Data.Length}.", name);
    }

    /// <summary>Throws unless [off, off + len) lies inside <paramref name="a"/>.</summary>
    public static void Check(float[]? a, int off, int len, string name)
    {
        if (a is null) throw new ArgumentNullException(name);
        if (off < 0 || len < 0 || (long)off + len > a.Length)
            throw new ArgumentException($"{name}: range [{off}, {off + len}) is outside an array of {a.Length}.", name);
    }

    /// <summary>y[i] = act(scale * y[i] + shift) in place over <paramref name="len"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Epilogue<TAct>(float* y, int len, float scale, float shift) where TAct : struct, IActivation
    {
        if (typeof(TAct) == typeof(Identity) && scale == 1f && shift == 0f) return;
        Epilogue<TAct>(y, y, len, scale, shift);
    }

    /// <summary>y[i] = act(scale * x[i] + shift) over <paramref name="len"/> floats (x may equal y).</summary>
    public static void Epilogue<TAct>(float* x, float* y, int len, float scale, float shift) where TAct : struct, IActivation
    {
        int i = 0;
        if (Simd.Use512 && len >= 16)
        {
            var vs = Vector512.Create(scale);
            var vt = Vector512.Create(shift);
            // A row that ends in a part vector (14 x 14 planes: 196 = 12 x 16 + 4) ends with the last whole vector,
            // computed before the loop (x may be y) and stored after it, instead of a 256-bit step and scalar tail.
            int at = len - 16;
            bool part = len % 16 != 0;
            var last = part ? default(TAct).Apply(Vector512.FusedMultiplyAdd(Vector512.Load(x + at), vs, vt)) : default;
            for (; i <= at; i += 16)
                default(TAct).Apply(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vs, vt)).Store(y + i);
            if (part) last.Store(y + at);
            return;
        }
        {
            var vs = Vector256.Create(scale);
            var vt = Vector256.Create(shift);
            for (; i <= len - 8; i += 8)
                default(TAct).Apply(Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vs, vt)).Store(y + i);
        }
        for (; i < len; i++) y[i] = default(TAct).Apply(MathF.FusedMultiplyAdd(x[i], scale, shift));
    }

    /// <summary>dst[0, n) = src[0, n) for short rows: whole vectors, the last one overlapping, no call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyRow(float* src, float* dst, int n)
    {
        if (n < 8)
        {
            for (int i = 0; i < n; i++) dst[i] = src[i];
            return;
        }
        for (int i = 0; i + 8 < n; i += 8) Vector256.Load(src + i).Store(dst + i);
        Vector256.Load(src + n - 8).Store(dst + n - 8);
    }

    /// <summary>dst (= or +=) src over <paramref name="len"/> floats.</summary>
    public static void CopyOrAdd(float* src, float* dst, int len, bool accumulate)
    {
        var s = new ReadOnlySpan<float>(src, len);
        var d = new Span<float>(dst, len);
        if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(d, s, d);
        else s.CopyTo(d);
    }
}
