// Direct ("implicit GEMM") dense and grouped convolution for AVX2 and AVX-512, without im2col. Each sample's
// input planes are copied once into zero-padded planes (or, unpadded, read where they are); then
// every output position p and every reduction index k = (channel, kh, kw) is a fixed offset into
// those planes, posOff[p] + kOff[k], so the GEMM operand that im2col would build is read in place.
// The register tile is MR x NR: the MR on the side read through offsets (scalar broadcasts, any
// address), the NR on the packed side (channels, two vectors): 6 x 16 with 256-bit vectors (12 ymm
// accumulators of 16 registers), 8 x 32 with 512-bit ones (16 zmm accumulators: two FMA pipes of
// 4-cycle latency need 8 in flight, and each k then costs 1 offset, 2 vector and 8 broadcast loads
// for 16 FMAs):
//   forward:          C^T[p, co]  = sum_k  planes(x)[posOff[p] + kOff[k]]  * W^T[k, co]
//   backward data:    dx^T[p, ci] = sum_k' planes(dy)[posOff[p] + kOff[k']] * W'[k', ci]   (stride 1: a
//                     convolution of dy, padded by (K-1)*dil - pad, with the kernel flipped by negative offsets)
//   backward weights: dW^T[k, co] += sum_p planes(x)[kOff[k] + posOff[p]]  * dy^T[p, co]
// so there is one micro-kernel. Results go through a small positions x channels buffer and come out
// with 8 x 8 register transposes (fused with the epilogue) into the NCHW tensors. Positions need no
// alignment (a tile's six rows are six independent addresses), so no lanes are wasted on row ends.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

internal static unsafe class ConvDirect
{
    static readonly bool Wide = Simd.Use512;
    /// <summary>Tile rows (positions, or reduction rows for the weight gradient) and columns (channels);
    /// static readonly, so the JIT folds them.</summary>
    public static readonly int MR = Wide ? 8 : 6, NR = Wide ? 32 : 16;

    /// <summary>The micro-kernel needs AVX2 and FMA (the 8 x 8 transposes use AVX shuffles).</summary>
    public static readonly bool Available = Avx2.IsSupported && Fma.IsSupported;

    // Per thread: one sample's padded planes, and its positions x channels buffer (or dy transposed).
    [ThreadStatic] static float[]? planeScratch;
    [ThreadStatic] static float[]? tileScratch;
    // Per call, owned by the calling thread and shared read-only with the workers: packed weights,
    // offset tables, and (small batches) all samples' planes, or the weight-gradient partials.
    [ThreadStatic] static float[]? packScratch;
    [ThreadStatic] static float[]? offScratch;
    [ThreadStatic] static float[]? sharedScratch;
    [ThreadStatic] static float[]? statScratch;

    static int RoundUp(int x, int r) => (x + r - 1) / r * r;

    /// <summary>Whether <paramref name="channels"/> output channels per group fill the NR-wide tiles
    /// well enough (at most a quarter of the lanes wasted) for the direct path to pay.</summary>
    public static bool Fits(int channels) => Available && channels >= 8 && RoundUp(channels, NR) * 3 <= channels * 4;

    /// <summary>Zero-padded copies of a sample's planes: plane i row r column c holds src[i][r - Top][c - Left].</summary>
    readonly struct Planes
    {
        public readonly int Count, Rows, Cols, Top, Left, SrcH, SrcW;
        public Planes(int count, int rows, int cols, int top, int left, int srcH, int srcW)
        {
            Count = count; Rows = rows; Cols = cols; Top = top; Left = left; SrcH = srcH; SrcW = srcW;
        }
        public int PlaneSize => Rows * Cols;
        public int Size => Count * Rows * Cols;
        /// <summary>No padding: the source planes themselves serve (1 x 1 and unpadded convolutions).</summary>
        public bool InPlace => Top == 0 && Left == 0 && Rows == SrcH && Cols == SrcW;

        public void Fill(float* src, float* dst) => Fill<Identity>(src, dst, null, null);

        /// <summary>Fills the planes with act(scale[i] x + shift[i]) of each source plane i (the input
        /// prologue: a BatchNorm and activation applied as the data is read); padding stays zero, as it
        /// is in the activated tensor. Null scale: a plain copy.</summary>
        public void Fill<TIn>(float* src, float* dst, float* inScale, float* inShift) where TIn : struct, IActivation
        {
            int h = SrcH, w = SrcW, cols = Cols;
            int r0 = Top, r1 = Math.Min(Rows, Top + h); // destination rows holding data
            int c1 = Math.Min(cols, Left + w);           // destination columns [Left, c1) hold data
            int copy = c1 - Left, right = cols - c1;
            for (int i = 0; i < Count; i++)
            {
                float* d = dst + (long)i * PlaneSize;
                float* s = src + (long)i * h * w;
                new Span<float>(d, r0 * cols).Clear();
                for (int r = r0; r < r1; r++)
                {
                    float* dr = d + r * cols;
                    for (int c = 0; c < Left; c++) dr[c] = 0f;
                    if (inScale == null) KernelUtil.CopyRow(s + (long)(r - r0) * w, dr + Left, copy);
                    else KernelUtil.Epilogue<TIn>(s + (long)(r - r0) * w, dr + Left, copy, inScale[i], inShift[i]);
                    for (int c = 0; c < right; c++) dr[c1 + c] = 0f;
                }
                new Span<float>(d + r1 * cols, (Rows - r1) * cols).Clear();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Forward and backward data: out^T[p, c] = sum_k planes[posOff[p] + kOff[k]] * B[k, c], written
    // into NCHW with an epilogue.

    /// <summary>One problem of the forward shape: the planes to read, the offsets, the packed B and
    /// how the result is written.</summary>
    struct PlaneConv
    {
        public Planes Geo;
        public int Groups, PlanesPerGroup, K, P, OutChannels, Panels;
        public int* PosOff, KOff;
        public float* PackedB;      // [group][panel][K][NR]
        public float* Src;          // sample 0 of the source tensor
        public long SrcStride, DstStride;
        public float* Dst;          // sample 0 of the destination tensor
        public float* Scale, Shift; // per destination channel (all groups), or null
        public bool Accumulate;
        public float* InScale, InShift;  // input prologue per source plane, or null
        public float* Residual;          // sample 0 of a tensor shaped like the destination, or null
        public long ResidualStride;
        public float* StatShift;         // per destination channel: statistics of (y - shift), or null
        public double* Stats;            // per task, 2 doubles per destination channel, or null: no statistics
        public float* SharedPlanes; // small batches: every sample's planes, filled by the caller
        public int Parts;           // position ranges per sample (small batches)
        public int Ldc => Panels * NR;
    }

    struct PlaneConvJob<TIn, TAct> : IParallelJob where TIn : struct, IActivation where TAct : struct, IActivation
    {
        public PlaneConv C;

        public void Run(int task)
        {
            ref readonly PlaneConv c = ref C;
            int b = task / c.Parts, part = task % c.Parts;
            float* planes;
            if (c.Geo.InPlace && c.InScale == null) planes = c.Src + b * c.SrcStride;
            else if (c.SharedPlanes != null) planes = c.SharedPlanes + (long)b * c.Geo.Size;
            else
            {
                planes = Scratch.Aligned(Scratch.Get(ref planeScratch, c.Geo.Size));
                c.Geo.Fill<TIn>(c.Src + b * c.SrcStride, planes, c.InScale, c.InShift);
            }
            // Positions [p0, p1) of this part: whole tiles, and multiples of 8 for the transposes.
            int step = RoundUp((c.P + c.Parts - 1) / c.Parts, 24);
            int p0 = Math.Min(c.P, part * step), p1 = Math.Min(c.P, p0 + step);
            if (p0 >= p1) return;
            int ldc = c.Ldc;
            float* ct = Scratch.Aligned(Scratch.Get(ref tileScratch, (p1 - p0) * ldc + NR));
            for (int g = 0; g < c.Groups; g++)
            {
                float* pl = planes + (long)g * c.PlanesPerGroup * c.Geo.PlaneSize;
                for (int panel = 0; panel < c.Panels; panel++)
                {
                    float* bp = c.PackedB + ((long)g * c.Panels + panel) * c.K * NR;
                    for (int p = p0; p < p1; p += MR)
                    {
                        int rows = Math.Min(MR, p1 - p);
                        int* po = c.PosOff + p;
                        float* a0 = pl + po[0];
                        float* a1 = pl + po[rows > 1 ? 1 : 0];
                        float* a2 = pl + po[rows > 2 ? 2 : 0];
                        float* a3 = pl + po[rows > 3 ? 3 : 0];
                        float* a4 = pl + po[rows > 4 ? 4 : 0];
                        float* a5 = pl + po[rows > 5 ? 5 : 0];
                        float* a6 = pl + po[rows > 6 ? 6 : 0];
                        float* a7 = pl + po[rows > 7 ? 7 : 0];
                        Kernel(c.K, a0, a1, a2, a3, a4, a5, a6, a7, c.KOff, bp, NR, ct + (long)(p - p0) * ldc + panel * NR, ldc, rows, false);
                    }
                }
                int ch0 = g * c.OutChannels;
                var e = new ConvEpi
                {
                    Scale = c.Scale == null ? null : c.Scale + ch0, Shift = c.Shift == null ? null : c.Shift + ch0,
                    Residual = c.Residual == null ? null : c.Residual + b * c.ResidualStride + (long)ch0 * c.P + p0,
                    StatShift = c.StatShift == null ? null : c.StatShift + ch0,
                    Stats = c.Stats == null ? null : c.Stats + (long)task * 2 * c.Groups * c.OutChannels + 2 * ch0,
                    Accumulate = c.Accumulate,
                };
                WriteOut<TAct>(ct, ldc, p1 - p0, c.OutChannels, c.Dst + b * c.DstStride + (long)ch0 * c.P + p0, c.P, e);
            }
        }
    }

    /// <summary>Least work (flops) worth a task of its own: below it, handing work to another thread costs more than it saves.</summary>
    const long MinTaskFlops = WorkerPool.MinParallelFlops;

    static void RunPlaneConv<TIn, TAct>(ref PlaneConv c, int n, double* stats) where TIn : struct, IActivation where TAct : struct, IActivation
    {
        int threads = WorkerPool.InsideJob ? 1 : WorkerPool.ThreadCount;
        c.Parts = 1;
        c.SharedPlanes = null;
        if (n < 2 * threads)
        {
            // Too few samples to share out evenly: fill every sample's planes here, then split each
            // sample's positions, about two parts per thread where the work allows.
            long flops = 2L * c.Groups * c.P * c.K * c.Panels * NR;
            int byWork = (int)Math.Clamp(flops / MinTaskFlops, 1, (c.P + 23) / 24);
            c.Parts = Math.Min((2 * threads + n - 1) / n, byWork);
            if (c.Parts > 1 && !(c.Geo.InPlace && c.InScale == null))
            {
                c.SharedPlanes = Scratch.Aligned(Scratch.Get(ref sharedScratch, n * c.Geo.Size));
                for (int b = 0; b < n; b++) c.Geo.Fill<TIn>(c.Src + b * c.SrcStride, c.SharedPlanes + (long)b * c.Geo.Size, c.InScale, c.InShift);
            }
        }
        int tasks = n * c.Parts, channels = c.Groups * c.OutChannels;
        c.Stats = null;
        if (stats != null)
        {
            c.Stats = (double*)Scratch.Aligned(Scratch.Get(ref statScratch, 4 * tasks * channels + 16));
            new Span<double>(c.Stats, 2 * tasks * channels).Clear();
        }
        var job = new PlaneConvJob<TIn, TAct> { C = c };
        WorkerPool.For(tasks, ref job);
        if (stats != null) SumTasks(c.Stats, tasks, 2 * channels, stats);
    }

    /// <summary>stats[i] = sum over tasks, in task order, of partial[task][i]: the same bits whichever thread ran which task.</summary>
    internal static void SumTasks(double* partial, int tasks, int len, double* stats)
    {
        for (int i = 0; i < len; i++)
        {
            double v = 0;
            for (int t = 0; t < tasks; t++) v += partial[(long)t * len + i];
            stats[i] = v;
        }
    }

    /// <summary>Forward: y = act(scale * conv(x, w) + shift).</summary>
    public static void Forward<TAct>(in Conv2dShape s, int n, float* x, long xStride, float* w, float* scale, float* shift,
        float* y, long yStride) where TAct : struct, IActivation
        => Forward<Identity, TAct>(s, n, x, xStride, default, w, new ConvEpi { Scale = scale, Shift = shift }, null, 0, y, yStride, null);

    /// <summary>Forward with the fusion options: the input read as act_in(inScale[c] x + inShift[c]) (when
    /// <paramref name="input"/> has a scale), y = act(scale acc + shift + residual), and per-channel sums of
    /// (y - statShift[c]) and its square into <paramref name="stats"/> (2 doubles per output channel, overwritten).
    /// The pointers of <paramref name="epi"/> are per output channel (residual: sample 0, <paramref name="residualStride"/> apart).</summary>
    public static void Forward<TIn, TAct>(in Conv2dShape s, int n, float* x, long xStride, InputAffine input, float* w, in ConvEpi epi,
        float* residual, long residualStride, float* y, long yStride, double* stats) where TIn : struct, IActivation where TAct : struct, IActivation
    {
        int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, kk = s.Kh * s.Kw, kg = cinG * kk, p = s.Ho * s.Wo;
        var geo = new Planes(s.Cin, s.H + 2 * s.PadH, s.W + 2 * s.PadW, s.PadH, s.PadW, s.H, s.W);
        int panels = (coutG + NR - 1) / NR;
        float* packed = Scratch.Aligned(Scratch.Get(ref packScratch, g * panels * kg * NR));
        for (int gi = 0; gi < g; gi++)
            for (int panel = 0; panel < panels; panel++)
            {
                int co0 = panel * NR;
                PackPanel(w + (long)(gi * coutG + co0) * kg, Math.Min(NR, coutG - co0), kg, kg,
                    packed + ((long)gi * panels + panel) * kg * NR);
            }
        int* offs = (int*)Scratch.Aligned(Scratch.Get(ref offScratch, p + kg));
        int* posOff = offs, kOff = offs + p;
        for (int oh = 0, i = 0; oh < s.Ho; oh++)
            for (int ow = 0; ow < s.Wo; ow++, i++) posOff[i] = oh * s.StrideH * geo.Cols + ow * s.StrideW;
        for (int ci = 0, i = 0; ci < cinG; ci++)
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++, i++) kOff[i] = ci * geo.PlaneSize + kh * s.DilH * geo.Cols + kw * s.DilW;
        var c = new PlaneConv
        {
            Geo = geo, Groups = g, PlanesPerGroup = cinG, K = kg, P = p, OutChannels = coutG, Panels = panels,
            PosOff = posOff, KOff = kOff, PackedB = packed, Src = x, SrcStride = xStride, Dst = y, DstStride = yStride,
            Scale = epi.Scale, Shift = epi.Shift, Accumulate = false, InScale = input.Scale, InShift = input.Shift,
            Residual = residual, ResidualStride = residualStride, StatShift = epi.StatShift,
        };
        RunPlaneConv<TIn, TAct>(ref c, n, stats);
    }

    /// <summary>Backward data for stride 1: dx (=, or +=) the convolution of dy, padded by
    /// (K - 1) * dilation - padding, with the flipped kernel.</summary>
    public static void BackwardData(in Conv2dShape s, int n, float* dy, long dyStride, float* w, float* dx, long dxStride, bool accumulate)
    {
        int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, kk = s.Kh * s.Kw, kg = coutG * kk, p = s.H * s.W;
        int top = Math.Max(0, (s.Kh - 1) * s.DilH - s.PadH), left = Math.Max(0, (s.Kw - 1) * s.DilW - s.PadW);
        var geo = new Planes(s.Cout, s.H + s.PadH + top, s.W + s.PadW + left, top, left, s.Ho, s.Wo);
        int panels = (cinG + NR - 1) / NR;
        float* packed = Scratch.Aligned(Scratch.Get(ref packScratch, g * panels * kg * NR));
        // B[(co, kh, kw), ci] = w[co, ci, kh, kw].
        for (int gi = 0; gi < g; gi++)
            for (int panel = 0; panel < panels; panel++)
            {
                int ci0 = panel * NR;
                float* d = packed + ((long)gi * panels + panel) * kg * NR;
                for (int co = 0; co < coutG; co++)
                    PackPanel(w + ((long)(gi * coutG + co) * cinG + ci0) * kk, Math.Min(NR, cinG - ci0), kk, kk, d + (long)co * kk * NR);
            }
        int* offs = (int*)Scratch.Aligned(Scratch.Get(ref offScratch, p + kg));
        int* posOff = offs, kOff = offs + p;
        for (int ih = 0, i = 0; ih < s.H; ih++)
            for (int iw = 0; iw < s.W; iw++, i++) posOff[i] = (ih + s.PadH + top) * geo.Cols + iw + s.PadW + left;
        for (int co = 0, i = 0; co < coutG; co++)
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++, i++) kOff[i] = co * geo.PlaneSize - kh * s.DilH * geo.Cols - kw * s.DilW;
        var c = new PlaneConv
        {
            Geo = geo, Groups = g, PlanesPerGroup = coutG, K = kg, P = p, OutChannels = cinG, Panels = panels,
            PosOff = posOff, KOff = kOff, PackedB = packed, Src = dy, SrcStride = dyStride, Dst = dx, DstStride = dxStride,
            Accumulate = accumulate,
        };
        RunPlaneConv<Identity, Identity>(ref c, n, null);
    }

    /// <summary>One packed panel: dst[c * NR + r] = src[r * ld + c] for r &lt; <paramref name="rows"/> (zero for
    /// the rest of the NR) and c &lt; <paramref name="cols"/>; 8 x 8 register transposes where whole.</summary>
    static void PackPanel(float* src, int rows, int ld, int cols, float* dst)
    {
        if (cols == 1 && ld == 1 && rows == NR)
        {
            // One column of contiguous rows (a 1 x 1 kernel's data-gradient panel): a plain copy.
            for (int r = 0; r < NR; r += 8) Vector256.Load(src + r).Store(dst + r);
            return;
        }
        int c8 = cols / 8 * 8;
        for (int r0 = 0; r0 < NR; r0 += 8)
        {
            if (r0 + 8 <= rows)
            {
                for (int c = 0; c < c8; c += 8)
                {
                    float* sp = src + (long)r0 * ld + c;
                    var v0 = Vector256.Load(sp); var v1 = Vector256.Load(sp + ld);
                    var v2 = Vector256.Load(sp + 2L * ld); var v3 = Vector256.Load(sp + 3L * ld);
                    var v4 = Vector256.Load(sp + 4L * ld); var v5 = Vector256.Load(sp + 5L * ld);
                    var v6 = Vector256.Load(sp + 6L * ld); var v7 = Vector256.Load(sp + 7L * ld);
                    GemmCore.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                    float* dp = dst + (long)c * NR + r0;
                    v0.Store(dp); v1.Store(dp + NR); v2.Store(dp + 2 * NR); v3.Store(dp + 3 * NR);
                    v4.Store(dp + 4 * NR); v5.Store(dp + 5 * NR); v6.Store(dp + 6 * NR); v7.Store(dp + 7 * NR);
                }
                for (int r = r0; r < r0 + 8; r++)
                    for (int c = c8; c < cols; c++) dst[(long)c * NR + r] = src[(long)r * ld + c];
            }
            else
            {
                for (int r = r0; r < r0 + 8; r++)
                    for (int c = 0; c < cols; c++) dst[(long)c * NR + r] = r < rows ? src[(long)r * ld + c] : 0f;
            }
        }
    }

    /// <summary>dst[c, p] (=, or +=) act(scale[c] * ct[p, c] + shift[c] (+ residual[c, p])) for p &lt; <paramref name="np"/>
    /// and c &lt; <paramref name="channels"/>, with the options of <paramref name="e"/> (pointers already at this
    /// output's first channel and position).</summary>
    internal static void WriteOut<TAct>(float* ct, int ldc, int np, int channels, float* dst, int ldd, in ConvEpi e)
        where TAct : struct, IActivation
    {
        float* scale = e.Scale, shift = e.Shift, res = e.Residual;
        bool plain = typeof(TAct) == typeof(Identity) && scale == null && shift == null && res == null;
        bool stats = e.Stats != null;
        // Statistics per channel in 8 double lanes (y - shift rounded once to float, then squared and
        // summed in double: the one-pass variance keeps float accuracy even when the mean is far from
        // the shift), added to the caller's sums per 8 channels, in an order fixed by the shape.
        double* lanes = stackalloc double[stats ? 16 * 8 : 1];
        if (stats) new Span<double>(lanes, 16 * 8).Clear();
        int c8 = channels / 8 * 8, p8 = np / 8 * 8;
        for (int c = 0; c < c8; c += 8)
        {
            for (int p = 0; p < p8; p += 8)
            {
                float* s = ct + (long)p * ldc + c;
                var r0 = Vector256.Load(s); var r1 = Vector256.Load(s + ldc);
                var r2 = Vector256.Load(s + 2 * ldc); var r3 = Vector256.Load(s + 3 * ldc);
                var r4 = Vector256.Load(s + 4 * ldc); var r5 = Vector256.Load(s + 5 * ldc);
                var r6 = Vector256.Load(s + 6 * ldc); var r7 = Vector256.Load(s + 7 * ldc);
                GemmCore.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* d = dst + (long)c * ldd + p;
                float* r = res == null ? null : res + (long)c * ldd + p;
                Put<TAct>(r0, d, r, c, e, plain, lanes); Put<TAct>(r1, d + ldd, r + ldd, c + 1, e, plain, lanes);
                Put<TAct>(r2, d + 2L * ldd, r + 2L * ldd, c + 2, e, plain, lanes); Put<TAct>(r3, d + 3L * ldd, r + 3L * ldd, c + 3, e, plain, lanes);
                Put<TAct>(r4, d + 4L * ldd, r + 4L * ldd, c + 4, e, plain, lanes); Put<TAct>(r5, d + 5L * ldd, r + 5L * ldd, c + 5, e, plain, lanes);
                Put<TAct>(r6, d + 6L * ldd, r + 6L * ldd, c + 6, e, plain, lanes); Put<TAct>(r7, d + 7L * ldd, r + 7L * ldd, c + 7, e, plain, lanes);
            }
            if (stats) FlushStats(lanes, c, 8, e);
        }
        // Ragged edges: the last channels (all positions) and the last positions (the other channels).
        for (int c = 0; c < channels; c++)
        {
            int pStart = c < c8 ? p8 : 0;
            float sc = scale == null ? 1f : scale[c], sh = shift == null ? 0f : shift[c];
            float* d = dst + (long)c * ldd;
            float* r = res == null ? null : res + (long)c * ldd;
            float k = stats && e.StatShift != null ? e.StatShift[c] : 0f;
            double s1 = 0, s2 = 0;
            for (int p = pStart; p < np; p++)
            {
                float v = ct[(long)p * ldc + c];
                if (!plain)
                {
                    float z = MathF.FusedMultiplyAdd(v, sc, sh);
                    if (r != null) z += r[p];
                    v = default(TAct).Apply(z);
                }
                if (e.Accumulate) v += d[p];
                d[p] = v;
                if (stats) { double t = v - k; s1 += t; s2 += t * t; }
            }
            if (stats) { e.Stats[2 * c] += s1; e.Stats[2 * c + 1] += s2; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put<TAct>(Vector256<float> v, float* d, float* r, int c, in ConvEpi e, bool plain, double* lanes)
        where TAct : struct, IActivation
    {
        if (!plain)
        {
            v = Vector256.FusedMultiplyAdd(v, Vector256.Create(e.Scale == null ? 1f : e.Scale[c]), Vector256.Create(e.Shift == null ? 0f : e.Shift[c]));
            if (e.Residual != null) v += Vector256.Load(r);
            v = default(TAct).Apply(v);
        }
        if (e.Accumulate) v += Vector256.Load(d);
        v.Store(d);
        if (e.Stats != null)
        {
            double* l = lanes + (c & 7) * 16;
            var t = v - Vector256.Create(e.StatShift == null ? 0f : e.StatShift[c]);
            var (lo, hi) = Vector256.Widen(t);
            (Vector256.Load(l) + lo).Store(l);
            (Vector256.Load(l + 4) + hi).Store(l + 4);
            Vector256.FusedMultiplyAdd(lo, lo, Vector256.Load(l + 8)).Store(l + 8);
            Vector256.FusedMultiplyAdd(hi, hi, Vector256.Load(l + 12)).Store(l + 12);
        }
    }

    /// <summary>Adds the lane sums of channels [c0, c0 + count) to the caller's double sums and clears them.</summary>
    static void FlushStats(double* lanes, int c0, int count, in ConvEpi e)
    {
        for (int i = 0; i < count; i++)
        {
            double* l = lanes + i * 16;
            double s1 = 0, s2 = 0;
            for (int j = 0; j < 8; j++) { s1 += l[j]; s2 += l[8 + j]; }
            e.Stats[2 * (c0 + i)] += s1;
            e.Stats[2 * (c0 + i) + 1] += s2;
            new Span<double>(l, 16).Clear();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Backward weights: dW^T[k, co] += sum_p planes(x)[kOff[k] + posOff[p]] * dy^T[p, co].

    struct WeightsJob<TIn> : IParallelJob where TIn : struct, IActivation
    {
        public Planes Geo;
        public float* InScale, InShift;
        public bool InPlace => Geo.InPlace && InScale == null;
        public int Groups, CinG, CoutG, K, P, Panels, N, Chunks, KParts, KTiles, Ho, Wo;
        public int* PosOff, KOff;
        public float* X, Dy, Partial, SharedPlanes, SharedDyT;
        public long XStride, DyStride;
        public int Ldt => Panels * NR;
        public int PartialSize => Groups * K * Ldt;

        public void Run(int task)
        {
            int chunk = task / KParts, kpart = task % KParts;
            float* dwt = Partial + (long)chunk * PartialSize;
            // Tiles of this part, over (group, panel, k-tile).
            int tiles = Groups * Panels * KTiles;
            int t0 = (int)((long)tiles * kpart / KParts), t1 = (int)((long)tiles * (kpart + 1) / KParts);
            int b0 = (int)((long)N * chunk / Chunks), b1 = (int)((long)N * (chunk + 1) / Chunks);
            int ldt = Ldt;
            for (int b = b0; b < b1; b++)
            {
                float* planes, dyt;
                if (SharedDyT != null)
                {
                    planes = InPlace ? X + b * XStride : SharedPlanes + (long)b * Geo.Size;
                    dyt = SharedDyT + (long)b * Groups * P * ldt;
                }
                else
                {
                    if (InPlace) planes = X + b * XStride;
                    else
                    {
                        planes = Scratch.Aligned(Scratch.Get(ref planeScratch, Geo.Size));
                        Geo.Fill<TIn>(X + b * XStride, planes, InScale, InShift);
                    }
                    dyt = Scratch.Aligned(Scratch.Get(ref tileScratch, Groups * P * ldt));
                    TransposeDy(Dy + b * DyStride, dyt);
                }
                for (int t = t0; t < t1; t++)
                {
                    int g = t / (Panels * KTiles), rest = t % (Panels * KTiles);
                    int panel = rest / KTiles, k0 = rest % KTiles * MR;
                    int rows = Math.Min(MR, K - k0);
                    float* pl = planes + (long)g * CinG * Geo.PlaneSize;
                    int* ko = KOff + k0;
                    float* a0 = pl + ko[0];
                    float* a1 = pl + ko[rows > 1 ? 1 : 0];
                    float* a2 = pl + ko[rows > 2 ? 2 : 0];
                    float* a3 = pl + ko[rows > 3 ? 3 : 0];
                    float* a4 = pl + ko[rows > 4 ? 4 : 0];
                    float* a5 = pl + ko[rows > 5 ? 5 : 0];
                    float* a6 = pl + ko[rows > 6 ? 6 : 0];
                    float* a7 = pl + ko[rows > 7 ? 7 : 0];
                    Kernel(P, a0, a1, a2, a3, a4, a5, a6, a7, PosOff, dyt + (long)g * P * ldt + panel * NR, ldt,
                        dwt + ((long)g * K + k0) * ldt + panel * NR, ldt, rows, true);
                }
            }
        }

        /// <summary>dy of one sample as [group][p][Ldt], channels past CoutG zero.</summary>
        public void TransposeDy(float* dy, float* dyt) => ConvDirect.TransposeDy(dy, dyt, Groups, CoutG, P, Ldt);
    }

    static void TransposeDy(float* dy, float* dyt, int groups, int coutG, int p, int ldt)
    {
        for (int g = 0; g < groups; g++)
        {
            float* src = dy + (long)g * coutG * p;
            float* dst = dyt + (long)g * p * ldt;
            int c8 = coutG / 8 * 8, p8 = p / 8 * 8;
            for (int c = 0; c < c8; c += 8)
                for (int q = 0; q < p8; q += 8)
                {
                    float* s = src + (long)c * p + q;
                    var r0 = Vector256.Load(s); var r1 = Vector256.Load(s + p);
                    var r2 = Vector256.Load(s + 2 * p); var r3 = Vector256.Load(s + 3 * p);
                    var r4 = Vector256.Load(s + 4 * p); var r5 = Vector256.Load(s + 5 * p);
                    var r6 = Vector256.Load(s + 6 * p); var r7 = Vector256.Load(s + 7 * p);
                    GemmCore.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                    float* d = dst + (long)q * ldt + c;
                    r0.Store(d); r1.Store(d + ldt); r2.Store(d + 2 * ldt); r3.Store(d + 3 * ldt);
                    r4.Store(d + 4 * ldt); r5.Store(d + 5 * ldt); r6.Store(d + 6 * ldt); r7.Store(d + 7 * ldt);
                }
            for (int q = 0; q < p; q++)
            {
                float* d = dst + (long)q * ldt;
                for (int c = q < p8 ? c8 : 0; c < coutG; c++) d[c] = src[(long)c * p + q];
                for (int c = coutG; c < ldt; c++) d[c] = 0f;
            }
        }
    }

    /// <summary>dw += sum over the batch of the correlation of x with dy, any stride.</summary>
    public static void BackwardWeights(in Conv2dShape s, int n, float* x, long xStride, float* dy, long dyStride, float* dw)
        => BackwardWeights<Identity>(s, n, x, xStride, default, dy, dyStride, dw);

    /// <summary><see cref="BackwardWeights(in Conv2dShape, int, float*, long, float*, long, float*)"/> with the input
    /// read through the prologue act(inScale[c] x + inShift[c]), as the forward pass read it.</summary>
    public static void BackwardWeights<TIn>(in Conv2dShape s, int n, float* x, long xStride, InputAffine input, float* dy, long dyStride, float* dw)
        where TIn : struct, IActivation
    {
        int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, kk = s.Kh * s.Kw, kg = cinG * kk, p = s.Ho * s.Wo;
        var geo = new Planes(s.Cin, s.H + 2 * s.PadH, s.W + 2 * s.PadW, s.PadH, s.PadW, s.H, s.W);
        int panels = (coutG + NR - 1) / NR;
        int* offs = (int*)Scratch.Aligned(Scratch.Get(ref offScratch, p + kg));
        int* posOff = offs, kOff = offs + p;
        for (int oh = 0, i = 0; oh < s.Ho; oh++)
            for (int ow = 0; ow < s.Wo; ow++, i++) posOff[i] = oh * s.StrideH * geo.Cols + ow * s.StrideW;
        for (int ci = 0, i = 0; ci < cinG; ci++)
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++, i++) kOff[i] = ci * geo.PlaneSize + kh * s.DilH * geo.Cols + kw * s.DilW;

        int threads = WorkerPool.InsideJob ? 1 : WorkerPool.ThreadCount;
        var job = new WeightsJob<TIn>
        {
            InScale = input.Scale, InShift = input.Shift,
            Geo = geo, Groups = g, CinG = cinG, CoutG = coutG, K = kg, P = p, Panels = panels, N = n, KTiles = (kg + MR - 1) / MR,
            PosOff = posOff, KOff = kOff, X = x, XStride = xStride, Dy = dy, DyStride = dyStride, Ho = s.Ho, Wo = s.Wo,
        };
        int ldt = job.Ldt;
        // Fixed chunks of the batch, each summed into its own partial and reduced in chunk order, so
        // the result does not depend on which thread ran what; two chunks per thread, so a thread
        // that was descheduled leaves less behind. Few samples: one chunk, its tiles split over the
        // threads (as the work allows), every sample prepared here once.
        if (n >= 2 * threads)
        {
            job.Chunks = 2 * threads;
            job.KParts = 1;
        }
        else
        {
            job.Chunks = 1;
            long flops = 2L * n * g * p * kg * panels * NR;
            job.KParts = (int)Math.Min(Math.Min(2 * threads, g * panels * job.KTiles), Math.Max(1, flops / MinTaskFlops));
            if (job.KParts > 1)
            {
                long planeFloats = (long)n * geo.Size, dytFloats = (long)n * g * p * ldt;
                float* shared = Scratch.Aligned(Scratch.Get(ref sharedScratch, (int)(planeFloats + dytFloats + 16)));
                job.SharedPlanes = shared;
                job.SharedDyT = shared + RoundUp((int)planeFloats, 16);
                for (int b = 0; b < n; b++)
                {
                    if (!job.InPlace) geo.Fill<TIn>(x + b * xStride, job.SharedPlanes + (long)b * geo.Size, input.Scale, input.Shift);
                    TransposeDy(dy + b * dyStride, job.SharedDyT + (long)b * g * p * ldt, g, coutG, p, ldt);
                }
            }
        }
        float* partial = Scratch.Aligned(Scratch.Get(ref packScratch, job.Chunks * job.PartialSize));
        new Span<float>(partial, job.Chunks * job.PartialSize).Clear();
        job.Partial = partial;
        WorkerPool.For(job.Chunks * job.KParts, ref job);

        // dw[g, co, k] += partial[chunk][g][k][co], chunks in order: 8 x 8 blocks summed over the
        // chunks, transposed in registers, added to dw; the ragged edges one by one.
        int psize = job.PartialSize, chunks = job.Chunks;
        int c8 = coutG / 8 * 8, k8 = kg / 8 * 8;
        for (int gi = 0; gi < g; gi++)
        {
            float* pg = partial + (long)gi * kg * ldt;
            float* dg = dw + (long)gi * coutG * kg;
            for (int co = 0; co < c8; co += 8)
                for (int k = 0; k < k8; k += 8)
                {
                    float* src = pg + (long)k * ldt + co;
                    Vector256<float> r0 = default, r1 = default, r2 = default, r3 = default, r4 = default, r5 = default, r6 = default, r7 = default;
                    for (int ch = 0; ch < chunks; ch++, src += psize)
                    {
                        r0 += Vector256.Load(src); r1 += Vector256.Load(src + ldt);
                        r2 += Vector256.Load(src + 2 * ldt); r3 += Vector256.Load(src + 3 * ldt);
                        r4 += Vector256.Load(src + 4 * ldt); r5 += Vector256.Load(src + 5 * ldt);
                        r6 += Vector256.Load(src + 6 * ldt); r7 += Vector256.Load(src + 7 * ldt);
                    }
                    GemmCore.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                    float* d = dg + (long)co * kg + k;
                    (Vector256.Load(d) + r0).Store(d); (Vector256.Load(d + kg) + r1).Store(d + kg);
                    (Vector256.Load(d + 2 * kg) + r2).Store(d + 2 * kg); (Vector256.Load(d + 3 * kg) + r3).Store(d + 3 * kg);
                    (Vector256.Load(d + 4 * kg) + r4).Store(d + 4 * kg); (Vector256.Load(d + 5 * kg) + r5).Store(d + 5 * kg);
                    (Vector256.Load(d + 6 * kg) + r6).Store(d + 6 * kg); (Vector256.Load(d + 7 * kg) + r7).Store(d + 7 * kg);
                }
            for (int co = 0; co < coutG; co++)
            {
                float* d = dg + (long)co * kg;
                for (int k = co < c8 ? k8 : 0; k < kg; k++)
                {
                    long at = (long)k * ldt + co;
                    float v = 0f;
                    for (int ch = 0; ch < chunks; ch++) v += pg[ch * (long)psize + at];
                    d[k] += v;
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    /// <summary>The micro-kernel: c[r, 0..NR) (=, or += when <paramref name="accumulate"/>) sum over
    /// i &lt; len of a_r[offs[i]] * b[i * bStride .. + NR], for r &lt; <paramref name="rows"/> (rows past
    /// MR's 6 are ignored by the 256-bit kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Kernel(int len, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, float* a6, float* a7, int* offs,
        float* b, nint bStride, float* c, nint ldc, int rows, bool accumulate)
    {
        if (Wide) Kernel512(len, a0, a1, a2, a3, a4, a5, a6, a7, offs, b, bStride, c, ldc, rows, accumulate);
        else Kernel256(len, a0, a1, a2, a3, a4, a5, offs, b, bStride, c, ldc, rows, accumulate);
    }

    /// <summary>8 x 32 in 16 zmm accumulators.</summary>
    static void Kernel512(int len, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, float* a6, float* a7, int* offs,
        float* b, nint bStride, float* c, nint ldc, int rows, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int i = 0; i < len; i++)
        {
            nint o = offs[i];
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            Vector512<float> av;
            av = Vector512.Create(a0[o]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a1[o]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a2[o]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a3[o]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a4[o]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a5[o]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a6[o]); c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a7[o]); c70 = Vector512.FusedMultiplyAdd(av, b0, c70); c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            b += bStride;
        }
        Store(c, c00, c01, accumulate); c += ldc;
        if (rows > 1) Store(c, c10, c11, accumulate); c += ldc;
        if (rows > 2) Store(c, c20, c21, accumulate); c += ldc;
        if (rows > 3) Store(c, c30, c31, accumulate); c += ldc;
        if (rows > 4) Store(c, c40, c41, accumulate); c += ldc;
        if (rows > 5) Store(c, c50, c51, accumulate); c += ldc;
        if (rows > 6) Store(c, c60, c61, accumulate); c += ldc;
        if (rows > 7) Store(c, c70, c71, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector512<float> v0, Vector512<float> v1, bool accumulate)
    {
        if (accumulate) { v0 += Vector512.Load(c); v1 += Vector512.Load(c + 16); }
        v0.Store(c);
        v1.Store(c + 16);
    }

    /// <summary>6 x 16 in 12 ymm accumulators.</summary>
    static void Kernel256(int len, float* a0, float* a1, float* a2, float* a3, float* a4, float* a5, int* offs,
        float* b, nint bStride, float* c, nint ldc, int rows, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int i = 0; i < len; i++)
        {
            nint o = offs[i];
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            Vector256<float> av;
            av = Vector256.Create(a0[o]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a1[o]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a2[o]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a3[o]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a4[o]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a5[o]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            b += bStride;
        }
        Store(c, c00, c01, accumulate); c += ldc;
        if (rows > 1) Store(c, c10, c11, accumulate); c += ldc;
        if (rows > 2) Store(c, c20, c21, accumulate); c += ldc;
        if (rows > 3) Store(c, c30, c31, accumulate); c += ldc;
        if (rows > 4) Store(c, c40, c41, accumulate); c += ldc;
        if (rows > 5) Store(c, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, Vector256<float> v0, Vector256<float> v1, bool accumulate)
    {
        if (accumulate) { v0 += Vector256.Load(c); v1 += Vector256.Load(c + 8); }
        v0.Store(c);
        v1.Store(c + 8);
    }
}

/// <summary>What a convolution's write-out does besides storing (pointers at this output's first channel and
/// position; null: not done): y = act(scale[c] acc + shift[c] + residual), = or +=, and per-channel
/// sums of (y - statShift[c]) and its square added to <see cref="Stats"/> (BatchNorm's training
/// statistics, taken while the output is in registers).</summary>
internal unsafe struct ConvEpi
{
    public float* Scale, Shift, Residual, StatShift;
    public double* Stats;
    public bool Accumulate;
}

/// <summary>The input prologue of a convolution: each input channel c read as act(Scale[c] x + Shift[c])
/// (BatchNorm + activation of the producer, applied while the data is copied); null Scale: none.</summary>
internal unsafe struct InputAffine
{
    public float* Scale, Shift;
}
