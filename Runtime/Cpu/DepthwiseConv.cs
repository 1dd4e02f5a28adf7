// Direct depthwise convolution (one filter per channel). Each input plane is copied into a
// zero-padded plane whose columns are split by phase (column mod stride), so that for every tap the
// inputs of consecutive output columns are consecutive floats: stride 2 and dilation vectorise like
// stride 1, and no bounds tests remain in the inner loops. Output vectors are computed eight at a
// time with independent accumulators (one chain of taps per vector would wait on the FMA latency);
// a row's last vector overlaps the one before it instead of running past the row. With stride 1 the
// data gradient is the same gather over dy, padded by (K - 1) * dilation - padding, with the kernel
// flipped; the weight gradient keeps one accumulator per tap in registers across a plane.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

internal static unsafe class DepthwiseConv
{
    [ThreadStatic] static float[]? planeScratch;
    [ThreadStatic] static float[]? dyScratch;

    /// <summary>Vector width of the inner loops. 8 lanes everywhere: the rows here are short (7..56
    /// outputs), so wider vectors would mostly compute padding.</summary>
    const int V = 8;

    /// <summary>The phase-split padded plane: row r (padded coordinates), phase f, column q holds xpad[r, q * sw + f].
    /// Lines are wide enough that whole vectors past the last output column stay inside their own line.</summary>
    readonly struct Plane
    {
        public readonly int Rows, Phases, Width, VecWo;
        public Plane(in Conv2dShape s) : this(s, V) { }

        /// <summary>A plane for output vectors of <paramref name="lanes"/> floats.</summary>
        public Plane(in Conv2dShape s, int lanes)
        {
            Rows = s.H + 2 * s.PadH;
            Phases = s.StrideW;
            VecWo = (s.Wo + lanes - 1) / lanes * lanes;
            // Lines start on cache lines (64-byte aligned plane, width a multiple of 16 floats), so
            // that the short rows' vectors rarely straddle two lines.
            Width = (Math.Max(VecWo + (s.Kw - 1) * s.DilW / s.StrideW, (s.W + 2 * s.PadW + s.StrideW - 1) / s.StrideW) + 15) / 16 * 16;
        }
        public int Size => Rows * Phases * Width;
        public int RowStride => Phases * Width;

        /// <summary>Offsets of each tap's first input relative to the line of output row 0.</summary>
        public void TapOffsets(in Conv2dShape s, Span<int> offsets)
        {
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++)
                {
                    int t = kw * s.DilW;
                    offsets[kh * s.Kw + kw] = (kh * s.DilH * Phases + t % Phases) * Width + t / Phases;
                }
        }
    }

    /// <summary>Copies a plane's data into its cells of the padded plane. Every other cell is zero and
    /// stays zero (the data lands on the same cells each time), so the plane is cleared only when
    /// <paramref name="clear"/>: the first time a task uses its scratch.</summary>
    static void Fill(in Conv2dShape s, in Plane p, float* x, float* plane, bool clear)
    {
        if (clear) new Span<float>(plane, p.Size).Clear();
        int sw = s.StrideW;
        if (sw == 1)
        {
            for (int ih = 0; ih < s.H; ih++) KernelUtil.CopyRow(x + ih * s.W, plane + (long)(ih + s.PadH) * p.Width + s.PadW, s.W);
            return;
        }
        for (int ih = 0; ih < s.H; ih++)
        {
            float* src = x + ih * s.W;
            long rowBase = (long)(ih + s.PadH) * p.Phases * p.Width;
            // Walk phase and column incrementally: a division per element would cost more than the copy.
            int phase = s.PadW % sw, q = s.PadW / sw;
            int iw = 0;
            if (sw == 2 && Avx2.IsSupported)
            {
                float* evenDst = plane + rowBase + (long)phase * p.Width + q;
                int oddQ = (s.PadW + 1) / 2;
                float* oddDst = plane + rowBase + (long)(1 - phase) * p.Width + oddQ;
                iw = SplitPhases2(src, s.W, evenDst, oddDst, Math.Min(p.Width - q, p.Width - oddQ));
                q += iw / 2;
            }
            for (; iw < s.W; iw++)
            {
                plane[rowBase + (long)phase * p.Width + q] = src[iw];
                if (++phase == sw) { phase = 0; q++; }
            }
        }
    }

    /// <summary>Splits a row of <paramref name="w"/> floats into its even and odd elements, 16 at a time (a shuffle
    /// and a lane permute), the last few by masked loads; returns how many it placed (all but a tail the
    /// caller copies when the lines lack room for a whole vector). The masked lanes' zeros land on cells right of the
    /// data, which are padding or slack of the same line and hold zero already. <paramref name="room"/>: floats
    /// from either destination to its line's end. Rows here are mostly 7..28 wide, so the element loop this
    /// replaces (a phase test per float) cost more than the taps it fed (a third of GhostBottleneck's forward).</summary>
    static int SplitPhases2(float* src, int w, float* evenDst, float* oddDst, int room)
    {
        int iw = 0;
        for (; iw + 16 <= w; iw += 16) SplitStore(src + iw, evenDst + iw / 2, oddDst + iw / 2);
        if (iw < w && iw / 2 + 8 <= room)
        {
            // Masked loads (zero past the row, no fault): a buffer filled by scalar stores and read back as
            // vectors stalls on every row (stores cannot forward to a wider load).
            int r = w - iw;
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            var m0 = Vector256.LessThan(lane, Vector256.Create(r)).AsSingle();
            var m1 = Vector256.LessThan(lane, Vector256.Create(r - 8)).AsSingle();
            Split(Avx.MaskLoad(src + iw, m0), Avx.MaskLoad(src + iw + 8, m1), evenDst + iw / 2, oddDst + iw / 2);
            iw = w;
        }
        return iw;
    }

    static void SplitStore(float* src, float* evenDst, float* oddDst) =>
        Split(Vector256.Load(src), Vector256.Load(src + 8), evenDst, oddDst);

    static void Split(Vector256<float> a, Vector256<float> b, float* evenDst, float* oddDst)
    {
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0x88).AsDouble(), 0xD8).AsSingle().Store(evenDst);
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0xDD).AsDouble(), 0xD8).AsSingle().Store(oddDst);
    }

    /// <summary>The inverse of <see cref="SplitPhases2"/>: dst[2j] (=, or +=) even[j], dst[2j + 1] (=, or +=) odd[j]
    /// over <paramref name="w"/> floats, 16 at a time (unpacks and a lane permute), the last few through a buffer;
    /// returns how many it wrote (the caller does a tail the lines lack room to read as whole vectors).</summary>
    static int MergePhases2(float* even, float* odd, float* dst, int w, bool accumulate, int room)
    {
        int iw = 0;
        for (; iw + 16 <= w; iw += 16) MergeStore(even + iw / 2, odd + iw / 2, dst + iw, accumulate);
        if (iw < w && iw / 2 + 8 <= room)
        {
            float* tmp = stackalloc float[16];
            MergeStore(even + iw / 2, odd + iw / 2, tmp, false);
            for (int i = iw; i < w; i++) dst[i] = accumulate ? dst[i] + tmp[i - iw] : tmp[i - iw];
            iw = w;
        }
        return iw;
    }

    static void MergeStore(float* even, float* odd, float* dst, bool accumulate)
    {
        var e = Vector256.Load(even);
        var o = Vector256.Load(odd);
        var lo = Avx.UnpackLow(e, o);   // e0 o0 e1 o1 | e4 o4 e5 o5
        var hi = Avx.UnpackHigh(e, o);  // e2 o2 e3 o3 | e6 o6 e7 o7
        var r0 = Avx.Permute2x128(lo, hi, 0x20);
        var r1 = Avx.Permute2x128(lo, hi, 0x31);
        if (accumulate)
        {
            r0 += Vector256.Load(dst);
            r1 += Vector256.Load(dst + 8);
        }
        r0.Store(dst);
        r1.Store(dst + 8);
    }

    /// <summary>About eight tasks per thread: enough to balance shared cores, few enough that claiming
    /// work (an atomic on a shared counter) costs nothing next to a group of planes.</summary>
    static void Split(int planes, out int perTask, out int total, out int tasks)
    {
        total = planes;
        perTask = Math.Max(1, planes / (8 * WorkerPool.ThreadCount));
        tasks = (planes + perTask - 1) / perTask;
    }

    /// <summary>The gather y = act(sc * sum_t w[t] * xpad[...] + sh) over planes of one shape, laid
    /// out once per call (geometry, tap offsets, blocks of output vectors): per plane only the
    /// arithmetic remains. A block is eight output vectors, a few rows by the vectors of each row, with
    /// independent accumulators that keep both FMA pipes busy.</summary>
    struct Gatherer
    {
        public Conv2dShape S;
        public Plane P;
        public int* Offs;   // per tap
        public int* Tables; // per chunk of a row's vectors: source offsets [V], destination offsets [V], used, overlapped
        public int Chunks, Across, Down, PerRow, LineStep;
        public bool Narrow;
        /// <summary>Rows of 9..16 outputs with 512-bit vectors: one vector per row (<see cref="RunWide{TAct}"/>).</summary>
        public bool Wide;
        public Vector256<float> Fresh;

        const int TableStride = 2 * V + 2;

        /// <summary>Ints of the per-call tables: the taps, then the chunks.</summary>
        public static int Ints(in Conv2dShape s)
        {
            int perRow = s.Wo < V ? 1 : (s.Wo + V - 1) / V;
            int across = Math.Min(perRow, V);
            return s.Kh * s.Kw + (perRow + across - 1) / across * TableStride;
        }

        public Gatherer(in Conv2dShape s, int* ints)
        {
            S = s;
            int kk = s.Kh * s.Kw, wo = s.Wo;
            Wide = Simd.Use512 && wo > V && wo <= 2 * V;
            P = new Plane(s, Wide ? 2 * V : V);
            Offs = ints;
            Tables = ints + kk;
            P.TapOffsets(s, new Span<int>(Offs, kk));
            // Rows narrower than a vector compute one vector (its spare lanes read the plane's slack);
            // wider rows end with a vector that overlaps the one before it.
            Narrow = wo < V;
            PerRow = Narrow ? 1 : (wo + V - 1) / V;
            Across = Math.Min(PerRow, V);
            Down = V / Across;
            Chunks = (PerRow + Across - 1) / Across;
            LineStep = s.StrideH * P.RowStride;
            // Lanes of a row's last vector that the vector before it already covered.
            int overlap = Narrow || wo % V == 0 ? 0 : V - wo % V;
            Fresh = Vector256.GreaterThanOrEqual(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(overlap)).AsSingle();
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                int* t = Tables + chunk * TableStride;
                int c0 = chunk * Across, nv = Math.Min(Across, PerRow - c0);
                int used = 0, overlapped = 0;
                for (int j = 0; j < V; j++)
                {
                    int r = j / Across, v = j % Across;
                    if (v < nv) used |= 1 << j;
                    int col = Narrow ? 0 : Math.Min((c0 + Math.Min(v, nv - 1)) * V, wo - V);
                    if (overlap != 0 && col == wo - V) overlapped |= 1 << j;
                    t[j] = r * LineStep + col;
                    t[V + j] = r * wo + col;
                }
                t[2 * V] = used;
                t[2 * V + 1] = overlapped;
            }
        }

        /// <summary>One plane: x (H x W) into the padded scratch plane (cleared first when <paramref name="clear"/>),
        /// then y (Ho x Wo) =, or +=, the gather.</summary>
        public readonly void Run<TAct>(float* x, float* plane, bool clear, float* w, float* y, float sc, float sh, bool accumulate)
            where TAct : struct, IActivation
        {
            Fill(S, P, x, plane, clear);
            if (Wide)
            {
                RunWide<TAct>(plane, w, y, sc, sh, accumulate);
                return;
            }
            int kk = S.Kh * S.Kw, ho = S.Ho, wo = S.Wo;
            bool plain = typeof(TAct) == typeof(Identity) && sc == 1f && sh == 0f;
            var vs = Vector256.Create(sc);
            var vt = Vector256.Create(sh);
            float* acc = stackalloc float[V * V];
            float* tail = stackalloc float[V];
            int* offs = Offs;
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                int* srcAt = Tables + chunk * TableStride, dstAt = srcAt + V;
                int used = srcAt[2 * V], overlapped = srcAt[2 * V + 1];
                for (int oh0 = 0; oh0 < ho; oh0 += Down)
                {
                    // Slots past the last row repeat slot 0 (computed, not stored).
                    int slots = Math.Min(Down, ho - oh0) * Across;
                    float* b = plane + (long)oh0 * LineStep;
                    float* s0 = b + srcAt[0];
                    float* s1 = slots > 1 ? b + srcAt[1] : s0;
                    float* s2 = slots > 2 ? b + srcAt[2] : s0;
                    float* s3 = slots > 3 ? b + srcAt[3] : s0;
                    float* s4 = slots > 4 ? b + srcAt[4] : s0;
                    float* s5 = slots > 5 ? b + srcAt[5] : s0;
                    float* s6 = slots > 6 ? b + srcAt[6] : s0;
                    float* s7 = slots > 7 ? b + srcAt[7] : s0;
                    Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                    for (int t = 0; t < kk; t++)
                    {
                        nint o = offs[t];
                        var wv = Vector256.Create(w[t]);
                        a0 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s0 + o), a0);
                        a1 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s1 + o), a1);
                        a2 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s2 + o), a2);
                        a3 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s3 + o), a3);
                        a4 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s4 + o), a4);
                        a5 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s5 + o), a5);
                        a6 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s6 + o), a6);
                        a7 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(s7 + o), a7);
                    }
                    if (!plain)
                    {
                        a0 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a0, vs, vt));
                        a1 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a1, vs, vt));
                        a2 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a2, vs, vt));
                        a3 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a3, vs, vt));
                        a4 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a4, vs, vt));
                        a5 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a5, vs, vt));
                        a6 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a6, vs, vt));
                        a7 = default(TAct).Apply(Vector256.FusedMultiplyAdd(a7, vs, vt));
                    }
                    float* yb = y + oh0 * wo;
                    // Leading slots stored straight from the registers (the common case): whole
                    // vectors that need no accumulation, and narrow rows whose vector spills only into
                    // rows written after it (the plane's last rows would spill out of it).
                    int direct = 0;
                    if (!accumulate && used == 0xFF)
                    {
                        int room = ho * wo - V - oh0 * wo;
                        direct = !Narrow ? slots : room < 0 ? 0 : Math.Min(slots, room / wo + 1);
                    }
                    if (direct > 0)
                    {
                        a0.Store(yb + dstAt[0]);
                        if (direct > 1) a1.Store(yb + dstAt[1]);
                        if (direct > 2) a2.Store(yb + dstAt[2]);
                        if (direct > 3) a3.Store(yb + dstAt[3]);
                        if (direct > 4) a4.Store(yb + dstAt[4]);
                        if (direct > 5) a5.Store(yb + dstAt[5]);
                        if (direct > 6) a6.Store(yb + dstAt[6]);
                        if (direct > 7) a7.Store(yb + dstAt[7]);
                        if (direct == slots) continue;
                    }
                    a0.Store(acc); a1.Store(acc + V); a2.Store(acc + 2 * V); a3.Store(acc + 3 * V);
                    a4.Store(acc + 4 * V); a5.Store(acc + 5 * V); a6.Store(acc + 6 * V); a7.Store(acc + 7 * V);
                    int pending = used & ((1 << slots) - 1) & ~((1 << direct) - 1);
                    while (pending != 0)
                    {
                        int j = System.Numerics.BitOperations.TrailingZeroCount(pending);
                        pending &= pending - 1;
                        var r = Vector256.Load(acc + j * V);
                        float* d = yb + dstAt[j];
                        if (Narrow)
                        {
                            r.Store(tail);
                            for (int i = 0; i < wo; i++) d[i] = accumulate ? d[i] + tail[i] : tail[i];
                            continue;
                        }
                        if (accumulate)
                        {
                            if ((overlapped & (1 << j)) != 0) r = Vector256.BitwiseAnd(r, Fresh);
                            r += Vector256.Load(d);
                        }
                        r.Store(d);
                    }
                }
            }
        }

        /// <summary>Rows of 9..16 outputs (14 x 14 planes: GhostNet's, the samples' depthwise blocks): one 512-bit
        /// vector per row, up to eight rows in registers, instead of two overlapping 256-bit vectors per row; half the
        /// loads and FMAs per output. A row's lanes past its end spill into the next row, which is stored after it
        /// (or, accumulating, get zeros added); the plane's last row is stored as two overlapping halves, as the floats
        /// after it belong to another plane that another task may be writing.</summary>
        readonly void RunWide<TAct>(float* plane, float* w, float* y, float sc, float sh, bool accumulate)
            where TAct : struct, IActivation
        {
            int kk = S.Kh * S.Kw, ho = S.Ho, wo = S.Wo;
            bool plain = typeof(TAct) == typeof(Identity) && sc == 1f && sh == 0f;
            var vs = Vector512.Create(sc);
            var vt = Vector512.Create(sh);
            var fresh = Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(wo)).AsSingle();
            int* offs = Offs;
            float* tmp = stackalloc float[2 * V];
            // Rows per block balanced (14 rows: 7 + 7, not 8 + 6 with two idle accumulators).
            int blocks = (ho + 7) / 8, down = (ho + blocks - 1) / blocks;
            long line = LineStep;
            for (int oh0 = 0; oh0 < ho; oh0 += down)
            {
                // Slots past the block's last row repeat row 0 (computed, not stored).
                int rows = Math.Min(down, ho - oh0);
                float* s0 = plane + oh0 * line;
                float* s1 = rows > 1 ? s0 + line : s0;
                float* s2 = rows > 2 ? s0 + 2 * line : s0;
                float* s3 = rows > 3 ? s0 + 3 * line : s0;
                float* s4 = rows > 4 ? s0 + 4 * line : s0;
                float* s5 = rows > 5 ? s0 + 5 * line : s0;
                float* s6 = rows > 6 ? s0 + 6 * line : s0;
                float* s7 = rows > 7 ? s0 + 7 * line : s0;
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                for (int t = 0; t < kk; t++)
                {
                    nint o = offs[t];
                    var wv = Vector512.Create(w[t]);
                    a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s0 + o), a0);
                    a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s1 + o), a1);
                    a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s2 + o), a2);
                    a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s3 + o), a3);
                    a4 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s4 + o), a4);
                    a5 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s5 + o), a5);
                    a6 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s6 + o), a6);
                    a7 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(s7 + o), a7);
                }
                if (!plain)
                {
                    a0 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a0, vs, vt));
                    a1 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a1, vs, vt));
                    a2 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a2, vs, vt));
                    a3 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a3, vs, vt));
                    a4 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a4, vs, vt));
                    a5 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a5, vs, vt));
                    a6 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a6, vs, vt));
                    a7 = default(TAct).Apply(Vector512.FusedMultiplyAdd(a7, vs, vt));
                }
                float* yb = y + oh0 * wo;
                bool last = oh0 + rows == ho;
                // All rows of the block but the plane's last go out whole.
                int whole = last ? rows - 1 : rows;
                if (accumulate)
                {
                    a0 &= fresh; a1 &= fresh; a2 &= fresh; a3 &= fresh; a4 &= fresh; a5 &= fresh; a6 &= fresh; a7 &= fresh;
                    if (whole > 0) (a0 + Vector512.Load(yb)).Store(yb);
                    if (whole > 1) (a1 + Vector512.Load(yb + wo)).Store(yb + wo);
                    if (whole > 2) (a2 + Vector512.Load(yb + 2 * wo)).Store(yb + 2 * wo);
                    if (whole > 3) (a3 + Vector512.Load(yb + 3 * wo)).Store(yb + 3 * wo);
                    if (whole > 4) (a4 + Vector512.Load(yb + 4 * wo)).Store(yb + 4 * wo);
                    if (whole > 5) (a5 + Vector512.Load(yb + 5 * wo)).Store(yb + 5 * wo);
                    if (whole > 6) (a6 + Vector512.Load(yb + 6 * wo)).Store(yb + 6 * wo);
                    if (whole > 7) (a7 + Vector512.Load(yb + 7 * wo)).Store(yb + 7 * wo);
                }
                else
                {
                    if (whole > 0) a0.Store(yb);
                    if (whole > 1) a1.Store(yb + wo);
                    if (whole > 2) a2.Store(yb + 2 * wo);
                    if (whole > 3) a3.Store(yb + 3 * wo);
                    if (whole > 4) a4.Store(yb + 4 * wo);
                    if (whole > 5) a5.Store(yb + 5 * wo);
                    if (whole > 6) a6.Store(yb + 6 * wo);
                    if (whole > 7) a7.Store(yb + 7 * wo);
                }
                if (!last) continue;
                int j = rows - 1;
                var r = j switch { 0 => a0, 1 => a1, 2 => a2, 3 => a3, 4 => a4, 5 => a5, 6 => a6, _ => a7 };
                float* d = yb + j * wo;
                // Its first eight and last eight floats (overlapping; 9 <= wo <= 16), both read before either is
                // stored, so accumulated lanes in the overlap are added once.
                r.Store(tmp);
                var lo = Vector256.Load(tmp);
                var hi = Vector256.Load(tmp + wo - V);
                if (accumulate)
                {
                    lo += Vector256.Load(d);
                    hi += Vector256.Load(d + wo - V);
                }
                lo.Store(d);
                hi.Store(d + wo - V);
            }
        }
    }

    /// <summary>Stride 1 with padding at most (K - 1) * dilation: the data gradient is a gather (a
    /// forward depthwise convolution of dy); otherwise it scatters.</summary>
    static bool GatherBackward(in Conv2dShape s) =>
        s.StrideH == 1 && s.StrideW == 1 && s.PadH <= (s.Kh - 1) * s.DilH && s.PadW <= (s.Kw - 1) * s.DilW;

    /// <summary>The stride-1 convolution that maps dy (Ho x Wo) to dx (H x W).</summary>
    static Conv2dShape Transposed(in Conv2dShape s) => new(s.Cout, s.Ho, s.Wo, s.Cin, s.Kh, s.Kw, 1, 1,
        (s.Kh - 1) * s.DilH - s.PadH, (s.Kw - 1) * s.DilW - s.PadW, s.DilH, s.DilW, s.Groups);

    public static void Forward<TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
    {
        int* ints = stackalloc int[Gatherer.Ints(s)];
        fixed (float* px = x.Data, pw = w, py = y.Data, psc = scale, psh = shift)
        {
            var job = new ForwardJob<TAct>
            {
                G = new Gatherer(s, ints), X = px + x.Offset, XStride = x.BatchStride, W = pw + wOff, Y = py + y.Offset, YStride = y.BatchStride,
                Scale = psc == null ? null : psc + scaleOff, Shift = psh == null ? null : psh + shiftOff,
            };
            Split(n * s.Cin, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job, Work(s, n));
        }
    }

    /// <summary>Flops-equivalent of one pass: the taps' multiply-adds plus the planes' traffic.</summary>
    static long Work(in Conv2dShape s, int n) => (long)n * (2L * s.OutSize * s.Kh * s.Kw + (long)(s.InSize + s.OutSize) * WorkerPool.FlopsPerElement);

    public static void BackwardData(in Conv2dShape s, int n, View dy, float[] w, int wOff, View dx, bool accumulate)
    {
        bool gather = GatherBackward(s);
        var t = gather ? Transposed(s) : s;
        int* ints = stackalloc int[gather ? Gatherer.Ints(t) : s.Kh * s.Kw];
        fixed (float* pdy = dy.Data, pw = w, pdx = dx.Data)
        {
            var job = new BackwardDataJob
            {
                S = s, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, W = pw + wOff, Dx = pdx + dx.Offset,
                DxStride = dx.BatchStride, Accumulate = accumulate, Gather = gather,
            };
            if (gather) job.G = new Gatherer(t, ints);
            else
            {
                job.Offs = ints;
                new Plane(s).TapOffsets(s, new Span<int>(ints, s.Kh * s.Kw));
            }
            Split(n * s.Cin, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job, Work(s, n));
        }
    }

    public static void BackwardWeights(in Conv2dShape s, int n, View x, View dy, float[] dw, int dwOff)
    {
        fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
        {
            var job = new BackwardWeightsJob
            {
                S = s, N = n, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, Dw = pdw + dwOff,
            };
            // One channel per index: each channel's weights are summed over the batch in order by one thread.
            WorkerPool.For(s.Cin, ref job, Work(s, n));
        }
    }

    struct ForwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public Gatherer G;
        public float* X, W, Y, Scale, Shift;
        public int XStride, YStride;

        public int PerTask, Total;

        public void Run(int task)
        {
            ref readonly Conv2dShape s = ref G.S;
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, G.P.Size));
            int kk = s.Kh * s.Kw;
            int end = Math.Min(Total, (task + 1) * PerTask);
            for (int i = task * PerTask; i < end; i++)
            {
                int b = i / s.Cin, c = i % s.Cin;
                G.Run<TAct>(X + (long)b * XStride + (long)c * s.H * s.W, plane, i == task * PerTask, W + (long)c * kk,
                    Y + (long)b * YStride + (long)c * s.Ho * s.Wo, Scale == null ? 1f : Scale[c], Shift == null ? 0f : Shift[c], accumulate: false);
            }
        }
    }

    struct BackwardDataJob : IParallelJob
    {
        public Conv2dShape S;
        public Gatherer G;
        public int* Offs;
        public float* Dy, W, Dx;
        public int DyStride, DxStride;
        public bool Accumulate, Gather;

        public int PerTask, Total;

        public void Run(int task)
        {
            ref readonly Conv2dShape s = ref S;
            int kk = s.Kh * s.Kw;
            int end = Math.Min(Total, (task + 1) * PerTask);
            if (Gather)
            {
                // dx = the forward gather over dy padded by (K - 1) * dilation - padding, kernel flipped.
                float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, G.P.Size));
                float* flipped = stackalloc float[kk];
                for (int i = task * PerTask; i < end; i++)
                {
                    int b = i / s.Cin, c = i % s.Cin;
                    for (int t = 0; t < kk; t++) flipped[t] = W[(long)c * kk + kk - 1 - t];
                    G.Run<Identity>(Dy + (long)b * DyStride + (long)c * s.Ho * s.Wo, plane, i == task * PerTask, flipped,
                        Dx + (long)b * DxStride + (long)c * s.H * s.W, 1f, 0f, Accumulate);
                }
                return;
            }
            for (int i = task * PerTask; i < end; i++) Scatter(i);
        }

        /// <summary>dx of one plane by scattering each dy row through every tap into a padded plane.</summary>
        void Scatter(int index)
        {
            ref readonly Conv2dShape s = ref S;
            int b = index / s.Cin, c = index % s.Cin;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            new Span<float>(plane, p.Size).Clear();
            int kk = s.Kh * s.Kw;
            int* offs = Offs;
            float* wc = W + (long)c * kk;
            float* dy = Dy + (long)b * DyStride + (long)c * s.Ho * s.Wo;
            int wo = s.Wo;
            // dy rows padded with zeros to whole vectors: the extra lanes add 0 into slack columns.
            float* row = stackalloc float[p.VecWo];
            for (int j = wo; j < p.VecWo; j++) row[j] = 0f;
            for (int oh = 0; oh < s.Ho; oh++)
            {
                new ReadOnlySpan<float>(dy + oh * wo, wo).CopyTo(new Span<float>(row, wo));
                float* line = plane + (long)oh * s.StrideH * p.RowStride;
                for (int t = 0; t < kk; t++)
                {
                    float* d = line + offs[t];
                    var vw = Vector256.Create(wc[t]);
                    for (int ow = 0; ow < p.VecWo; ow += V)
                        Vector256.FusedMultiplyAdd(vw, Vector256.Load(row + ow), Vector256.Load(d + ow)).Store(d + ow);
                }
            }
            float* dx = Dx + (long)b * DxStride + (long)c * s.H * s.W;
            int sw = s.StrideW;
            for (int ih = 0; ih < s.H; ih++)
            {
                float* dst = dx + ih * s.W;
                long rowBase = (long)(ih + s.PadH) * p.Phases * p.Width;
                if (sw == 1)
                {
                    KernelUtil.CopyOrAdd(plane + rowBase + s.PadW, dst, s.W, Accumulate);
                    continue;
                }
                int phase = s.PadW % sw, q = s.PadW / sw;
                int iw = 0;
                if (sw == 2 && Avx2.IsSupported)
                {
                    int oddQ = (s.PadW + 1) / 2;
                    iw = MergePhases2(plane + rowBase + (long)phase * p.Width + q, plane + rowBase + (long)(1 - phase) * p.Width + oddQ,
                        dst, s.W, Accumulate, Math.Min(p.Width - q, p.Width - oddQ));
                    q += iw / 2;
                }
                for (; iw < s.W; iw++)
                {
                    float v = plane[rowBase + (long)phase * p.Width + q];
                    dst[iw] = Accumulate ? dst[iw] + v : v;
                    if (++phase == sw) { phase = 0; q++; }
                }
            }
        }
    }

    struct BackwardWeightsJob : IParallelJob
    {
        /// <summary>Samples summed in float per tap before the double sum.</summary>
        const int SampleBlock = 8;

        public Conv2dShape S;
        public float* X, Dy, Dw;
        public int XStride, DyStride, N;

        public void Run(int c)
        {
            ref readonly Conv2dShape s = ref S;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            int kk = s.Kh * s.Kw, wo = s.Wo;
            int* offs = stackalloc int[kk];
            p.TapOffsets(s, new Span<int>(offs, kk));
            // Per-tap float vectors over a block of samples (a few hundred terms per lane), then
            // summed in double across blocks; the horizontal sums cost more than a small plane's FMAs.
            Span<double> sums = stackalloc double[kk];
            sums.Clear();
            int slots = (kk + 8) / 9 * 9;
            var accs = stackalloc Vector256<float>[slots];
            for (int t = 0; t < slots; t++) accs[t] = default;
            // dy copied with zero-padded rows, so whole vectors need no tail (extra lanes multiply 0).
            int ho = s.Ho;
            float* dyp = Scratch.Aligned(Scratch.Get(ref dyScratch, ho * p.VecWo));
            for (int b = 0; b < N; b++)
            {
                Fill(s, p, X + (long)b * XStride + (long)c * s.H * s.W, plane, b == 0);
                float* dy = Dy + (long)b * DyStride + (long)c * ho * wo;
                for (int oh = 0; oh < ho; oh++)
                {
                    float* d = dyp + oh * p.VecWo;
                    KernelUtil.CopyRow(dy + oh * wo, d, wo);
                    for (int j = wo; j < p.VecWo; j++) d[j] = 0f;
                }
                long lineStep = (long)s.StrideH * p.RowStride;
                // Up to nine taps at a time, each with its own accumulator: every dy vector is loaded
                // once per group of taps. A last group of fewer taps repeats its first tap's offset.
                for (int t0 = 0; t0 < kk; t0 += 9)
                {
                    int cnt = Math.Min(9, kk - t0);
                    int* o = offs + t0;
                    nint o0 = o[0], o1 = o[cnt > 1 ? 1 : 0], o2 = o[cnt > 2 ? 2 : 0], o3 = o[cnt > 3 ? 3 : 0], o4 = o[cnt > 4 ? 4 : 0],
                        o5 = o[cnt > 5 ? 5 : 0], o6 = o[cnt > 6 ? 6 : 0], o7 = o[cnt > 7 ? 7 : 0], o8 = o[cnt > 8 ? 8 : 0];
                    Vector256<float>* ag = accs + t0;
                    Vector256<float> a0 = ag[0], a1 = ag[1], a2 = ag[2], a3 = ag[3], a4 = ag[4], a5 = ag[5], a6 = ag[6], a7 = ag[7], a8 = ag[8];
                    for (int oh = 0; oh < ho; oh++)
                    {
                        float* xr = plane + oh * lineStep;
                        float* dr = dyp + oh * p.VecWo;
                        for (int ow = 0; ow < p.VecWo; ow += V)
                        {
                            var d = Vector256.Load(dr + ow);
                            float* xs = xr + ow;
                            a0 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o0), a0);
                            a1 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o1), a1);
                            a2 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o2), a2);
                            a3 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o3), a3);
                            a4 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o4), a4);
                            a5 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o5), a5);
                            a6 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o6), a6);
                            a7 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o7), a7);
                            a8 = Vector256.FusedMultiplyAdd(d, Vector256.Load(xs + o8), a8);
                        }
                    }
                    ag[0] = a0; ag[1] = a1; ag[2] = a2; ag[3] = a3; ag[4] = a4; ag[5] = a5; ag[6] = a6; ag[7] = a7; ag[8] = a8;
                }
                if (b % SampleBlock == SampleBlock - 1 || b == N - 1)
                {
                    // Slots past the last tap hold a repeated tap's sums: not added anywhere.
                    for (int t = 0; t < kk; t++) sums[t] += Vector256.Sum(accs[t]);
                    for (int t = 0; t < slots; t++) accs[t] = default;
                }
            }
            float* dw = Dw + (long)c * kk;
            for (int t = 0; t < kk; t++) dw[t] += (float)sums[t];
        }
    }
}
