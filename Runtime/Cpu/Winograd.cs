// Winograd F(2x2, 3x3) and F(4x4, 3x3) for dense 3x3 stride-1 convolutions (Lavin and Gray, 2016): each
// M x M output tile costs (M + 2)^2 multiplies per (input, output) channel pair instead of 9 M^2, i.e. 2.25x
// fewer for M = 2 and 4x fewer for M = 4, with only additions and small constant multiplies in the transforms.
// The three passes:
//   forward:          Y = A^T [ U (.) V ] A,  U = G g G^T per (out, in) channel, V = B^T d B per tile and input channel
//   backward data:    the same with the kernel flipped and transposed, padding 2 - p (stride 1)
//   backward weights: dU = sum over tiles (A dY A^T) (.) V, dg = G^T dU G
// Per sample: the NCHW input is transposed once into a zero-padded channel-last copy (the input
// prologue, a producer's BatchNorm + activation, is applied there), the tiles of a block are
// transformed with whole vectors of channels into V[t][tile][channel], T = (M + 2)^2 small GEMMs per block run
// the implicit-GEMM micro-kernel of ConvDirect (tile rows x channel vectors, 8 x 32 with AVX-512,
// 6 x 16 with AVX2), the output transform writes a channel-last tile of results, and ConvDirect's
// write-out transposes it into NCHW with the epilogue (scale, shift, residual, activation,
// BatchNorm statistics). Blocks of tiles keep V and M within ~384 KB (L2); the T planes of each sit a cache line
// further apart than their size so that a transform's T streams do not share one L1 set.
// Accuracy (Authoring.Runtime.Tests' WinogradAccuracyTests, against a double direct convolution): every output of every pass
// is held to the rounding bound derived from these transforms, gamma_k |A^T| (sum_c (|G| |g| |G^T|) (.) (|B^T| |d| |B|)) |A|
// (WinogradBound), with k the most roundings on a path through the expressions below: reordering one of them can change k,
// so WinogradBound's Depth* count them expression by expression. Measured at 0.0006-0.04 of the bound; F(4x4)'s larger
// coefficients (up to 8, 5, and 1/6, 1/12, 1/24) make its forward and data-gradient error up to ~25x F(2x2)'s.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

internal static unsafe class Winograd
{
    static readonly bool Wide = Simd.Use512;

    // Caller thread: the transformed weights and offset tables, read by every task; the weight
    // gradient's partial sums. Per task: the channel-last copies and the transform buffers.
    [ThreadStatic] static float[]? weightScratch;
    [ThreadStatic] static float[]? offScratch;
    [ThreadStatic] static float[]? partialScratch;
    [ThreadStatic] static float[]? statScratch;
    [ThreadStatic] static float[]? inScratch;
    [ThreadStatic] static float[]? outScratch;
    [ThreadStatic] static float[]? vScratch;
    [ThreadStatic] static float[]? mScratch;

    static int RoundUp(int x, int r) => (x + r - 1) / r * r;

    /// <summary>Where the kernels apply: 3 x 3, stride 1, no dilation, one group, padding at most 2 (so the
    /// data gradient is again such a convolution), AVX2 at least.</summary>
    public static bool Applies(in Conv2dShape s) => ConvDirect.Available && s.Kh == 3 && s.Kw == 3 && s.StrideH == 1 && s.StrideW == 1
        && s.DilH == 1 && s.DilW == 1 && s.Groups == 1 && s.PadH <= 2 && s.PadW <= 2 && s.Ho >= 1 && s.Wo >= 1;

    /// <summary>One problem: a 3 x 3 stride-1 convolution of <see cref="Ci"/> planes of H x W, padded, into
    /// <see cref="Co"/> planes of Ho x Wo, tiled by 2 x 2 output tiles.</summary>
    readonly struct Geo
    {
        public readonly int Ci, Co, H, W, PadH, PadW, Ho, Wo, Th, Tw, Tiles, Rows, Cols, Cp, Kp, TB;
        /// <summary>Output tile side M (2: F(2x2, 3x3); 4: F(4x4, 3x3)) and the number of transform points T = (M + 2)^2.</summary>
        public readonly int M, T;

        // minTB: tiles per block at least (the weight gradient's blocks of several small samples).
        public Geo(int ci, int co, int h, int w, int padH, int padW, int m = 2, int minTB = 0)
        {
            Ci = ci; Co = co; H = h; W = w; PadH = padH; PadW = padW; M = m; T = (m + 2) * (m + 2);
            Ho = h + 2 * padH - 2; Wo = w + 2 * padW - 2;
            Th = (Ho + m - 1) / m; Tw = (Wo + m - 1) / m; Tiles = Th * Tw;
            Rows = m * Th + 2; Cols = m * Tw + 2;
            int nr = ConvDirect.NR;
            Cp = RoundUp(ci, nr); Kp = RoundUp(co, nr);
            // Tiles per block: V and M of a block within ~384 KB, whole micro-tiles (24: a multiple of 6 and 8).
            TB = Math.Max(Math.Max(24, 96 * 1024 / (T * (Cp + Kp)) / 24 * 24), minTB);
        }

        public int Panels => Kp / ConvDirect.NR;

        /// <summary>Distance between the T transform planes of V and of M: a block's rows plus one cache line, so the
        /// 16 planes a transform reads or writes together do not fall into one L1 set (96 tiles x 32 channels x 4 bytes
        /// is 3 x 4 KB: unpadded, all 16 streams aliased).</summary>
        public long VS => (long)TB * Cp + 16;
        public long MS => (long)TB * Kp + 16;
        public int InSize => Rows * Cols * Cp;
    }

    // ---------------------------------------------------------------------------------------------
    // Weights.

    /// <summary>One input channel's 3 x 3 kernels of a panel's output channels, lane-interleaved (taps[tap * nr + lane]),
    /// flipped for the data gradient; shared by both tile sizes' weight transforms.</summary>
    static void GatherTaps(float* k0, long coStride, int lanes, int nr, bool dataGradient, float* taps)
    {
        for (int l = 0; l < lanes; l++)
        {
            float* k = k0 + l * coStride;
            if (dataGradient) for (int j = 0; j < 9; j++) taps[j * nr + l] = k[8 - j];
            else for (int j = 0; j < 9; j++) taps[j * nr + l] = k[j];
        }
    }

    /// <summary>U[t][panel][ci][NR] = (G g G^T)[t] of every (co, ci) pair, zero where co or ci is padding;
    /// g is w[co, ci] (forward) or w[ci, co] flipped (backward data, whose "input" channels are the
    /// convolution's outputs).</summary>
    /// <remarks>Runs on every call (the weights change every training step), so at batch 1 it costs as
    /// much as the GEMMs: one (panel, ci) row at a time, the NR output channels' taps gathered into
    /// lanes, then the transform on whole vectors and 16 vector stores (a scalar version with 16
    /// scattered stores per pair and a separate clear of U measured ~50 ns per pair, 3x the direct
    /// convolution's whole cost per pair at 14 x 14). Float arithmetic: the coefficients are 1 and 1/2,
    /// a few roundings of the tap sums, far inside the kernel tests' bound.</remarks>
    static void TransformWeights(float* w, in Geo g, bool dataGradient, float* u)
    {
        if (g.M == 4) { TransformWeights4(w, g, dataGradient, u); return; }
        int nr = ConvDirect.NR, panels = g.Panels;
        long tStride = (long)panels * g.Cp * nr;
        long coStride = dataGradient ? 9 : (long)g.Ci * 9, ciStride = dataGradient ? (long)g.Co * 9 : 9;
        float* taps = stackalloc float[9 * nr]; // taps[tap * nr + lane], tap = kh * 3 + kw of the (flipped) kernel
        var half = Vector256.Create(0.5f);
        for (int panel = 0; panel < panels; panel++)
        {
            int co0 = panel * nr, lanes = Math.Min(nr, g.Co - co0);
            if (lanes < nr) new Span<float>(taps, 9 * nr).Clear();
            for (int ci = 0; ci < g.Cp; ci++)
            {
                float* dst = u + ((long)panel * g.Cp + ci) * nr;
                if (ci >= g.Ci)
                {
                    for (int t = 0; t < 16; t++) new Span<float>(dst + t * tStride, nr).Clear();
                    continue;
                }
                GatherTaps(w + co0 * coStride + ci * ciStride, coStride, lanes, nr, dataGradient, taps);
                for (int c = 0; c < nr; c += 8)
                {
                    float* q = taps + c;
                    float* o = dst + c;
                    // G g per kernel column j: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2; then G^T
                    // on the right, row by row.
                    Vector256<float> m00, m01, m02, m10, m11, m12, m20, m21, m22, m30, m31, m32;
                    ColG(Vector256.Load(q), Vector256.Load(q + 3 * nr), Vector256.Load(q + 6 * nr), half, out m00, out m10, out m20, out m30);
                    ColG(Vector256.Load(q + nr), Vector256.Load(q + 4 * nr), Vector256.Load(q + 7 * nr), half, out m01, out m11, out m21, out m31);
                    ColG(Vector256.Load(q + 2 * nr), Vector256.Load(q + 5 * nr), Vector256.Load(q + 8 * nr), half, out m02, out m12, out m22, out m32);
                    RowG(m00, m01, m02, half, o, tStride);
                    RowG(m10, m11, m12, half, o + 4 * tStride, tStride);
                    RowG(m20, m21, m22, half, o + 8 * tStride, tStride);
                    RowG(m30, m31, m32, half, o + 12 * tStride, tStride);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void ColG(Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, Vector256<float> half,
        out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2, out Vector256<float> r3)
    {
        var s = g0 + g2;
        r0 = g0; r1 = (s + g1) * half; r2 = (s - g1) * half; r3 = g2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void RowG(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> half, float* o, long ts)
    {
        var s = r0 + r2;
        r0.Store(o); ((s + r1) * half).Store(o + ts); ((s - r1) * half).Store(o + 2 * ts); r2.Store(o + 3 * ts);
    }

    // ---------------------------------------------------------------------------------------------
    // Layout changes.

    /// <summary>dst[(r + top) * cols + c + left][ch] = act(scale[ch] src[ch][r][c] + shift[ch]) for the
    /// source's channels x h x w (plane stride h * w); every other cell of the rows x cols x cp block is zero.</summary>
    internal static void ToChannelLast<TIn>(float* src, int channels, int h, int w, float* dst, int rows, int cols, int top, int left, int cp,
        InputAffine pro) where TIn : struct, IActivation
    {
        // Zero only what the copy below does not write: the padding rows, the padding columns of the copied rows and,
        // where channels are padded to cp, their tails (a whole clear was 13% of RepVGG's step: the block is ~1.6x the data).
        new Span<float>(dst, top * cols * cp).Clear();
        new Span<float>(dst + (long)(top + h) * cols * cp, (rows - top - h) * cols * cp).Clear();
        for (int r = top; r < top + h; r++)
        {
            float* row = dst + (long)r * cols * cp;
            new Span<float>(row, left * cp).Clear();
            new Span<float>(row + (long)(left + w) * cp, (cols - left - w) * cp).Clear();
            if (channels < cp)
                for (int x = left; x < left + w; x++) new Span<float>(row + (long)x * cp + channels, cp - channels).Clear();
        }
        long plane = (long)h * w;
        bool affine = pro.Scale != null;
        int c8 = channels / 8 * 8;
        for (int r = 0; r < h; r++)
        {
            float* drow = dst + ((long)(r + top) * cols + left) * cp;
            if (w >= 8)
            {
                for (int c = 0; c < c8; c += 8)
                {
                    for (int x0 = 0; x0 < w; x0 += 8)
                    {
                        int x = Math.Min(x0, w - 8); // the last block overlaps the one before: same values
                        float* s = src + c * plane + (long)r * w + x;
                        var v0 = Load<TIn>(s, pro, c, affine); var v1 = Load<TIn>(s + plane, pro, c + 1, affine);
                        var v2 = Load<TIn>(s + 2 * plane, pro, c + 2, affine); var v3 = Load<TIn>(s + 3 * plane, pro, c + 3, affine);
                        var v4 = Load<TIn>(s + 4 * plane, pro, c + 4, affine); var v5 = Load<TIn>(s + 5 * plane, pro, c + 5, affine);
                        var v6 = Load<TIn>(s + 6 * plane, pro, c + 6, affine); var v7 = Load<TIn>(s + 7 * plane, pro, c + 7, affine);
                        GemmCore.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                        float* d = drow + (long)x * cp + c;
                        v0.Store(d); v1.Store(d + cp); v2.Store(d + 2 * cp); v3.Store(d + 3 * cp);
                        v4.Store(d + 4 * cp); v5.Store(d + 5 * cp); v6.Store(d + 6 * cp); v7.Store(d + 7 * cp);
                    }
                }
            }
            for (int c = w >= 8 ? c8 : 0; c < channels; c++)
            {
                float* s = src + c * plane + (long)r * w;
                float sc = affine ? pro.Scale[c] : 1f, sh = affine ? pro.Shift[c] : 0f;
                for (int x = 0; x < w; x++)
                    drow[(long)x * cp + c] = affine ? default(TIn).Apply(MathF.FusedMultiplyAdd(s[x], sc, sh)) : s[x];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Load<TIn>(float* s, in InputAffine pro, int c, bool affine) where TIn : struct, IActivation
    {
        var v = Vector256.Load(s);
        return affine ? default(TIn).Apply(Vector256.FusedMultiplyAdd(v, Vector256.Create(pro.Scale[c]), Vector256.Create(pro.Shift[c]))) : v;
    }

    // ---------------------------------------------------------------------------------------------
    // Data transforms, whole vectors of channels at a time (cp a multiple of the vector width).

    /// <summary>V[t][tile - t0][c] = (B^T d B)[t] of the 4 x 4 patch of tiles [t0, t1), d from the channel-last input.</summary>
    static void InputTransform(float* xt, in Geo g, int t0, int t1, float* v)
    {
        if (g.M == 4) { InputTransform4(xt, g, t0, t1, v); return; }
        int cp = g.Cp;
        long rs = (long)g.Cols * cp, ts = g.VS;
        for (int tile = t0; tile < t1; tile++)
        {
            int ty = tile / g.Tw, tx = tile - ty * g.Tw;
            float* q = xt + (2L * ty * g.Cols + 2 * tx) * cp;
            float* dst = v + (long)(tile - t0) * cp;
            if (Wide)
            {
                for (int c = 0; c < cp; c += 16)
                {
                    float* p = q + c;
                    // Columns j of the rows combination B^T d: w0 = d0 - d2, w1 = d1 + d2, w2 = d2 - d1, w3 = d1 - d3.
                    Vector512<float> w00, w01, w02, w03, w10, w11, w12, w13, w20, w21, w22, w23, w30, w31, w32, w33;
                    Col512(p, rs, out w00, out w10, out w20, out w30);
                    Col512(p + cp, rs, out w01, out w11, out w21, out w31);
                    Col512(p + 2 * cp, rs, out w02, out w12, out w22, out w32);
                    Col512(p + 3 * cp, rs, out w03, out w13, out w23, out w33);
                    float* o = dst + c;
                    Row512(w00, w01, w02, w03, o, ts);
                    Row512(w10, w11, w12, w13, o + 4 * ts, ts);
                    Row512(w20, w21, w22, w23, o + 8 * ts, ts);
                    Row512(w30, w31, w32, w33, o + 12 * ts, ts);
                }
            }
            else
            {
                for (int c = 0; c < cp; c += 8)
                {
                    float* p = q + c;
                    Vector256<float> w00, w01, w02, w03, w10, w11, w12, w13, w20, w21, w22, w23, w30, w31, w32, w33;
                    Col256(p, rs, out w00, out w10, out w20, out w30);
                    Col256(p + cp, rs, out w01, out w11, out w21, out w31);
                    Col256(p + 2 * cp, rs, out w02, out w12, out w22, out w32);
                    Col256(p + 3 * cp, rs, out w03, out w13, out w23, out w33);
                    float* o = dst + c;
                    Row256(w00, w01, w02, w03, o, ts);
                    Row256(w10, w11, w12, w13, o + 4 * ts, ts);
                    Row256(w20, w21, w22, w23, o + 8 * ts, ts);
                    Row256(w30, w31, w32, w33, o + 12 * ts, ts);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Col512(float* p, long rs, out Vector512<float> w0, out Vector512<float> w1, out Vector512<float> w2, out Vector512<float> w3)
    {
        var d0 = Vector512.Load(p); var d1 = Vector512.Load(p + rs); var d2 = Vector512.Load(p + 2 * rs); var d3 = Vector512.Load(p + 3 * rs);
        w0 = d0 - d2; w1 = d1 + d2; w2 = d2 - d1; w3 = d1 - d3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row512(Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3, float* o, long ts)
    {
        (c0 - c2).Store(o); (c1 + c2).Store(o + ts); (c2 - c1).Store(o + 2 * ts); (c1 - c3).Store(o + 3 * ts);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Col256(float* p, long rs, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        var d0 = Vector256.Load(p); var d1 = Vector256.Load(p + rs); var d2 = Vector256.Load(p + 2 * rs); var d3 = Vector256.Load(p + 3 * rs);
        w0 = d0 - d2; w1 = d1 + d2; w2 = d2 - d1; w3 = d1 - d3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row256(Vector256<float> c0, Vector256<float> c1, Vector256<float> c2, Vector256<float> c3, float* o, long ts)
    {
        (c0 - c2).Store(o); (c1 + c2).Store(o + ts); (c2 - c1).Store(o + 2 * ts); (c1 - c3).Store(o + 3 * ts);
    }

    /// <summary>Y = A^T M A per tile of [t0, t1) into the channel-last result yt (position (oh * Wo + ow) - pos0,
    /// stride kp), for channels [k0, k1); positions past the output's edge are not written.</summary>
    static void OutputTransform(float* m, in Geo g, int t0, int t1, int k0, int k1, float* yt, int pos0)
    {
        if (g.M == 4) { OutputTransform4(m, g, t0, t1, k0, k1, yt, pos0); return; }
        int kp = g.Kp;
        long ts = g.MS;
        for (int tile = t0; tile < t1; tile++)
        {
            int ty = tile / g.Tw, tx = tile - ty * g.Tw;
            int oh = 2 * ty, ow = 2 * tx;
            bool right = ow + 1 < g.Wo, down = oh + 1 < g.Ho;
            float* mp = m + (long)(tile - t0) * kp;
            float* y0 = yt + ((long)oh * g.Wo + ow - pos0) * kp;
            float* y1 = y0 + (long)g.Wo * kp;
            if (Wide)
            {
                for (int k = k0; k < k1; k += 16)
                {
                    float* p = mp + k;
                    // Rows of A^T M: s = m0 + m1 + m2, d = m1 - m2 - m3 (per column j).
                    Sums512(p, ts, out var s0, out var d0);
                    Sums512(p + ts, ts, out var s1, out var d1);
                    Sums512(p + 2 * ts, ts, out var s2, out var d2);
                    Sums512(p + 3 * ts, ts, out var s3, out var d3);
                    (s0 + s1 + s2).Store(y0 + k);
                    if (right) (s1 - s2 - s3).Store(y0 + kp + k);
                    if (down)
                    {
                        (d0 + d1 + d2).Store(y1 + k);
                        if (right) (d1 - d2 - d3).Store(y1 + kp + k);
                    }
                }
            }
            else
            {
                for (int k = k0; k < k1; k += 8)
                {
                    float* p = mp + k;
                    Sums256(p, ts, out var s0, out var d0);
                    Sums256(p + ts, ts, out var s1, out var d1);
                    Sums256(p + 2 * ts, ts, out var s2, out var d2);
                    Sums256(p + 3 * ts, ts, out var s3, out var d3);
                    (s0 + s1 + s2).Store(y0 + k);
                    if (right) (s1 - s2 - s3).Store(y0 + kp + k);
                    if (down)
                    {
                        (d0 + d1 + d2).Store(y1 + k);
                        if (right) (d1 - d2 - d3).Store(y1 + kp + k);
                    }
                }
            }
        }
    }

    /// <summary>Column j of A^T M: p points at M[j] (t = j), rows i at t = 4 i + j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Sums512(float* p, long ts, out Vector512<float> s, out Vector512<float> d)
    {
        var m0 = Vector512.Load(p); var m1 = Vector512.Load(p + 4 * ts); var m2 = Vector512.Load(p + 8 * ts); var m3 = Vector512.Load(p + 12 * ts);
        s = m0 + m1 + m2; d = m1 - m2 - m3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Sums256(float* p, long ts, out Vector256<float> s, out Vector256<float> d)
    {
        var m0 = Vector256.Load(p); var m1 = Vector256.Load(p + 4 * ts); var m2 = Vector256.Load(p + 8 * ts); var m3 = Vector256.Load(p + 12 * ts);
        s = m0 + m1 + m2; d = m1 - m2 - m3;
    }

    /// <summary>Yg[t][tile - t0][k] = (A dy A^T)[t] of the 2 x 2 output-gradient tile, dy channel-last over
    /// 2 Th x 2 Tw positions (zero past the output's edge).</summary>
    static void GradTransform(float* dyt, in Geo g, int t0, int t1, float* yg)
    {
        int kp = g.Kp, cols = 2 * g.Tw;
        long ts = g.MS;
        for (int tile = t0; tile < t1; tile++)
        {
            int ty = tile / g.Tw, tx = tile - ty * g.Tw;
            float* p0 = dyt + (2L * ty * cols + 2 * tx) * kp;
            float* p1 = p0 + (long)cols * kp;
            float* o = yg + (long)(tile - t0) * kp;
            if (Wide)
            {
                for (int k = 0; k < kp; k += 16)
                {
                    var a0 = Vector512.Load(p0 + k); var b0 = Vector512.Load(p0 + kp + k);
                    var a1 = Vector512.Load(p1 + k); var b1 = Vector512.Load(p1 + kp + k);
                    // Rows of A dy: y0, y0 + y1, y0 - y1, -y1; then the same along each row.
                    GradRow512(a0, b0, o + k, ts);
                    GradRow512(a0 + a1, b0 + b1, o + 4 * ts + k, ts);
                    GradRow512(a0 - a1, b0 - b1, o + 8 * ts + k, ts);
                    GradRow512(-a1, -b1, o + 12 * ts + k, ts);
                }
            }
            else
            {
                for (int k = 0; k < kp; k += 8)
                {
                    var a0 = Vector256.Load(p0 + k); var b0 = Vector256.Load(p0 + kp + k);
                    var a1 = Vector256.Load(p1 + k); var b1 = Vector256.Load(p1 + kp + k);
                    GradRow256(a0, b0, o + k, ts);
                    GradRow256(a0 + a1, b0 + b1, o + 4 * ts + k, ts);
                    GradRow256(a0 - a1, b0 - b1, o + 8 * ts + k, ts);
                    GradRow256(-a1, -b1, o + 12 * ts + k, ts);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void GradRow512(Vector512<float> a, Vector512<float> b, float* o, long ts)
    {
        a.Store(o); (a + b).Store(o + ts); (a - b).Store(o + 2 * ts); (-b).Store(o + 3 * ts);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void GradRow256(Vector256<float> a, Vector256<float> b, float* o, long ts)
    {
        a.Store(o); (a + b).Store(o + ts); (a - b).Store(o + 2 * ts); (-b).Store(o + 3 * ts);
    }

    // ---------------------------------------------------------------------------------------------
    // F(4x4, 3x3): 36 transform points per 4 x 4 output tile, 36 multiplies per channel pair for 16 outputs
    // (4x fewer than direct; 1.78x fewer than F(2x2)). Transforms of Lavin and Gray:
    //   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
    //   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
    //   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
    // Their larger coefficients (up to 8 in A, 5 in B, 1/24 in G) cost accuracy: WinogradAccuracyTests holds the error to
    // the bound derived from them (WinogradBound). Each 2-D transform runs as two 1-D passes
    // (columns into a small stack buffer, then rows), which keeps the live vectors within the register file.

    static void TransformWeights4(float* w, in Geo g, bool dataGradient, float* u)
    {
        int nr = ConvDirect.NR, panels = g.Panels;
        long tStride = (long)panels * g.Cp * nr;
        long coStride = dataGradient ? 9 : (long)g.Ci * 9, ciStride = dataGradient ? (long)g.Co * 9 : 9;
        float* taps = stackalloc float[9 * nr];
        Vector256<float>* r = stackalloc Vector256<float>[18]; // r[i * 3 + j]: (G g)[i][j]
        for (int panel = 0; panel < panels; panel++)
        {
            int co0 = panel * nr, lanes = Math.Min(nr, g.Co - co0);
            if (lanes < nr) new Span<float>(taps, 9 * nr).Clear();
            for (int ci = 0; ci < g.Cp; ci++)
            {
                float* dst = u + ((long)panel * g.Cp + ci) * nr;
                if (ci >= g.Ci)
                {
                    for (int t = 0; t < 36; t++) new Span<float>(dst + t * tStride, nr).Clear();
                    continue;
                }
                GatherTaps(w + co0 * coStride + ci * ciStride, coStride, lanes, nr, dataGradient, taps);
                for (int c = 0; c < nr; c += 8)
                {
                    float* q = taps + c;
                    for (int j = 0; j < 3; j++)
                    {
                        G6(Vector256.Load(q + j * nr), Vector256.Load(q + (3 + j) * nr), Vector256.Load(q + (6 + j) * nr),
                            out r[j], out r[3 + j], out r[6 + j], out r[9 + j], out r[12 + j], out r[15 + j]);
                    }
                    float* o = dst + c;
                    for (int i = 0; i < 6; i++)
                    {
                        G6(r[3 * i], r[3 * i + 1], r[3 * i + 2], out var e0, out var e1, out var e2, out var e3, out var e4, out var e5);
                        float* oi = o + 6 * i * tStride;
                        e0.Store(oi); e1.Store(oi + tStride); e2.Store(oi + 2 * tStride);
                        e3.Store(oi + 3 * tStride); e4.Store(oi + 4 * tStride); e5.Store(oi + 5 * tStride);
                    }
                }
            }
        }
    }

    /// <summary>G (g0, g1, g2) for F(4x4, 3x3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void G6(Vector256<float> g0, Vector256<float> g1, Vector256<float> g2, out Vector256<float> r0, out Vector256<float> r1,
        out Vector256<float> r2, out Vector256<float> r3, out Vector256<float> r4, out Vector256<float> r5)
    {
        var s = g0 + g2;
        var q = Vector256.FusedMultiplyAdd(g0, Vector256.Create(1f / 24), g2 * Vector256.Create(1f / 6));
        var h = g1 * Vector256.Create(1f / 12);
        r0 = g0 * Vector256.Create(0.25f);
        r1 = (s + g1) * Vector256.Create(-1f / 6);
        r2 = (s - g1) * Vector256.Create(-1f / 6);
        r3 = q + h;
        r4 = q - h;
        r5 = g2;
    }

    /// <summary>V[t][tile - t0][c] = (B^T d B)[t] of the 6 x 6 patch of tiles [t0, t1) (F(4x4, 3x3)).</summary>
    static void InputTransform4(float* xt, in Geo g, int t0, int t1, float* v)
    {
        int cp = g.Cp;
        long rs = (long)g.Cols * cp, ts = g.VS;
        if (Wide)
        {
            Vector512<float>* tmp = stackalloc Vector512<float>[36];
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                float* q = xt + (4L * ty * g.Cols + 4 * tx) * cp;
                float* dst = v + (long)(tile - t0) * cp;
                for (int c = 0; c < cp; c += 16)
                {
                    for (int j = 0; j < 6; j++)
                    {
                        float* p = q + c + j * cp;
                        Bt6(Vector512.Load(p), Vector512.Load(p + rs), Vector512.Load(p + 2 * rs), Vector512.Load(p + 3 * rs),
                            Vector512.Load(p + 4 * rs), Vector512.Load(p + 5 * rs),
                            out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
                    }
                    for (int i = 0; i < 6; i++)
                    {
                        Vector512<float>* e = tmp + 6 * i;
                        Bt6(e[0], e[1], e[2], e[3], e[4], e[5], out var w0, out var w1, out var w2, out var w3, out var w4, out var w5);
                        float* o = dst + c + 6 * i * ts;
                        w0.Store(o); w1.Store(o + ts); w2.Store(o + 2 * ts); w3.Store(o + 3 * ts); w4.Store(o + 4 * ts); w5.Store(o + 5 * ts);
                    }
                }
            }
        }
        else
        {
            Vector256<float>* tmp = stackalloc Vector256<float>[36];
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                float* q = xt + (4L * ty * g.Cols + 4 * tx) * cp;
                float* dst = v + (long)(tile - t0) * cp;
                for (int c = 0; c < cp; c += 8)
                {
                    for (int j = 0; j < 6; j++)
                    {
                        float* p = q + c + j * cp;
                        Bt6(Vector256.Load(p), Vector256.Load(p + rs), Vector256.Load(p + 2 * rs), Vector256.Load(p + 3 * rs),
                            Vector256.Load(p + 4 * rs), Vector256.Load(p + 5 * rs),
                            out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
                    }
                    for (int i = 0; i < 6; i++)
                    {
                        Vector256<float>* e = tmp + 6 * i;
                        Bt6(e[0], e[1], e[2], e[3], e[4], e[5], out var w0, out var w1, out var w2, out var w3, out var w4, out var w5);
                        float* o = dst + c + 6 * i * ts;
                        w0.Store(o); w1.Store(o + ts); w2.Store(o + 2 * ts); w3.Store(o + 3 * ts); w4.Store(o + 4 * ts); w5.Store(o + 5 * ts);
                    }
                }
            }
        }
    }

    /// <summary>B^T (d0 .. d5) for F(4x4, 3x3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Bt6(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5,
        out Vector512<float> w0, out Vector512<float> w1, out Vector512<float> w2, out Vector512<float> w3, out Vector512<float> w4, out Vector512<float> w5)
    {
        var four = Vector512.Create(4f); var two = Vector512.Create(2f); var m5 = Vector512.Create(-5f);
        w0 = Vector512.FusedMultiplyAdd(four, d0, Vector512.FusedMultiplyAdd(m5, d2, d4));
        w1 = Vector512.FusedMultiplyAdd(-four, d1 + d2, d3 + d4);
        w2 = Vector512.FusedMultiplyAdd(four, d1 - d2, d4 - d3);
        w3 = Vector512.FusedMultiplyAdd(two, d3 - d1, d4 - d2);
        w4 = Vector512.FusedMultiplyAdd(two, d1 - d3, d4 - d2);
        w5 = Vector512.FusedMultiplyAdd(four, d1, Vector512.FusedMultiplyAdd(m5, d3, d5));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Bt6(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5,
        out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3, out Vector256<float> w4, out Vector256<float> w5)
    {
        var four = Vector256.Create(4f); var two = Vector256.Create(2f); var m5 = Vector256.Create(-5f);
        w0 = Vector256.FusedMultiplyAdd(four, d0, Vector256.FusedMultiplyAdd(m5, d2, d4));
        w1 = Vector256.FusedMultiplyAdd(-four, d1 + d2, d3 + d4);
        w2 = Vector256.FusedMultiplyAdd(four, d1 - d2, d4 - d3);
        w3 = Vector256.FusedMultiplyAdd(two, d3 - d1, d4 - d2);
        w4 = Vector256.FusedMultiplyAdd(two, d1 - d3, d4 - d2);
        w5 = Vector256.FusedMultiplyAdd(four, d1, Vector256.FusedMultiplyAdd(m5, d3, d5));
    }

    /// <summary>Y = A^T M A per 4 x 4 tile (F(4x4, 3x3)); as <see cref="OutputTransform"/>.</summary>
    static void OutputTransform4(float* m, in Geo g, int t0, int t1, int k0, int k1, float* yt, int pos0)
    {
        int kp = g.Kp;
        long ts = g.MS;
        if (Wide)
        {
            Vector512<float>* tmp = stackalloc Vector512<float>[24]; // tmp[k * 6 + j]: (A^T M)[k][j]
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                int oh = 4 * ty, ow = 4 * tx, rowsOut = Math.Min(4, g.Ho - oh), colsOut = Math.Min(4, g.Wo - ow);
                float* mp = m + (long)(tile - t0) * kp;
                float* y0 = yt + ((long)oh * g.Wo + ow - pos0) * kp;
                for (int k = k0; k < k1; k += 16)
                {
                    float* p = mp + k;
                    for (int j = 0; j < 6; j++)
                        At6(Vector512.Load(p + j * ts), Vector512.Load(p + (6 + j) * ts), Vector512.Load(p + (12 + j) * ts),
                            Vector512.Load(p + (18 + j) * ts), Vector512.Load(p + (24 + j) * ts), Vector512.Load(p + (30 + j) * ts),
                            out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
                    for (int i = 0; i < rowsOut; i++)
                    {
                        Vector512<float>* e = tmp + 6 * i;
                        At6(e[0], e[1], e[2], e[3], e[4], e[5], out var o0, out var o1, out var o2, out var o3);
                        float* yr = y0 + (long)i * g.Wo * kp + k;
                        o0.Store(yr);
                        if (colsOut > 1) o1.Store(yr + kp);
                        if (colsOut > 2) o2.Store(yr + 2 * kp);
                        if (colsOut > 3) o3.Store(yr + 3 * kp);
                    }
                }
            }
        }
        else
        {
            Vector256<float>* tmp = stackalloc Vector256<float>[24];
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                int oh = 4 * ty, ow = 4 * tx, rowsOut = Math.Min(4, g.Ho - oh), colsOut = Math.Min(4, g.Wo - ow);
                float* mp = m + (long)(tile - t0) * kp;
                float* y0 = yt + ((long)oh * g.Wo + ow - pos0) * kp;
                for (int k = k0; k < k1; k += 8)
                {
                    float* p = mp + k;
                    for (int j = 0; j < 6; j++)
                        At6(Vector256.Load(p + j * ts), Vector256.Load(p + (6 + j) * ts), Vector256.Load(p + (12 + j) * ts),
                            Vector256.Load(p + (18 + j) * ts), Vector256.Load(p + (24 + j) * ts), Vector256.Load(p + (30 + j) * ts),
                            out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
                    for (int i = 0; i < rowsOut; i++)
                    {
                        Vector256<float>* e = tmp + 6 * i;
                        At6(e[0], e[1], e[2], e[3], e[4], e[5], out var o0, out var o1, out var o2, out var o3);
                        float* yr = y0 + (long)i * g.Wo * kp + k;
                        o0.Store(yr);
                        if (colsOut > 1) o1.Store(yr + kp);
                        if (colsOut > 2) o2.Store(yr + 2 * kp);
                        if (colsOut > 3) o3.Store(yr + 3 * kp);
                    }
                }
            }
        }
    }

    /// <summary>A^T (m0 .. m5) for F(4x4, 3x3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void At6(Vector512<float> m0, Vector512<float> m1, Vector512<float> m2, Vector512<float> m3, Vector512<float> m4, Vector512<float> m5,
        out Vector512<float> o0, out Vector512<float> o1, out Vector512<float> o2, out Vector512<float> o3)
    {
        var a = m1 + m2; var b = m1 - m2; var c = m3 + m4; var d = m3 - m4;
        o0 = m0 + a + c;
        o1 = Vector512.FusedMultiplyAdd(Vector512.Create(2f), d, b);
        o2 = Vector512.FusedMultiplyAdd(Vector512.Create(4f), c, a);
        o3 = Vector512.FusedMultiplyAdd(Vector512.Create(8f), d, b) + m5;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void At6(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5,
        out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3)
    {
        var a = m1 + m2; var b = m1 - m2; var c = m3 + m4; var d = m3 - m4;
        o0 = m0 + a + c;
        o1 = Vector256.FusedMultiplyAdd(Vector256.Create(2f), d, b);
        o2 = Vector256.FusedMultiplyAdd(Vector256.Create(4f), c, a);
        o3 = Vector256.FusedMultiplyAdd(Vector256.Create(8f), d, b) + m5;
    }

    // ---------------------------------------------------------------------------------------------
    // Forward and backward data.

    struct ForwardJob<TIn, TAct> : IParallelJob where TIn : struct, IActivation where TAct : struct, IActivation
    {
        public Geo G;
        public int Parts, RowsPerPart, PanelsPerPart; // PanelsPerPart > 0: parts split the output channels, not the tile rows
        public float* Src, Dst, U, Residual;
        public long SrcStride, DstStride, ResidualStride;
        public int* Ident;
        public InputAffine In;
        public ConvEpi Epi;        // per output channel; Residual and Stats are set per task
        public double* Stats;      // per task, 2 doubles per output channel, or null

        public void Run(int task)
        {
            ref readonly Geo g = ref G;
            int b = task / Parts, part = task % Parts;
            int nr = ConvDirect.NR, mr = ConvDirect.MR;
            int ty0 = 0, ty1 = g.Th, panel0 = 0, panel1 = g.Panels;
            if (PanelsPerPart > 0) { panel0 = part * PanelsPerPart; panel1 = Math.Min(g.Panels, panel0 + PanelsPerPart); }
            else { ty0 = part * RowsPerPart; ty1 = Math.Min(g.Th, ty0 + RowsPerPart); }
            if (ty0 >= ty1 || panel0 >= panel1) return;
            int pos0 = g.M * ty0 * g.Wo, pos1 = Math.Min(g.Ho, g.M * ty1) * g.Wo;
            int panels = g.Panels, k0 = panel0 * nr, k1 = panel1 * nr;
            float* xt = Scratch.Aligned(Scratch.Get(ref inScratch, g.InSize));
            ToChannelLast<TIn>(Src + b * SrcStride, g.Ci, g.H, g.W, xt, g.Rows, g.Cols, g.PadH, g.PadW, g.Cp, In);
            float* v = Scratch.Aligned(Scratch.Get(ref vScratch, (int)(g.T * g.VS)));
            float* m = Scratch.Aligned(Scratch.Get(ref mScratch, (int)(g.T * g.MS)));
            float* yt = Scratch.Aligned(Scratch.Get(ref outScratch, (pos1 - pos0) * g.Kp + nr));
            int tile1 = ty1 * g.Tw;
            for (int t0 = ty0 * g.Tw; t0 < tile1; t0 += g.TB)
            {
                int t1 = Math.Min(tile1, t0 + g.TB), nb = t1 - t0;
                InputTransform(xt, g, t0, t1, v);
                for (int t = 0; t < g.T; t++)
                {
                    float* vt = v + t * g.VS;
                    float* mt = m + t * g.MS;
                    for (int panel = panel0; panel < panel1; panel++)
                    {
                        float* bp = U + ((long)t * panels + panel) * g.Cp * nr;
                        for (int r = 0; r < nb; r += mr)
                        {
                            int rows = Math.Min(mr, nb - r);
                            float* a0 = vt + (long)r * g.Cp;
                            long cp = g.Cp;
                            ConvDirect.Kernel(g.Ci, a0, a0 + (rows > 1 ? cp : 0), a0 + (rows > 2 ? 2 * cp : 0), a0 + (rows > 3 ? 3 * cp : 0),
                                a0 + (rows > 4 ? 4 * cp : 0), a0 + (rows > 5 ? 5 * cp : 0), a0 + (rows > 6 ? 6 * cp : 0), a0 + (rows > 7 ? 7 * cp : 0),
                                Ident, bp, nr, mt + (long)r * g.Kp + panel * nr, g.Kp, rows, false);
                        }
                    }
                }
                OutputTransform(m, g, t0, t1, k0, k1, yt, pos0);
            }
            // The epilogue's per-channel pointers start at this part's first channel.
            int plane = g.Ho * g.Wo, c1 = Math.Min(k1, g.Co);
            var e = Epi;
            if (e.Scale != null) e.Scale += k0;
            if (e.Shift != null) e.Shift += k0;
            if (e.StatShift != null) e.StatShift += k0;
            if (Residual != null) e.Residual = Residual + b * ResidualStride + pos0 + (long)k0 * plane;
            if (Stats != null) e.Stats = Stats + (long)task * 2 * g.Co + 2 * k0;
            ConvDirect.WriteOut<TAct>(yt + k0, g.Kp, pos1 - pos0, c1 - k0, Dst + b * DstStride + pos0 + (long)k0 * plane, plane, e);
        }
    }

    static void Run<TIn, TAct>(in Geo g, int n, float* src, long srcStride, InputAffine input, float* w, bool dataGradient,
        in ConvEpi epi, float* residual, long residualStride, float* dst, long dstStride, double* stats)
        where TIn : struct, IActivation where TAct : struct, IActivation
    {
        int nr = ConvDirect.NR;
        float* u = Scratch.Aligned(Scratch.Get(ref weightScratch, g.T * g.Panels * g.Cp * nr));
        TransformWeights(w, g, dataGradient, u);
        int* ident = (int*)Scratch.Aligned(Scratch.Get(ref offScratch, g.Cp + 16));
        for (int i = 0; i < g.Cp; i++) ident[i] = i;
        int threads = WorkerPool.InsideJob ? 1 : WorkerPool.ThreadCount;
        // Few samples: split each sample's tile rows while a part keeps enough work to be worth a task
        // (each part transposes its sample's input again). With many output channels, split those instead: each part then reads only its share of the
        // transformed weights (16/9 of the weights: 16 MB at 512 -> 512 channels, read by every row
        // part) and redoes only the cheap input transform, not its share of the GEMMs.
        int parts = 1, panelsPerPart = 0;
        if (n < 2 * threads)
        {
            long flops = 2L * g.T * g.Tiles * g.Cp * g.Kp;
            // About four parts per thread: on shared cores a part left to a descheduled thread stalls the
            // call, and smaller parts rebalance (lab big1, 256 and 512 channels at batch 1: all-thread cpu
            // efficiency 66-68% and 80% with four per thread against 54-61% and 76-79% with two; noisy, load ~22).
            int want = (4 * threads + n - 1) / n;
            if (g.Panels >= 2 * want && g.Kp >= 128)
            {
                int byWork = (int)Math.Clamp(flops / WorkerPool.MinParallelFlops, 1, g.Panels);
                parts = Math.Min(want, byWork);
                panelsPerPart = (g.Panels + parts - 1) / parts;
                parts = (g.Panels + panelsPerPart - 1) / panelsPerPart;
            }
            else
            {
                int byWork = (int)Math.Clamp(flops / WorkerPool.MinParallelFlops, 1, g.Th);
                parts = Math.Min(want, byWork);
            }
        }
        int rowsPerPart = (g.Th + parts - 1) / parts;
        if (panelsPerPart == 0) parts = (g.Th + rowsPerPart - 1) / rowsPerPart;
        int tasks = n * parts;
        double* partial = null;
        if (stats != null)
        {
            partial = (double*)Scratch.Aligned(Scratch.Get(ref statScratch, 4 * tasks * g.Co + 16));
            new Span<double>(partial, 2 * tasks * g.Co).Clear();
        }
        var job = new ForwardJob<TIn, TAct>
        {
            G = g, Parts = parts, RowsPerPart = rowsPerPart, PanelsPerPart = panelsPerPart, Src = src, SrcStride = srcStride, Dst = dst, DstStride = dstStride,
            U = u, Ident = ident, In = input, Epi = epi, Residual = residual, ResidualStride = residualStride, Stats = partial,
        };
        WorkerPool.For(tasks, ref job);
        if (stats != null) ConvDirect.SumTasks(partial, tasks, 2 * g.Co, stats);
    }

    /// <summary>Forward with the fusion options of <see cref="ConvDirect.Forward{TIn, TAct}"/>; <c>tile</c> is the output
    /// tile side: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3).</summary>
    public static void Forward<TIn, TAct>(in Conv2dShape s, int n, float* x, long xStride, InputAffine input, float* w, in ConvEpi epi,
        float* residual, long residualStride, float* y, long yStride, double* stats, int tile = 2) where TIn : struct, IActivation where TAct : struct, IActivation
    {
        var g = new Geo(s.Cin, s.Cout, s.H, s.W, s.PadH, s.PadW, tile);
        Run<TIn, TAct>(g, n, x, xStride, input, w, false, epi, residual, residualStride, y, yStride, stats);
    }

    /// <summary>dx (=, or +=) the data gradient: dy padded by 2 - p, convolved with the flipped, transposed kernel.</summary>
    public static void BackwardData(in Conv2dShape s, int n, float* dy, long dyStride, float* w, float* dx, long dxStride, bool accumulate, int tile = 2)
    {
        var g = new Geo(s.Cout, s.Cin, s.Ho, s.Wo, 2 - s.PadH, 2 - s.PadW, tile);
        Run<Identity, Identity>(g, n, dy, dyStride, default, w, true, new ConvEpi { Accumulate = accumulate }, null, 0, dx, dxStride, null);
    }

    // ---------------------------------------------------------------------------------------------
    // Backward weights.

    struct WeightsJob<TIn> : IParallelJob where TIn : struct, IActivation
    {
        public Geo G;
        public int N, Chunks, TParts;
        public float* X, Dy, Partial;
        public long XStride, DyStride;
        public int* TileOffsets;
        public InputAffine In;

        public int PartialSize => G.T * G.Kp * G.Cp;

        public void Run(int task)
        {
            ref readonly Geo g = ref G;
            int chunk = task / TParts, tpart = task % TParts;
            int tFirst = g.T * tpart / TParts, tLast = g.T * (tpart + 1) / TParts;
            float* du = Partial + (long)chunk * PartialSize;
            int b0 = (int)((long)N * chunk / Chunks), b1 = (int)((long)N * (chunk + 1) / Chunks);
            int nr = ConvDirect.NR, mr = ConvDirect.MR;
            float* xt = Scratch.Aligned(Scratch.Get(ref inScratch, g.InSize));
            int dyCols = g.M * g.Tw, dyRows = g.M * g.Th;
            float* dyt = Scratch.Aligned(Scratch.Get(ref outScratch, dyRows * dyCols * g.Kp));
            float* v = Scratch.Aligned(Scratch.Get(ref vScratch, (int)(g.T * g.VS)));
            float* yg = Scratch.Aligned(Scratch.Get(ref mScratch, (int)(g.T * g.MS)));
            // Samples whose tiles fit a block several times share one: the GEMMs below reduce over a block's tiles, and a
            // reduction over one small sample's (16 at 14 x 14 with F(4x4)) spends more on the accumulators than on it.
            int group = g.Tiles * 2 <= g.TB ? g.TB / g.Tiles : 1;
            for (int b = b0; b < b1; b += group)
            {
                int gb = Math.Min(group, b1 - b);
                for (int t0 = 0; t0 < g.Tiles; t0 += g.TB)
                {
                    int t1 = Math.Min(g.Tiles, t0 + g.TB), nb = (t1 - t0) * gb;
                    for (int j = 0; j < gb; j++)
                    {
                        // A sample over several blocks is copied once, at its first; gb > 1 only when a sample is one block
                        // (t0 = 0, t1 = Tiles): sample j's tiles follow sample j - 1's.
                        if (t0 == 0)
                        {
                            ToChannelLast<TIn>(X + (b + j) * XStride, g.Ci, g.H, g.W, xt, g.Rows, g.Cols, g.PadH, g.PadW, g.Cp, In);
                            ToChannelLast<Identity>(Dy + (b + j) * DyStride, g.Co, g.Ho, g.Wo, dyt, dyRows, dyCols, 0, 0, g.Kp, default);
                        }
                        InputTransform(xt, g, t0, t1, v + (long)j * g.Tiles * g.Cp);
                        if (g.M == 4) GradTransform4(dyt, g, t0, t1, yg + (long)j * g.Tiles * g.Kp);
                        else GradTransform(dyt, g, t0, t1, yg + (long)j * g.Tiles * g.Kp);
                    }
                    for (int t = tFirst; t < tLast; t++)
                    {
                        float* vt = v + t * g.VS;
                        float* yt = yg + t * g.MS;
                        float* dut = du + (long)t * g.Kp * g.Cp;
                        for (int k0 = 0; k0 < g.Co; k0 += mr)
                        {
                            int rows = Math.Min(mr, g.Co - k0);
                            float* a0 = yt + k0;
                            for (int c0 = 0; c0 < g.Ci; c0 += nr)
                                ConvDirect.Kernel(nb, a0, a0 + (rows > 1 ? 1 : 0), a0 + (rows > 2 ? 2 : 0), a0 + (rows > 3 ? 3 : 0),
                                    a0 + (rows > 4 ? 4 : 0), a0 + (rows > 5 ? 5 : 0), a0 + (rows > 6 ? 6 : 0), a0 + (rows > 7 ? 7 : 0),
                                    TileOffsets, vt + c0, g.Cp, dut + (long)k0 * g.Cp + c0, g.Cp, rows, true);
                        }
                    }
                }
            }
        }
    }

    /// <summary>dw += sum over the batch of the weight gradient, read through the input prologue.</summary>
    public static void BackwardWeights<TIn>(in Conv2dShape s, int n, float* x, long xStride, InputAffine input, float* dy, long dyStride, float* dw,
        int tile = 2) where TIn : struct, IActivation
    {
        var g0 = new Geo(s.Cin, s.Cout, s.H, s.W, s.PadH, s.PadW, tile);
        // Blocks of at least 48 tiles where samples are smaller (whole samples per block), within ~2x the usual block's memory.
        var g = g0.Tiles < 48 ? new Geo(s.Cin, s.Cout, s.H, s.W, s.PadH, s.PadW, tile, Math.Min((48 + g0.Tiles - 1) / g0.Tiles * g0.Tiles, 2 * g0.TB)) : g0;
        int threads = WorkerPool.InsideJob ? 1 : WorkerPool.ThreadCount;
        var job = new WeightsJob<TIn> { G = g, N = n, X = x, XStride = xStride, Dy = dy, DyStride = dyStride, In = input };
        // Fixed chunks of the batch, summed in chunk order (results independent of scheduling); few
        // samples: one chunk, its 16 transform planes split over the threads.
        if (n >= 2 * threads) { job.Chunks = 2 * threads; job.TParts = 1; }
        else
        {
            long flops = 2L * n * g.T * g.Tiles * g.Cp * g.Kp;
            job.Chunks = 1;
            job.TParts = (int)Math.Clamp(flops / WorkerPool.MinParallelFlops, 1, Math.Min(16, 2 * threads));
        }
        int* offs = (int*)Scratch.Aligned(Scratch.Get(ref offScratch, g.TB + 16));
        for (int i = 0; i < g.TB; i++) offs[i] = i * g.Kp;
        job.TileOffsets = offs;
        int psize = job.PartialSize, chunks = job.Chunks;
        float* partial = Scratch.Aligned(Scratch.Get(ref partialScratch, chunks * psize));
        new Span<float>(partial, chunks * psize).Clear();
        job.Partial = partial;
        WorkerPool.For(chunks * job.TParts, ref job);
        if (g.M == 4) { ReduceWeights4(g, partial, psize, chunks, dw); return; }

        // dw[k][c] += G^T dU G, chunks summed in order; eight input channels at a time (dU is contiguous
        // in c), the nine results of each lane then added into dw's 3 x 3 kernels (a per-pair scalar
        // version with 16 reads Kp * Cp apart cost as much as the GEMMs at batch 1).
        float* o = stackalloc float[9 * 8];
        var half = Vector256.Create(0.5f);
        Span<Vector256<float>> d = stackalloc Vector256<float>[16];
        for (int k = 0; k < g.Co; k++)
            for (int c0 = 0; c0 < g.Ci; c0 += 8)
            {
                for (int t = 0; t < 16; t++)
                {
                    float* at = partial + ((long)t * g.Kp + k) * g.Cp + c0;
                    var v = Vector256.Load(at);
                    for (int ch = 1; ch < chunks; ch++) v += Vector256.Load(at + ch * (long)psize);
                    d[t] = v;
                }
                // G^T rows: (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1); first over i, then over j.
                for (int i = 0; i < 3; i++)
                {
                    Vector256<float> h0, h1, h2, h3;
                    GtCol(d[0], d[4], d[8], d[12], i, half, out h0);
                    GtCol(d[1], d[5], d[9], d[13], i, half, out h1);
                    GtCol(d[2], d[6], d[10], d[14], i, half, out h2);
                    GtCol(d[3], d[7], d[11], d[15], i, half, out h3);
                    var s1 = (h1 + h2) * half;
                    (h0 + s1).Store(o + (3 * i) * 8);
                    ((h1 - h2) * half).Store(o + (3 * i + 1) * 8);
                    (s1 + h3).Store(o + (3 * i + 2) * 8);
                }
                int lanes = Math.Min(8, g.Ci - c0);
                for (int l = 0; l < lanes; l++)
                {
                    float* dst = dw + ((long)k * g.Ci + c0 + l) * 9;
                    for (int tap = 0; tap < 9; tap++) dst[tap] += o[tap * 8 + l];
                }
            }
    }

    /// <summary>dw[k][c] += G^T dU G for F(4x4, 3x3) (dU 6 x 6 per channel pair), chunks summed in order; as the F(2x2)
    /// reduction, eight input channels at a time.</summary>
    static void ReduceWeights4(in Geo g, float* partial, int psize, int chunks, float* dw)
    {
        float* o = stackalloc float[9 * 8];
        Vector256<float>* d = stackalloc Vector256<float>[36];
        for (int k = 0; k < g.Co; k++)
            for (int c0 = 0; c0 < g.Ci; c0 += 8)
            {
                for (int t = 0; t < 36; t++)
                {
                    float* at = partial + ((long)t * g.Kp + k) * g.Cp + c0;
                    var v = Vector256.Load(at);
                    for (int ch = 1; ch < chunks; ch++) v += Vector256.Load(at + ch * (long)psize);
                    d[t] = v;
                }
                // Row a of G^T over the plane rows i, then over the columns j.
                for (int a = 0; a < 3; a++)
                {
                    var h0 = Gt6(d[0], d[6], d[12], d[18], d[24], d[30], a);
                    var h1 = Gt6(d[1], d[7], d[13], d[19], d[25], d[31], a);
                    var h2 = Gt6(d[2], d[8], d[14], d[20], d[26], d[32], a);
                    var h3 = Gt6(d[3], d[9], d[15], d[21], d[27], d[33], a);
                    var h4 = Gt6(d[4], d[10], d[16], d[22], d[28], d[34], a);
                    var h5 = Gt6(d[5], d[11], d[17], d[23], d[29], d[35], a);
                    for (int b = 0; b < 3; b++) Gt6(h0, h1, h2, h3, h4, h5, b).Store(o + (3 * a + b) * 8);
                }
                int lanes = Math.Min(8, g.Ci - c0);
                for (int l = 0; l < lanes; l++)
                {
                    float* dst = dw + ((long)k * g.Ci + c0 + l) * 9;
                    for (int tap = 0; tap < 9; tap++) dst[tap] += o[tap * 8 + l];
                }
            }
    }

    /// <summary>Row <paramref name="a"/> of G^T (F(4x4, 3x3)) applied to (u0 .. u5): (1/4, -1/6, -1/6, 1/24, 1/24, 0),
    /// (0, -1/6, 1/6, 1/12, -1/12, 0), (0, -1/6, -1/6, 1/6, 1/6, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Gt6(Vector256<float> u0, Vector256<float> u1, Vector256<float> u2, Vector256<float> u3, Vector256<float> u4,
        Vector256<float> u5, int a)
    {
        var sixth = Vector256.Create(1f / 6);
        return a switch
        {
            0 => u0 * Vector256.Create(0.25f) - (u1 + u2) * sixth + (u3 + u4) * Vector256.Create(1f / 24),
            1 => (u2 - u1) * sixth + (u3 - u4) * Vector256.Create(1f / 12),
            _ => (u3 + u4 - u1 - u2) * sixth + u5,
        };
    }

    /// <summary>Yg[t][tile - t0][k] = (A dy A^T)[t] of the 4 x 4 output-gradient tile (F(4x4, 3x3)), dy channel-last over
    /// 4 Th x 4 Tw positions (zero past the output's edge). A's rows: (1,0,0,0), (1,1,1,1), (1,-1,1,-1), (1,2,4,8),
    /// (1,-2,4,-8), (0,0,0,1).</summary>
    static void GradTransform4(float* dyt, in Geo g, int t0, int t1, float* yg)
    {
        int kp = g.Kp, cols = 4 * g.Tw;
        long ts = g.MS, rs = (long)cols * kp;
        if (Wide)
        {
            Vector512<float>* tmp = stackalloc Vector512<float>[24]; // tmp[i * 4 + j]: (A dy)[i][j]
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                float* p0 = dyt + (4L * ty * cols + 4 * tx) * kp;
                float* o = yg + (long)(tile - t0) * kp;
                for (int k = 0; k < kp; k += 16)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        float* p = p0 + k + j * kp;
                        A6(Vector512.Load(p), Vector512.Load(p + rs), Vector512.Load(p + 2 * rs), Vector512.Load(p + 3 * rs),
                            out tmp[j], out tmp[4 + j], out tmp[8 + j], out tmp[12 + j], out tmp[16 + j], out tmp[20 + j]);
                    }
                    for (int i = 0; i < 6; i++)
                    {
                        Vector512<float>* e = tmp + 4 * i;
                        A6(e[0], e[1], e[2], e[3], out var z0, out var z1, out var z2, out var z3, out var z4, out var z5);
                        float* q = o + k + 6 * i * ts;
                        z0.Store(q); z1.Store(q + ts); z2.Store(q + 2 * ts); z3.Store(q + 3 * ts); z4.Store(q + 4 * ts); z5.Store(q + 5 * ts);
                    }
                }
            }
        }
        else
        {
            Vector256<float>* tmp = stackalloc Vector256<float>[24];
            for (int tile = t0; tile < t1; tile++)
            {
                int ty = tile / g.Tw, tx = tile - ty * g.Tw;
                float* p0 = dyt + (4L * ty * cols + 4 * tx) * kp;
                float* o = yg + (long)(tile - t0) * kp;
                for (int k = 0; k < kp; k += 8)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        float* p = p0 + k + j * kp;
                        A6(Vector256.Load(p), Vector256.Load(p + rs), Vector256.Load(p + 2 * rs), Vector256.Load(p + 3 * rs),
                            out tmp[j], out tmp[4 + j], out tmp[8 + j], out tmp[12 + j], out tmp[16 + j], out tmp[20 + j]);
                    }
                    for (int i = 0; i < 6; i++)
                    {
                        Vector256<float>* e = tmp + 4 * i;
                        A6(e[0], e[1], e[2], e[3], out var z0, out var z1, out var z2, out var z3, out var z4, out var z5);
                        float* q = o + k + 6 * i * ts;
                        z0.Store(q); z1.Store(q + ts); z2.Store(q + 2 * ts); z3.Store(q + 3 * ts); z4.Store(q + 4 * ts); z5.Store(q + 5 * ts);
                    }
                }
            }
        }
    }

    /// <summary>A (y0 .. y3) for F(4x4, 3x3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void A6(Vector512<float> y0, Vector512<float> y1, Vector512<float> y2, Vector512<float> y3, out Vector512<float> z0,
        out Vector512<float> z1, out Vector512<float> z2, out Vector512<float> z3, out Vector512<float> z4, out Vector512<float> z5)
    {
        var e = y0 + y2; var o = y1 + y3;
        var e4 = Vector512.FusedMultiplyAdd(Vector512.Create(4f), y2, y0);
        var o4 = Vector512.FusedMultiplyAdd(Vector512.Create(4f), y3, y1) * Vector512.Create(2f);
        z0 = y0; z1 = e + o; z2 = e - o; z3 = e4 + o4; z4 = e4 - o4; z5 = y3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void A6(Vector256<float> y0, Vector256<float> y1, Vector256<float> y2, Vector256<float> y3, out Vector256<float> z0,
        out Vector256<float> z1, out Vector256<float> z2, out Vector256<float> z3, out Vector256<float> z4, out Vector256<float> z5)
    {
        var e = y0 + y2; var o = y1 + y3;
        var e4 = Vector256.FusedMultiplyAdd(Vector256.Create(4f), y2, y0);
        var o4 = Vector256.FusedMultiplyAdd(Vector256.Create(4f), y3, y1) * Vector256.Create(2f);
        z0 = y0; z1 = e + o; z2 = e - o; z3 = e4 + o4; z4 = e4 - o4; z5 = y3;
    }

    /// <summary>Row <paramref name="i"/> of G^T applied to the column (a0, a1, a2, a3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void GtCol(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, int i, Vector256<float> half,
        out Vector256<float> h)
    {
        var s = (a1 + a2) * half;
        h = i == 0 ? a0 + s : i == 1 ? (a1 - a2) * half : s + a3;
    }
}
