// Row-major SGEMM: BLIS-style blocking (KC x NC panel of B shared by all threads, MC x KC block of
// A per thread), packing that absorbs the four transpose cases and alpha, and a register tile
// chosen by ISA: 12 x 32 in 24 zmm accumulators with AVX-512 (32 registers: 24 accumulators, 2 B
// vectors, 1 broadcast; per k 14 loads feed 24 FMAs, where 8 x 32 needed 10 for 16), 6 x 16 in 12 ymm
// accumulators otherwise (16 ymm registers: 12 accumulators, 2 B vectors, 1 broadcast). Edge tiles run the same microkernel
// into a stack tile, so there is one arithmetic path and results do not depend on the tiling.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

/// <summary>Single-precision matrix multiply, row-major.</summary>
public static unsafe class Gemm
{
    /// <summary>C = alpha op(A) op(B) + beta C with op(A) m x k, op(B) k x n; runs on all cores.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "GEMM sizes must be non-negative.");
        if (m == 0 || n == 0) return;
        CheckMatrix(c, cOff, m, n, ldc, nameof(c));
        if (k > 0 && alpha != 0f)
        {
            CheckMatrix(a, aOff, transA ? k : m, transA ? m : k, lda, nameof(a));
            CheckMatrix(b, bOff, transB ? n : k, transB ? k : n, ldb, nameof(b));
        }
        fixed (float* pa = a, pb = b, pc = c)
            GemmCore.Run(transA, transB, m, n, k, alpha, pa + aOff, lda, pb + bOff, ldb, beta, pc + cOff, ldc,
                parallel: !WorkerPool.InsideJob);
    }

    static void CheckMatrix(float[] x, int off, int rows, int cols, int ld, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (rows == 0 || cols == 0) return;
        if (off < 0 || ld < cols || (long)off + (long)(rows - 1) * ld + cols > x.Length)
            throw new ArgumentException($"Matrix {name} ({rows} x {cols}, ld {ld}, offset {off}) does not fit its array of {x.Length}.", name);
    }
}

/// <summary>The blocked GEMM on raw pointers, used by <see cref="Gemm"/> and the convolution kernels.</summary>
internal static unsafe class GemmCore
{
    static readonly bool Wide = Simd.Use512;
    /// <summary>Register tile rows and columns; static readonly, so the JIT folds them as constants.</summary>
    public static readonly int MR = Wide ? 12 : 6, NR = Wide ? 32 : 16;
    /// <summary>Rows of A per packed block (a multiple of MR).</summary>
    public static readonly int MC = 120;
    public const int KC = 256;
    public const int NC = 2048, MaxTile = 12 * 32, DirectMaxK = 64;

    // Packed B is shared by all threads of one call, so it belongs to the calling thread; packed A
    // belongs to whichever thread runs the block.
    [ThreadStatic] static float[]? packB;
    [ThreadStatic] static float[]? packA;
    [ThreadStatic] static float[]? edgeB;

    /// <summary>C = alpha op(A) op(B) + beta C. <paramref name="parallel"/> spreads blocks over the pool; nested callers pass false.</summary>
    /// <remarks>Two synchronisation points per column block: all of op(B) for that block is packed
    /// (every KC slice) in one parallel step, then each task owns a rectangle of C across the whole
    /// depth. On shared cores a descheduled thread stalls the others at every barrier, so fewer
    /// barriers matter more than perfect cache reuse.</remarks>
    public static void Run(bool tA, bool tB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc, bool parallel)
    {
        if (m <= 0 || n <= 0) return;
        if (k == 0 || alpha == 0f) { ScaleC(m, n, beta, c, ldc); return; }
        if (2L * m * n * k < 2 * WorkerPool.MinParallelFlops) parallel = false;
        int threads = parallel ? WorkerPool.ThreadCount : 1;
        // Column block: all of k times nc packed must stay within ~4 MB (L3-resident, bounded scratch).
        int ncMax = Math.Clamp((1 << 20) / k / NR * NR, NR, NC);
        int ncBlock = Math.Min(ncMax, RoundUp(n, NR));
        // Shallow products (k <= 64: pointwise convolutions, most backward-data GEMMs) read B in
        // place: packing would copy all of B to use each packed panel only m / MR times.
        bool direct = !tB && k <= DirectMaxK;
        float* pb = direct ? null : Scratch.Aligned(Scratch.Get(ref packB, k * ncBlock));
        // Balanced row blocks: as many as MC needs, each a multiple of MR.
        int icBlocks = (m + MC - 1) / MC;
        int mcBlock = RoundUp((m + icBlocks - 1) / icBlocks, MR);
        icBlocks = (m + mcBlock - 1) / mcBlock;
        for (int jc = 0; jc < n; jc += ncBlock)
        {
            int nc = Math.Min(ncBlock, n - jc);
            int panels = (nc + NR - 1) / NR;
            int ncRounded = panels * NR;
            int kBlocks = (k + KC - 1) / KC;

            if (!direct)
            {
                var pack = new PackBJob { TransB = tB, B = b, Ldb = ldb, K = k, Jc = jc, Nc = nc, NcRounded = ncRounded, Packed = pb };
                int packGroups = Math.Max(1, Math.Min(panels, threads * 4 / kBlocks));
                pack.Groups = packGroups;
                pack.PanelsPerGroup = (panels + packGroups - 1) / packGroups;
                int packTasks = kBlocks * packGroups;
                if (threads > 1) WorkerPool.For(packTasks, ref pack);
                else for (int t = 0; t < packTasks; t++) pack.Run(t);
            }

            // Split columns into groups until there are at least two tasks per thread and a whole
            // number per thread (9 row blocks on 2 threads would leave one thread idle a ninth of
            // the time). Each group re-packs its A blocks, so take the fewest groups that do it,
            // and keep at least 4 panels per group.
            int groups = 1;
            if (threads > 1)
            {
                int maxGroups = Math.Max(1, panels / 4);
                while (groups < maxGroups && (icBlocks * groups < 2 * threads || icBlocks * groups % threads != 0)) groups++;
            }
            var job = new ComputeJob
            {
                TransA = tA, A = a, Lda = lda, Alpha = alpha, K = k, Jc = jc, Nc = nc, NcRounded = ncRounded, M = m, Mc = mcBlock,
                PackedB = pb, C = c, Ldc = ldc, Beta = beta, Groups = groups, PanelsPerGroup = (panels + groups - 1) / groups,
                DirectB = direct ? b : null, Ldb = ldb,
            };
            int tasks = icBlocks * groups;
            if (threads > 1) WorkerPool.For(tasks, ref job);
            else for (int t = 0; t < tasks; t++) job.Run(t);
        }
    }

    static int RoundUp(int x, int r) => (x + r - 1) / r * r;

    /// <summary>Floats of a pre-packed k x n B (see <see cref="PackedBRow"/>).</summary>
    public static int PackedBSize(int k, int n) => k * RoundUp(n, NR);

    /// <summary>Where row p of a pre-packed k x n B starts its panel 0: slices of KC rows, each slice
    /// NR-column panels of its rows k-major. Panel jp of the row is at the result + jp * NR * kc(p);
    /// <paramref name="panelStride"/> returns that NR * kc(p).</summary>
    public static long PackedBRow(int k, int n, int p, out int panelStride)
    {
        int pc = p / KC * KC;
        panelStride = NR * Math.Min(KC, k - pc);
        return (long)pc * RoundUp(n, NR) + (long)(p - pc) * NR;
    }

    /// <summary>C = A B + beta C on the calling thread with B already packed by the caller
    /// (im2col writes its columns straight into this layout, saving a copy of the whole matrix).</summary>
    public static void RunPrepackedB(int m, int n, int k, float* a, int lda, float* packedB, float beta, float* c, int ldc)
    {
        if (m <= 0 || n <= 0) return;
        if (k == 0) { ScaleC(m, n, beta, c, ldc); return; }
        int icBlocks = (m + MC - 1) / MC;
        int mcBlock = RoundUp((m + icBlocks - 1) / icBlocks, MR);
        icBlocks = (m + mcBlock - 1) / mcBlock;
        int panels = (n + NR - 1) / NR;
        var job = new ComputeJob
        {
            A = a, Lda = lda, Alpha = 1f, K = k, Jc = 0, Nc = n, NcRounded = panels * NR, M = m, Mc = mcBlock,
            PackedB = packedB, C = c, Ldc = ldc, Beta = beta, Groups = 1, PanelsPerGroup = panels,
        };
        for (int t = 0; t < icBlocks; t++) job.Run(t);
    }

    static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>Packed B of one column block: KC slice pc starts at pc * NcRounded; within it, panel j at j * NR * kc.</summary>
    struct PackBJob : IParallelJob
    {
        public bool TransB;
        public float* B, Packed;
        public int Ldb, K, Jc, Nc, NcRounded, Groups, PanelsPerGroup;

        public void Run(int task)
        {
            int pc = task / Groups * KC, group = task % Groups;
            int kc = Math.Min(KC, K - pc);
            int first = group * PanelsPerGroup;
            int last = Math.Min(first + PanelsPerGroup, (Nc + NR - 1) / NR);
            float* slice = Packed + (long)pc * NcRounded;
            for (int panel = first; panel < last; panel++)
            {
                int jr = panel * NR;
                PackB(TransB, B, Ldb, pc, kc, Jc + jr, Math.Min(NR, Nc - jr), slice + (long)jr * kc);
            }
        }
    }

    struct ComputeJob : IParallelJob
    {
        public bool TransA;
        public float* A, PackedB, C, DirectB;
        public int Lda, Ldb, K, Jc, Nc, NcRounded, M, Mc, Ldc, Groups, PanelsPerGroup;
        public float Alpha, Beta;

        public void Run(int task)
        {
            int ic = task / Groups * Mc;
            int group = task % Groups;
            int mc = Math.Min(Mc, M - ic);
            float* pa = Scratch.Aligned(Scratch.Get(ref packA, MC * KC + 8)); // + 8: PackA's overlapping stores
            int panels = (Nc + NR - 1) / NR;
            int p0 = group * PanelsPerGroup, p1 = Math.Min(panels, p0 + PanelsPerGroup);
            for (int pc = 0; pc < K; pc += KC)
            {
                int kc = Math.Min(KC, K - pc);
                float beta = pc == 0 ? Beta : 1f;
                PackA(TransA, A, Lda, ic, mc, pc, kc, Alpha, pa);
                float* slice = PackedB + (long)pc * NcRounded;
                for (int panel = p0; panel < p1; panel++)
                {
                    int jr = panel * NR;
                    int nr = Math.Min(NR, Nc - jr);
                    float* bp;
                    nint bStride = NR;
                    if (DirectB == null) bp = slice + (long)jr * kc;
                    else if (nr == NR) { bp = DirectB + (long)pc * Ldb + Jc + jr; bStride = Ldb; }
                    else
                    {
                        // The ragged last panel is packed (zero padded) so the tile never reads past B.
                        bp = Scratch.Aligned(Scratch.Get(ref edgeB, KC * NR));
                        PackB(false, DirectB, Ldb, pc, kc, Jc + jr, nr, bp);
                    }
                    for (int ir = 0; ir < mc; ir += MR)
                    {
                        int mr = Math.Min(MR, mc - ir);
                        float* cp = C + (long)(ic + ir) * Ldc + Jc + jr;
                        Tile(kc, pa + ir * kc, bp, bStride, cp, Ldc, mr, nr, beta);
                    }
                }
            }
        }
    }

    /// <summary>Packs rows [i0, i0+mc) and columns [p0, p0+kc) of alpha op(A) into MR-row panels, k-major, zero padded.</summary>
    static void PackA(bool tA, float* a, int lda, int i0, int mc, int p0, int kc, float alpha, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* d = dst + ir * kc;
            if (tA)
            {
                // op(A)[i, p] = a[p * lda + i]: MR consecutive floats per k.
                float* s = a + (long)p0 * lda + i0 + ir;
                if (mr == MR && MR == 12)
                {
                    var va = Vector256.Create(alpha);
                    var vb = Vector128.Create(alpha);
                    for (int p = 0; p < kc; p++)
                    {
                        (Vector256.Load(s + (long)p * lda) * va).Store(d + p * MR);
                        (Vector128.Load(s + (long)p * lda + 8) * vb).Store(d + p * MR + 8);
                    }
                }
                else if (mr == MR)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* sp = s + (long)p * lda;
                        for (int r = 0; r < MR; r++) d[p * MR + r] = alpha * sp[r];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                        for (int r = 0; r < MR; r++)
                            d[p * MR + r] = r < mr ? alpha * s[(long)p * lda + r] : 0f;
                }
            }
            else
            {
                // op(A)[i, p] = a[i * lda + p]: transpose MR rows into k-major order, 8 x 8 blocks in
                // registers. With MR = 6 each 8-wide store spills 2 lanes into the next k, which the
                // next store overwrites (the last one lands in the next panel or the buffer's slack).
                int p8 = 0;
                if (Avx.IsSupported && mr == MR && MR == 12)
                {
                    // Rows 0-7 and rows 8-11 (with four zero rows) as two 8 x 8 transposes; the second
                    // stores only its low four lanes.
                    float* s0 = a + (long)(i0 + ir) * lda + p0;
                    var va = Vector256.Create(alpha);
                    for (; p8 + 8 <= kc; p8 += 8)
                    {
                        float* sp = s0 + p8;
                        var r0 = Vector256.Load(sp) * va;
                        var r1 = Vector256.Load(sp + lda) * va;
                        var r2 = Vector256.Load(sp + 2L * lda) * va;
                        var r3 = Vector256.Load(sp + 3L * lda) * va;
                        var r4 = Vector256.Load(sp + 4L * lda) * va;
                        var r5 = Vector256.Load(sp + 5L * lda) * va;
                        var r6 = Vector256.Load(sp + 6L * lda) * va;
                        var r7 = Vector256.Load(sp + 7L * lda) * va;
                        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                        float* dp = d + p8 * MR;
                        r0.Store(dp); r1.Store(dp + MR); r2.Store(dp + 2 * MR); r3.Store(dp + 3 * MR);
                        r4.Store(dp + 4 * MR); r5.Store(dp + 5 * MR); r6.Store(dp + 6 * MR); r7.Store(dp + 7 * MR);
                        var q0 = Vector256.Load(sp + 8L * lda) * va;
                        var q1 = Vector256.Load(sp + 9L * lda) * va;
                        var q2 = Vector256.Load(sp + 10L * lda) * va;
                        var q3 = Vector256.Load(sp + 11L * lda) * va;
                        Vector256<float> q4 = default, q5 = default, q6 = default, q7 = default;
                        Transpose8x8(ref q0, ref q1, ref q2, ref q3, ref q4, ref q5, ref q6, ref q7);
                        dp += 8;
                        q0.GetLower().Store(dp); q1.GetLower().Store(dp + MR); q2.GetLower().Store(dp + 2 * MR); q3.GetLower().Store(dp + 3 * MR);
                        q4.GetLower().Store(dp + 4 * MR); q5.GetLower().Store(dp + 5 * MR); q6.GetLower().Store(dp + 6 * MR); q7.GetLower().Store(dp + 7 * MR);
                    }
                }
                else if (Avx.IsSupported && mr == MR)
                {
                    float* s0 = a + (long)(i0 + ir) * lda + p0;
                    var va = Vector256.Create(alpha);
                    for (; p8 + 8 <= kc; p8 += 8)
                    {
                        float* sp = s0 + p8;
                        var r0 = Vector256.Load(sp) * va;
                        var r1 = Vector256.Load(sp + lda) * va;
                        var r2 = Vector256.Load(sp + 2L * lda) * va;
                        var r3 = Vector256.Load(sp + 3L * lda) * va;
                        var r4 = Vector256.Load(sp + 4L * lda) * va;
                        var r5 = Vector256.Load(sp + 5L * lda) * va;
                        var r6 = MR == 8 ? Vector256.Load(sp + 6L * lda) * va : default;
                        var r7 = MR == 8 ? Vector256.Load(sp + 7L * lda) * va : default;
                        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                        float* dp = d + p8 * MR;
                        r0.Store(dp); r1.Store(dp + MR); r2.Store(dp + 2 * MR); r3.Store(dp + 3 * MR);
                        r4.Store(dp + 4 * MR); r5.Store(dp + 5 * MR); r6.Store(dp + 6 * MR); r7.Store(dp + 7 * MR);
                    }
                }
                for (int r = 0; r < MR; r++)
                {
                    if (r < mr)
                    {
                        float* s = a + (long)(i0 + ir + r) * lda + p0;
                        for (int p = p8; p < kc; p++) d[p * MR + r] = alpha * s[p];
                    }
                    else
                    {
                        for (int p = p8; p < kc; p++) d[p * MR + r] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>Packs rows [p0, p0+kc) and columns [j0, j0+nr) of op(B) into one NR-wide panel, k-major, zero padded.</summary>
    static void PackB(bool tB, float* b, int ldb, int p0, int kc, int j0, int nr, float* d)
    {
        if (!tB)
        {
            float* s = b + (long)p0 * ldb + j0;
            if (nr == NR)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* sp = s + (long)p * ldb;
                    for (int j = 0; j < NR; j += 8) Vector256.Store(Vector256.Load(sp + j), d + p * NR + j);
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* sp = s + (long)p * ldb;
                    int j = 0;
                    for (; j < nr; j++) d[p * NR + j] = sp[j];
                    for (; j < NR; j++) d[p * NR + j] = 0f;
                }
            }
        }
        else
        {
            // op(B)[p, j] = b[j * ldb + p]: 8 x 8 register transposes, then the k remainder.
            int p8 = 0;
            if (Avx.IsSupported && nr == NR)
            {
                for (; p8 + 8 <= kc; p8 += 8)
                {
                    for (int jg = 0; jg < NR; jg += 8)
                    {
                        float* sp = b + (long)(j0 + jg) * ldb + p0 + p8;
                        var r0 = Vector256.Load(sp);
                        var r1 = Vector256.Load(sp + ldb);
                        var r2 = Vector256.Load(sp + 2L * ldb);
                        var r3 = Vector256.Load(sp + 3L * ldb);
                        var r4 = Vector256.Load(sp + 4L * ldb);
                        var r5 = Vector256.Load(sp + 5L * ldb);
                        var r6 = Vector256.Load(sp + 6L * ldb);
                        var r7 = Vector256.Load(sp + 7L * ldb);
                        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                        float* dp = d + p8 * NR + jg;
                        r0.Store(dp); r1.Store(dp + NR); r2.Store(dp + 2 * NR); r3.Store(dp + 3 * NR);
                        r4.Store(dp + 4 * NR); r5.Store(dp + 5 * NR); r6.Store(dp + 6 * NR); r7.Store(dp + 7 * NR);
                    }
                }
            }
            for (int j = 0; j < NR; j++)
            {
                if (j < nr)
                {
                    float* s = b + (long)(j0 + j) * ldb + p0;
                    for (int p = p8; p < kc; p++) d[p * NR + j] = s[p];
                }
                else
                {
                    for (int p = 0; p < kc; p++) d[p * NR + j] = 0f;
                }
            }
        }
    }

    /// <summary>In-register 8 x 8 transpose: afterwards r_i holds column i of the rows r0..r7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>C tile (mr x nr) = beta C + A panel x B panel; partial tiles go through a stack tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Tile(int kc, float* ap, float* bp, nint bStride, float* c, int ldc, int mr, int nr, float beta)
    {
        if (nr == NR)
        {
            // Short tiles (the last rows of C) store only the rows that exist; A's padding rows are zero.
            Micro(kc, ap, bp, bStride, c, ldc, beta, mr);
            return;
        }
        float* t = stackalloc float[MaxTile];
        Micro(kc, ap, bp, bStride, t, NR, 0f, MR);
        for (int i = 0; i < mr; i++)
        {
            float* ci = c + (long)i * ldc;
            float* ti = t + i * NR;
            if (beta == 0f) for (int j = 0; j < nr; j++) ci[j] = ti[j];
            else if (beta == 1f) for (int j = 0; j < nr; j++) ci[j] += ti[j];
            else for (int j = 0; j < nr; j++) ci[j] = beta * ci[j] + ti[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Micro(int kc, float* ap, float* bp, nint bStride, float* c, int ldc, float beta, int rows)
    {
        if (Wide) Micro512(kc, ap, bp, bStride, c, ldc, beta, rows);
        else Micro256(kc, ap, bp, bStride, c, ldc, beta, rows);
    }

    /// <summary>12 x 32 tile in 24 zmm accumulators: per k, two B loads and twelve broadcasts feed 24 FMAs.</summary>
    static void Micro512(int kc, float* ap, float* bp, nint bStride, float* c, int ldc, float beta, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            Vector512<float> av;
            av = Vector512.Create(ap[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(ap[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(ap[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(ap[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(ap[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(ap[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(ap[6]); c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(ap[7]); c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(ap[8]); c80 = Vector512.FusedMultiplyAdd(av, b0, c80); c81 = Vector512.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(ap[9]); c90 = Vector512.FusedMultiplyAdd(av, b0, c90); c91 = Vector512.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(ap[10]); ca0 = Vector512.FusedMultiplyAdd(av, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(av, b1, ca1);
            av = Vector512.Create(ap[11]); cb0 = Vector512.FusedMultiplyAdd(av, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(av, b1, cb1);
            ap += 12;
            bp += bStride;
        }
        Store512(c, c00, c01, beta); c += ldc;
        if (rows > 1) Store512(c, c10, c11, beta); c += ldc;
        if (rows > 2) Store512(c, c20, c21, beta); c += ldc;
        if (rows > 3) Store512(c, c30, c31, beta); c += ldc;
        if (rows > 4) Store512(c, c40, c41, beta); c += ldc;
        if (rows > 5) Store512(c, c50, c51, beta); c += ldc;
        if (rows > 6) Store512(c, c60, c61, beta); c += ldc;
        if (rows > 7) Store512(c, c70, c71, beta); c += ldc;
        if (rows > 8) Store512(c, c80, c81, beta); c += ldc;
        if (rows > 9) Store512(c, c90, c91, beta); c += ldc;
        if (rows > 10) Store512(c, ca0, ca1, beta); c += ldc;
        if (rows > 11) Store512(c, cb0, cb1, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(float* c, Vector512<float> v0, Vector512<float> v1, float beta)
    {
        if (beta == 0f) { v0.Store(c); v1.Store(c + 16); }
        else if (beta == 1f) { (Vector512.Load(c) + v0).Store(c); (Vector512.Load(c + 16) + v1).Store(c + 16); }
        else
        {
            var vb = Vector512.Create(beta);
            Vector512.FusedMultiplyAdd(Vector512.Load(c), vb, v0).Store(c);
            Vector512.FusedMultiplyAdd(Vector512.Load(c + 16), vb, v1).Store(c + 16);
        }
    }

    /// <summary>6 x 16 tile in 12 ymm accumulators: per k, two B loads and six broadcasts feed 12 FMAs.</summary>
    static void Micro256(int kc, float* ap, float* bp, nint bStride, float* c, int ldc, float beta, int rows)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            Vector256<float> av;
            av = Vector256.Create(ap[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(ap[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(ap[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(ap[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(ap[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(ap[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            ap += 6;
            bp += bStride;
        }
        Store256(c, c00, c01, beta); c += ldc;
        if (rows > 1) Store256(c, c10, c11, beta); c += ldc;
        if (rows > 2) Store256(c, c20, c21, beta); c += ldc;
        if (rows > 3) Store256(c, c30, c31, beta); c += ldc;
        if (rows > 4) Store256(c, c40, c41, beta); c += ldc;
        if (rows > 5) Store256(c, c50, c51, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store256(float* c, Vector256<float> v0, Vector256<float> v1, float beta)
    {
        if (beta == 0f) { v0.Store(c); v1.Store(c + 8); }
        else if (beta == 1f) { (Vector256.Load(c) + v0).Store(c); (Vector256.Load(c + 8) + v1).Store(c + 8); }
        else
        {
            var vb = Vector256.Create(beta);
            Vector256.FusedMultiplyAdd(Vector256.Load(c), vb, v0).Store(c);
            Vector256.FusedMultiplyAdd(Vector256.Load(c + 8), vb, v1).Store(c + 8);
        }
    }
}
