// The one register-tiled product every attention kernel is built from:
//     C[r, 0..w) (= or +=) sum_t A(r, t) * B[t, 0..w)
// with A read in place through two strides (A(r, t) = a[r * rs + t * ts], so a row-major matrix, its
// transpose, a head's columns inside a token row or a packed tile all serve without a copy) and B a
// tile whose rows are contiguous and whose width is a multiple of 16 lanes. Lanes are independent, so
// whatever sits in a tile's padding lanes reaches only padding lanes of C. Register tiles are 8 rows x
// 32 lanes (16 zmm accumulators) with AVX-512 and 4 rows x 16 lanes (8 ymm accumulators) otherwise:
// enough independent FMA chains to hide the FMA latency, few enough to leave registers for the B
// vectors and the broadcast (AVX2 runs 6-row tiles first, then 4-row ones, then single rows).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

internal static unsafe class AttentionTiles
{
    /// <summary>Tile widths (lanes) are multiples of this on both paths.</summary>
    public const int Lanes = 16;

    /// <summary><paramref name="n"/> rounded up to whole <see cref="Lanes"/>.</summary>
    public static int Pad(int n) => (n + Lanes - 1) / Lanes * Lanes;

    /// <summary>C[r, 0..width) (= or +=) sum over t &lt; depth of a[r * rs + t * ts] * b[t * ldb + 0..width), r &lt; rows;
    /// width a multiple of <see cref="Lanes"/>. With depth 0 and no accumulation C is cleared.</summary>
    public static void Mul(int rows, int depth, int width, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        if (Simd.Use512) Mul512(rows, depth, width, a, rs, ts, b, ldb, c, ldc, accumulate);
        else Mul256(rows, depth, width, a, rs, ts, b, ldb, c, ldc, accumulate);
    }

    static void Mul512(int rows, int depth, int width, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        int r = 0;
        for (; r + 8 <= rows; r += 8)
        {
            int w = 0;
            for (; w + 32 <= width; w += 32) Tile8x32(depth, a + r * rs, rs, ts, b + w, ldb, c + r * ldc + w, ldc, acc);
            if (w < width) Tile8x16(depth, a + r * rs, rs, ts, b + w, ldb, c + r * ldc + w, ldc, acc);
        }
        for (; r < rows; r++)
        {
            int w = 0;
            for (; w + 32 <= width; w += 32) Tile1x32(depth, a + r * rs, ts, b + w, ldb, c + r * ldc + w, acc);
            if (w < width) Tile1x16(depth, a + r * rs, ts, b + w, ldb, c + r * ldc + w, acc);
        }
    }

    static void Mul256(int rows, int depth, int width, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        int r = 0;
        for (; r + 6 <= rows; r += 6)
            for (int w = 0; w < width; w += 16) Tile6x16(depth, a + r * rs, rs, ts, b + w, ldb, c + r * ldc + w, ldc, acc);
        for (; r + 4 <= rows; r += 4)
            for (int w = 0; w < width; w += 16) Tile4x16(depth, a + r * rs, rs, ts, b + w, ldb, c + r * ldc + w, ldc, acc);
        for (; r < rows; r++)
            for (int w = 0; w < width; w += 16) Tile1x16Avx2(depth, a + r * rs, ts, b + w, ldb, c + r * ldc + w, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile8x32(int depth, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (acc)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        // Two row pointers four rows apart keep the offsets small (0, rs, 2rs, 3rs) and the registers few.
        float* a0 = a, a4 = a + 4 * rs;
        nint r2 = 2 * rs, r3 = 3 * rs;
        for (int t = 0; t < depth; t++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a0[rs]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a0[r2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a0[r3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[0]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a4[rs]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a4[r2]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a4[r3]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a0 += ts; a4 += ts; b += ldb;
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    static void Tile8x16(int depth, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5, c6, c7;
        if (acc)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + 2 * ldc); c3 = Vector512.Load(c + 3 * ldc);
            c4 = Vector512.Load(c + 4 * ldc); c5 = Vector512.Load(c + 5 * ldc); c6 = Vector512.Load(c + 6 * ldc); c7 = Vector512.Load(c + 7 * ldc);
        }
        else c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector512<float>.Zero;
        float* a0 = a, a4 = a + 4 * rs;
        nint r2 = 2 * rs, r3 = 3 * rs;
        for (int t = 0; t < depth; t++)
        {
            var b0 = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[rs]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[r2]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[r3]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[0]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[rs]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[r2]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[r3]), b0, c7);
            a0 += ts; a4 += ts; b += ldb;
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    static void Tile1x32(int depth, float* a, nint ts, float* b, nint ldb, float* c, bool acc)
    {
        // Two chains per half over alternate t: one chain per vector would wait on the FMA latency.
        var e0 = Vector512<float>.Zero; var e1 = Vector512<float>.Zero;
        var o0 = Vector512<float>.Zero; var o1 = Vector512<float>.Zero;
        int t = 0;
        for (; t + 2 <= depth; t += 2)
        {
            var x = Vector512.Create(a[0]);
            e0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), e0);
            e1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 16), e1);
            var y = Vector512.Create(a[ts]);
            o0 = Vector512.FusedMultiplyAdd(y, Vector512.Load(b + ldb), o0);
            o1 = Vector512.FusedMultiplyAdd(y, Vector512.Load(b + ldb + 16), o1);
            a += 2 * ts; b += 2 * ldb;
        }
        if (t < depth)
        {
            var x = Vector512.Create(a[0]);
            e0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), e0);
            e1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 16), e1);
        }
        e0 += o0; e1 += o1;
        if (acc) { e0 += Vector512.Load(c); e1 += Vector512.Load(c + 16); }
        e0.Store(c); e1.Store(c + 16);
    }

    static void Tile1x16(int depth, float* a, nint ts, float* b, nint ldb, float* c, bool acc)
    {
        var e = Vector512<float>.Zero; var o = Vector512<float>.Zero;
        int t = 0;
        for (; t + 2 <= depth; t += 2)
        {
            e = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), Vector512.Load(b), e);
            o = Vector512.FusedMultiplyAdd(Vector512.Create(a[ts]), Vector512.Load(b + ldb), o);
            a += 2 * ts; b += 2 * ldb;
        }
        if (t < depth) e = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), Vector512.Load(b), e);
        e += o;
        if (acc) e += Vector512.Load(c);
        e.Store(c);
    }

    /// <summary>6 rows x 16 lanes: 12 accumulators, 2 B vectors and the broadcast fill 15 of the 16 ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile6x16(int depth, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (acc)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        float* a0 = a, a3 = a + 3 * rs;
        nint r2 = 2 * rs;
        for (int t = 0; t < depth; t++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a0[rs]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a0[r2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[0]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a3[rs]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a3[r2]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a0 += ts; a3 += ts; b += ldb;
        }
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x16(int depth, float* a, nint rs, nint ts, float* b, nint ldb, float* c, nint ldc, bool acc)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (acc)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
        }
        else c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector256<float>.Zero;
        nint r2 = 2 * rs, r3 = 3 * rs;
        for (int t = 0; t < depth; t++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[rs]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[r2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[r3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            a += ts; b += ldb;
        }
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
    }

    static void Tile1x16Avx2(int depth, float* a, nint ts, float* b, nint ldb, float* c, bool acc)
    {
        var e0 = Vector256<float>.Zero; var e1 = Vector256<float>.Zero;
        var o0 = Vector256<float>.Zero; var o1 = Vector256<float>.Zero;
        int t = 0;
        for (; t + 2 <= depth; t += 2)
        {
            var x = Vector256.Create(a[0]);
            e0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b), e0);
            e1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b + 8), e1);
            var y = Vector256.Create(a[ts]);
            o0 = Vector256.FusedMultiplyAdd(y, Vector256.Load(b + ldb), o0);
            o1 = Vector256.FusedMultiplyAdd(y, Vector256.Load(b + ldb + 8), o1);
            a += 2 * ts; b += 2 * ldb;
        }
        if (t < depth)
        {
            var x = Vector256.Create(a[0]);
            e0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b), e0);
            e1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b + 8), e1);
        }
        e0 += o0; e1 += o1;
        if (acc) { e0 += Vector256.Load(c); e1 += Vector256.Load(c + 8); }
        e0.Store(c); e1.Store(c + 8);
    }

    /// <summary>dst[r * ldd + t] = src[t * lds + r] for r &lt; rows, t &lt; cols: a tile transpose (4 x 4 blocks
    /// through registers would beat this; these tiles are small next to the products around them).</summary>
    public static void Transpose(int rows, int cols, float* src, nint lds, float* dst, nint ldd)
    {
        for (int t = 0; t < cols; t++)
        {
            float* s = src + t * lds;
            float* d = dst + t;
            for (int r = 0; r < rows; r++) d[r * ldd] = s[r];
        }
    }
}
