// Pointwise (1 x 1, stride 1, unpadded) convolution in NCHW without transposes. Per sample and group the
// forward pass is Y[co, p] = sum_ci W[co, ci] X[ci, p] and the data gradient dX[ci, p] = sum_co W[co, ci] dY[co, p]:
// one GEMM form, out[r, p] = sum_k A[r, k] B[k, p], whose B (the sample's planes, rows of positions) is read in
// place and whose A (the weights, or their transpose) is packed once per call. The register tile is MR rows (output
// channels, scalar broadcasts from the packed A) by NR positions (two vectors of a B row), so every accumulator is
// a run of one output plane row: the epilogue (scale, shift, residual, activation) and the next BatchNorm's batch
// statistics are applied to the accumulators and stored straight into NCHW, where the direct kernels
// (ConvDirect.cs) compute positions x channels tiles and transpose them on the way out (a third of the
// depthwise-separable block's forward pass). The last positions of a plane (fewer than NR) are copied into a
// zero-padded block and computed by the same kernel into a small tile, so there is one arithmetic path.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

internal static unsafe class PointwiseConv
{
    static readonly bool Wide = Simd.Use512;
    /// <summary>Tile rows (output channels) and columns (positions, two vectors): 8 x 32 in 16 zmm accumulators,
    /// 6 x 16 in 12 ymm ones (as <see cref="ConvDirect"/>'s tiles, for the same register budgets).</summary>
    public static readonly int MR = Wide ? 8 : 6, NR = Wide ? 32 : 16;

    // Per call, owned by the calling thread and read by the workers: the packed A and the per-task statistics.
    [ThreadStatic] static float[]? packScratch;
    [ThreadStatic] static float[]? statScratch;
    // Per thread: the padded last columns and their output tile, and the statistics lanes of the task it runs.
    [ThreadStatic] static float[]? edgeScratch;
    [ThreadStatic] static float[]? laneScratch;

    /// <summary>Whether the shape is a pointwise convolution this kernel takes: planes of at least one tile of
    /// positions (smaller ones would run every column through the padded copy).</summary>
    public static bool Applies(in Conv2dShape s) => ConvDirect.Available && s.Kh == 1 && s.Kw == 1 && s.StrideH == 1 && s.StrideW == 1
        && s.PadH == 0 && s.PadW == 0 && s.H * s.W >= NR;

    struct Problem
    {
        public int Groups, K, Rows, RowBlocks, P, Parts;
        public float* PackedA;          // [group][row block][K][MR]
        public float* Src, Dst, Residual;
        public long SrcStride, DstStride, ResidualStride;
        public float* Scale, Shift, StatShift; // per output row (all groups), or null
        public double* Stats;                  // per task 2 doubles per output row, or null
        public bool Accumulate;
        public int Blocks => (P + NR - 1) / NR;
    }

    /// <summary>Forward: y = act(scale acc + shift + residual), with the sums of (y - statShift[c]) and its square per
    /// output channel into <paramref name="stats"/> (2 doubles per channel, overwritten) when not null.</summary>
    public static void Forward<TAct>(in Conv2dShape s, int n, float* x, long xStride, float* w, in ConvEpi epi,
        float* residual, long residualStride, float* y, long yStride, double* stats) where TAct : struct, IActivation
    {
        int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g;
        var c = new Problem
        {
            Groups = g, K = cinG, Rows = coutG, P = s.H * s.W, Src = x, SrcStride = xStride, Dst = y, DstStride = yStride,
            Residual = residual, ResidualStride = residualStride, Scale = epi.Scale, Shift = epi.Shift, StatShift = epi.StatShift,
        };
        // A[co, ci] = w[co, ci]: each packed k-row holds MR consecutive output channels' weights of input channel k.
        Pack(ref c, w, rowStride: cinG, kStride: 1, groupStride: (long)coutG * cinG);
        Run<TAct>(ref c, n, stats);
    }

    /// <summary>Data gradient: dx (=, or += when <paramref name="accumulate"/>) W^T dy per sample and group.</summary>
    public static void BackwardData(in Conv2dShape s, int n, float* dy, long dyStride, float* w, float* dx, long dxStride, bool accumulate)
    {
        int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g;
        var c = new Problem
        {
            Groups = g, K = coutG, Rows = cinG, P = s.H * s.W, Src = dy, SrcStride = dyStride, Dst = dx, DstStride = dxStride,
            Accumulate = accumulate,
        };
        // A[ci, co] = w[co, ci]: each packed k-row (output channel k) holds MR consecutive input channels' weights.
        Pack(ref c, w, rowStride: 1, kStride: cinG, groupStride: (long)coutG * cinG);
        Run<Identity>(ref c, n, null);
    }

    /// <summary>packed[g][rb][k][r] = A[g][rb MR + r, k] = w[g groupStride + (rb MR + r) rowStride + k kStride], zero past the rows.</summary>
    static void Pack(ref Problem c, float* w, int rowStride, int kStride, long groupStride)
    {
        int mr = MR, k = c.K, rows = c.Rows;
        c.RowBlocks = (rows + mr - 1) / mr;
        float* dst = c.PackedA = Scratch.Aligned(Scratch.Get(ref packScratch, c.Groups * c.RowBlocks * k * mr));
        for (int g = 0; g < c.Groups; g++)
            for (int rb = 0; rb < c.RowBlocks; rb++)
                for (int kk = 0; kk < k; kk++)
                    for (int r = 0; r < mr; r++, dst++)
                    {
                        int row = rb * mr + r;
                        *dst = row < rows ? w[g * groupStride + (long)row * rowStride + (long)kk * kStride] : 0f;
                    }
    }

    static void Run<TAct>(ref Problem c, int n, double* stats) where TAct : struct, IActivation
    {
        int threads = WorkerPool.InsideJob ? 1 : WorkerPool.ThreadCount;
        c.Parts = 1;
        if (n < 2 * threads)
        {
            // Too few samples to share out evenly: split each sample's column blocks, about two parts per thread
            // where the work allows.
            long flops = 2L * c.Groups * c.RowBlocks * MR * c.K * c.P;
            int byWork = (int)Math.Clamp(flops / WorkerPool.MinParallelFlops, 1, c.Blocks);
            c.Parts = Math.Min((2 * threads + n - 1) / n, byWork);
        }
        int tasks = n * c.Parts, channels = c.Groups * c.Rows;
        c.Stats = null;
        if (stats != null)
        {
            c.Stats = (double*)Scratch.Aligned(Scratch.Get(ref statScratch, 4 * tasks * channels + 16));
            new Span<double>(c.Stats, 2 * tasks * channels).Clear();
        }
        var job = new Job<TAct> { C = c };
        WorkerPool.For(tasks, ref job);
        if (stats != null) ConvDirect.SumTasks(c.Stats, tasks, 2 * channels, stats);
    }

    /// <summary>Where a tile's rows go and what the write-out does: row r is output channel Row0 + r of the sample.</summary>
    struct Out
    {
        public float* Dst, Residual, Scale, Shift, StatShift;
        public double* Lanes;   // 16 doubles per output row (8 sums of y - statShift, 8 of its square), or null
        public float* Edge;     // not null: the tile's columns are the padded last ones, stored raw here (MR x NR)
        public int P, Row0;
        public bool Accumulate;
    }

    struct Job<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public Problem C;

        public void Run(int task)
        {
            ref readonly Problem c = ref C;
            int b = task / c.Parts, part = task % c.Parts, blocks = c.Blocks, nr = NR, mr = MR;
            int jb0 = (int)((long)blocks * part / c.Parts), jb1 = (int)((long)blocks * (part + 1) / c.Parts);
            if (jb0 >= jb1) return;
            int channels = c.Groups * c.Rows, p = c.P, full = p / nr;
            float* src = c.Src + b * c.SrcStride;
            double* lanes = null;
            if (c.Stats != null)
            {
                lanes = (double*)Scratch.Aligned(Scratch.Get(ref laneScratch, 32 * channels + 16));
                new Span<double>(lanes, 16 * channels).Clear();
            }
            var o = new Out
            {
                Dst = c.Dst + b * c.DstStride, Residual = c.Residual == null ? null : c.Residual + b * c.ResidualStride,
                Scale = c.Scale, Shift = c.Shift, StatShift = c.StatShift, Lanes = lanes, P = p, Accumulate = c.Accumulate,
            };
            float* edge = null;
            if (jb1 > full)
            {
                // The last positions of every input row, zero-padded to a whole tile, then room for the output tile.
                int k = c.Groups * c.K, rest = p - full * nr;
                edge = Scratch.Aligned(Scratch.Get(ref edgeScratch, k * nr + mr * nr));
                for (int kk = 0; kk < k; kk++)
                {
                    float* d = edge + (long)kk * nr;
                    new ReadOnlySpan<float>(src + (long)kk * p + full * nr, rest).CopyTo(new Span<float>(d, rest));
                    new Span<float>(d + rest, nr - rest).Clear();
                }
            }
            for (int jb = jb0; jb < jb1; jb++)
            {
                bool last = jb == full;
                int col = jb * nr;
                for (int g = 0; g < c.Groups; g++)
                {
                    float* bm = last ? edge + (long)g * c.K * nr : src + (long)g * c.K * p + col;
                    nint ldb = last ? nr : p;
                    for (int rb = 0; rb < c.RowBlocks; rb++)
                    {
                        int row0 = g * c.Rows + rb * mr, rows = Math.Min(mr, c.Rows - rb * mr);
                        o.Row0 = row0;
                        o.Edge = last ? edge + (long)c.Groups * c.K * nr : null;
                        float* a = c.PackedA + ((long)g * c.RowBlocks + rb) * c.K * mr;
                        if (Wide) Kernel512<TAct>(c.K, a, bm, ldb, rows, col, o);
                        else Kernel256<TAct>(c.K, a, bm, ldb, rows, col, o);
                        if (last) EdgeOut<TAct>(o, rows, col, p - col);
                    }
                }
            }
            if (lanes != null)
            {
                double* st = c.Stats + (long)task * 2 * channels;
                for (int ch = 0; ch < channels; ch++)
                {
                    double* l = lanes + ch * 16;
                    double s1 = 0, s2 = 0;
                    for (int j = 0; j < 8; j++) { s1 += l[j]; s2 += l[8 + j]; }
                    st[2 * ch] += s1;
                    st[2 * ch + 1] += s2;
                }
            }
        }
    }

    /// <summary>8 output channels x 32 positions in 16 zmm accumulators over k, then each row's write-out.</summary>
    static void Kernel512<TAct>(int k, float* a, float* b, nint ldb, int rows, int col, in Out o) where TAct : struct, IActivation
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int i = 0; i < k; i++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            Vector512<float> av;
            av = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            a += 8;
            b += ldb;
        }
        Row<TAct>(o, 0, col, c00, c01);
        if (rows > 1) Row<TAct>(o, 1, col, c10, c11);
        if (rows > 2) Row<TAct>(o, 2, col, c20, c21);
        if (rows > 3) Row<TAct>(o, 3, col, c30, c31);
        if (rows > 4) Row<TAct>(o, 4, col, c40, c41);
        if (rows > 5) Row<TAct>(o, 5, col, c50, c51);
        if (rows > 6) Row<TAct>(o, 6, col, c60, c61);
        if (rows > 7) Row<TAct>(o, 7, col, c70, c71);
    }

    /// <summary>6 output channels x 16 positions in 12 ymm accumulators over k, then each row's write-out.</summary>
    static void Kernel256<TAct>(int k, float* a, float* b, nint ldb, int rows, int col, in Out o) where TAct : struct, IActivation
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int i = 0; i < k; i++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            Vector256<float> av;
            av = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += ldb;
        }
        Row<TAct>(o, 0, col, c00, c01);
        if (rows > 1) Row<TAct>(o, 1, col, c10, c11);
        if (rows > 2) Row<TAct>(o, 2, col, c20, c21);
        if (rows > 3) Row<TAct>(o, 3, col, c30, c31);
        if (rows > 4) Row<TAct>(o, 4, col, c40, c41);
        if (rows > 5) Row<TAct>(o, 5, col, c50, c51);
    }

    /// <summary>Row r of a tile over positions [col, col + 32): the write-out, or (edge tile) the raw sums into the tile.
    /// The 256-bit write-out below on 512-bit vectors: running that one on register halves measured 7-10% slower (lab
    /// pointwise, 64 -> 128 at batch 64, cpu us: forward with BatchNorm + ReLU folded 1855 against 1727, taking statistics
    /// 1937 against 1704), and through ConvDirect's micro-kernel and an L1 tile (one kernel fewer) 20-25% slower.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row<TAct>(in Out o, int r, int col, Vector512<float> v0, Vector512<float> v1) where TAct : struct, IActivation
    {
        if (o.Edge != null) { v0.Store(o.Edge + r * 32); v1.Store(o.Edge + r * 32 + 16); return; }
        int ch = o.Row0 + r;
        long at = (long)ch * o.P + col;
        float* d = o.Dst + at;
        if (o.Scale != null || o.Shift != null || o.Residual != null || typeof(TAct) != typeof(Identity))
        {
            var sc = Vector512.Create(o.Scale == null ? 1f : o.Scale[ch]);
            var sh = Vector512.Create(o.Shift == null ? 0f : o.Shift[ch]);
            v0 = Vector512.FusedMultiplyAdd(v0, sc, sh);
            v1 = Vector512.FusedMultiplyAdd(v1, sc, sh);
            if (o.Residual != null) { v0 += Vector512.Load(o.Residual + at); v1 += Vector512.Load(o.Residual + at + 16); }
            v0 = default(TAct).Apply(v0);
            v1 = default(TAct).Apply(v1);
        }
        if (o.Accumulate) { v0 += Vector512.Load(d); v1 += Vector512.Load(d + 16); }
        v0.Store(d);
        v1.Store(d + 16);
        if (o.Lanes != null)
        {
            // y - shift rounded once to float, then squared and summed in double (as ConvDirect.WriteOut does).
            double* l = o.Lanes + ch * 16;
            var k = Vector512.Create(o.StatShift == null ? 0f : o.StatShift[ch]);
            var (a0, a1) = Vector512.Widen(v0 - k);
            var (b0, b1) = Vector512.Widen(v1 - k);
            ((a0 + a1) + (b0 + b1) + Vector512.Load(l)).Store(l);
            var sq = Vector512.FusedMultiplyAdd(a0, a0, a1 * a1) + Vector512.FusedMultiplyAdd(b0, b0, b1 * b1);
            (sq + Vector512.Load(l + 8)).Store(l + 8);
        }
    }

    /// <summary>Row r of a tile over positions [col, col + 16) (the 256-bit tile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row<TAct>(in Out o, int r, int col, Vector256<float> v0, Vector256<float> v1) where TAct : struct, IActivation
    {
        if (o.Edge != null) { v0.Store(o.Edge + r * 16); v1.Store(o.Edge + r * 16 + 8); return; }
        int ch = o.Row0 + r;
        long at = (long)ch * o.P + col;
        float* d = o.Dst + at;
        if (o.Scale != null || o.Shift != null || o.Residual != null || typeof(TAct) != typeof(Identity))
        {
            var sc = Vector256.Create(o.Scale == null ? 1f : o.Scale[ch]);
            var sh = Vector256.Create(o.Shift == null ? 0f : o.Shift[ch]);
            v0 = Vector256.FusedMultiplyAdd(v0, sc, sh);
            v1 = Vector256.FusedMultiplyAdd(v1, sc, sh);
            if (o.Residual != null) { v0 += Vector256.Load(o.Residual + at); v1 += Vector256.Load(o.Residual + at + 8); }
            v0 = default(TAct).Apply(v0);
            v1 = default(TAct).Apply(v1);
        }
        if (o.Accumulate) { v0 += Vector256.Load(d); v1 += Vector256.Load(d + 8); }
        v0.Store(d);
        v1.Store(d + 8);
        if (o.Lanes != null)
        {
            double* l = o.Lanes + ch * 16;
            var k = Vector256.Create(o.StatShift == null ? 0f : o.StatShift[ch]);
            var (a0, a1) = Vector256.Widen(v0 - k);
            var (b0, b1) = Vector256.Widen(v1 - k);
            (a0 + b0 + Vector256.Load(l)).Store(l);
            (a1 + b1 + Vector256.Load(l + 4)).Store(l + 4);
            (Vector256.FusedMultiplyAdd(a0, a0, b0 * b0) + Vector256.Load(l + 8)).Store(l + 8);
            (Vector256.FusedMultiplyAdd(a1, a1, b1 * b1) + Vector256.Load(l + 12)).Store(l + 12);
        }
    }

    /// <summary>The write-out of an edge tile's first <paramref name="cols"/> positions, element by element.</summary>
    static void EdgeOut<TAct>(in Out o, int rows, int col, int cols) where TAct : struct, IActivation
    {
        bool plain = o.Scale == null && o.Shift == null && o.Residual == null && typeof(TAct) == typeof(Identity);
        for (int r = 0; r < rows; r++)
        {
            int ch = o.Row0 + r;
            long at = (long)ch * o.P + col;
            float* t = o.Edge + r * NR, d = o.Dst + at;
            float sc = o.Scale == null ? 1f : o.Scale[ch], sh = o.Shift == null ? 0f : o.Shift[ch];
            float k = o.StatShift == null ? 0f : o.StatShift[ch];
            double s1 = 0, s2 = 0;
            for (int j = 0; j < cols; j++)
            {
                float v = t[j];
                if (!plain)
                {
                    float z = MathF.FusedMultiplyAdd(v, sc, sh);
                    if (o.Residual != null) z += o.Residual[at + j];
                    v = default(TAct).Apply(z);
                }
                if (o.Accumulate) v += d[j];
                d[j] = v;
                double u = v - k;
                s1 += u;
                s2 += u * u;
            }
            if (o.Lanes != null) { o.Lanes[ch * 16] += s1; o.Lanes[ch * 16 + 8] += s2; }
        }
    }
}
