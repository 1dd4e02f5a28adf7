// Binary (XNOR-popcount) convolution and linear layers for deployment: ±1 weights and activations
// packed as BitPack lays them out, the integer dot product computed exactly, then a fused epilogue
//   z = scale[co] * dot + shift[co] (+ residual),  [z = RPReLU_co(z)],  y = act(z)   (float, rounded after each operation)
// written as NCHW floats (or [n, out] for linear), or as packed bits (y < threshold[co]) for the next
// binary layer, or both (a Bi-Real block's output feeds the next shortcut as floats and the next sign as
// bits). scale folds XNOR-Net's alpha = mean|W| and BatchNorm; shift folds BatchNorm and a bias; the
// optional per-channel RPReLU (ReActNet: prelu(z + b0, a) + b1) is the activation after the shortcut.
// The whole epilogue runs on the position-major block of z (16 channels per position, one vector), so the
// per-channel parameters are vector loads; floats are transposed into NCHW only when written.
//
// Zero padding, exactly: the planes are padded with bit 0 (+1), so the popcount sees a +1-padded
// input; each tap that falls outside the input added sum_ci w[co, ci, tap] (its "tap sum") to the
// dot product, and the epilogue subtracts the tap sums of exactly those taps. dot then equals the
// float convolution of the ±1 tensors with zero padding, as an integer:
//   dot = Kh Kw Cin - 2 popcount - sum over outside taps of tapSum[tap, co]
//
// Work is split into tasks of (sample, block of 48 positions, block of 16 output channels); the
// micro-kernels are in XnorPopcount.cs. Per-call tables and padded planes live in scratch owned by
// the calling thread, so a warm call allocates nothing.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

/// <summary>XNOR-popcount convolution (dense, any stride, padding and dilation) and linear layers on packed bits.</summary>
public static unsafe class BinaryConvKernel
{
    /// <summary>Positions per task: a multiple of every micro-kernel's row count (2, 3, 4) and of the 8 x 8 write-out; 72 so that a
    /// 7 x 7 plane (49 positions) is one task, not 48 + 1 (the second a whole tile and a task for one position).</summary>
    const int Block = 72;

    [ThreadStatic] static float[]? tableScratch;
    [ThreadStatic] static float[]? planeScratch;

    /// <summary>y = act(scale[co] * dot + shift[co] + residual) as NCHW floats, dot the exact ±1 convolution of the packed
    /// input and weights with zero padding. Null scale / shift mean 1 / 0; a default <paramref name="residual"/> (null
    /// array) means none, otherwise it is added before the activation (the Bi-Real shortcut).</summary>
    /// <param name="s">The convolution (groups 1); <paramref name="x"/> holds n samples of <see cref="BitPack.ActivationWords"/>(Cin, H, W) words.</param>
    /// <param name="n">Batch size.</param>
    /// <param name="x">Packed input.</param>
    /// <param name="w">Packed weights (<see cref="BitPack.PackConvWeights"/>) at <paramref name="wOff"/>.</param>
    /// <param name="wOff">Offset of the weights.</param>
    /// <param name="tapSums">Tap sums (<see cref="BitPack.ConvTapSums"/>) at <paramref name="tapSumsOff"/>.</param>
    /// <param name="tapSumsOff">Offset of the tap sums.</param>
    /// <param name="scale">Per output channel multiplier, or null.</param>
    /// <param name="scaleOff">Offset of the multipliers.</param>
    /// <param name="shift">Per output channel shift, or null.</param>
    /// <param name="shiftOff">Offset of the shifts.</param>
    /// <param name="y">NCHW output.</param>
    /// <param name="residual">NCHW tensor of y's shape added before the activation, or default.</param>
    public static void Forward<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y, View residual = default) where TAct : struct, IActivation
        => Forward<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, y, residual, XnorPath.Auto);

    /// <summary>As <see cref="Forward{TAct}(in Conv2dShape, int, BitView, ulong[], int, int[], int, float[], int, float[], int, View, View)"/>,
    /// but writes packed bits for the next binary layer: bit set when act(z) &lt; threshold[co] (null: 0).</summary>
    public static void ForwardPacked<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, float[]? threshold, int thresholdOff, BitView y) where TAct : struct, IActivation
        => ForwardPacked<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, y, XnorPath.Auto);

    /// <summary>Binary linear layer: y[b, o] = act(scale[o] * dot + shift[o] + residual[b, o]) over packed features
    /// (<see cref="BitPack.PackFeatures"/>) and packed weights (<see cref="BitPack.PackLinearWeights"/>).</summary>
    public static void LinearForward<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y, View residual = default) where TAct : struct, IActivation
        => LinearForward<TAct>(n, inF, outF, x, w, wOff, scale, scaleOff, shift, shiftOff, y, residual, XnorPath.Auto);

    /// <summary>Binary linear layer writing packed features: bit set when act(z) &lt; threshold[o] (null: 0).</summary>
    public static void LinearForwardPacked<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, float[]? threshold, int thresholdOff, BitView y) where TAct : struct, IActivation
        => LinearForwardPacked<TAct>(n, inF, outF, x, w, wOff, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, y, XnorPath.Auto);

    /// <summary>The general epilogue: z = scale[co] * dot + shift[co] + residual, then the per-channel RPReLU
    /// <paramref name="act"/> (default: none), then TAct; written as NCHW floats to <paramref name="y"/> (default: none)
    /// and as packed bits (set when the result &lt; threshold[co], null: 0) to <paramref name="bits"/> (default: none).
    /// At least one of the two outputs is given. Floats and bits come from the same z, so the bits are exactly the
    /// packing of the floats written.</summary>
    public static void ForwardFused<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View residual, RPReluParams act, View y,
        float[]? threshold, int thresholdOff, BitView bits) where TAct : struct, IActivation
        => ForwardFused<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, residual, act, y, threshold, thresholdOff, bits, XnorPath.Auto);

    /// <summary>The linear layer's general epilogue (see <see cref="ForwardFused{TAct}(in Conv2dShape, int, BitView, ulong[], int, int[], int, float[], int, float[], int, View, RPReluParams, View, float[], int, BitView)"/>):
    /// floats [n, outF] and / or packed features.</summary>
    public static void LinearForwardFused<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View residual, RPReluParams act, View y,
        float[]? threshold, int thresholdOff, BitView bits) where TAct : struct, IActivation
        => LinearForwardFused<TAct>(n, inF, outF, x, w, wOff, scale, scaleOff, shift, shiftOff, residual, act, y, threshold, thresholdOff, bits, XnorPath.Auto);

    // ---- Path-forcing overloads (tests and benchmarks run every path) ------------------------------

    internal static void ForwardFused<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View residual, RPReluParams act, View y,
        float[]? threshold, int thresholdOff, BitView bits, XnorPath path) where TAct : struct, IActivation
    {
        if (y.Data is null && bits.Data is null) throw new ArgumentException("Give floats, bits or both to write.", nameof(y));
        if (y.Data is not null) KernelUtil.Check(y, n, s.OutSize, nameof(y));
        if (bits.Data is not null) bits.Check(n, BitPack.ActivationWords(s.Cout, s.Ho, s.Wo), nameof(bits));
        if (residual.Data is not null) KernelUtil.Check(residual, n, s.OutSize, nameof(residual));
        var o = new Output { Y = y, Residual = residual, Bits = bits };
        Run<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, act, ref o, false, path);
    }

    internal static void LinearForwardFused<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View residual, RPReluParams act, View y,
        float[]? threshold, int thresholdOff, BitView bits, XnorPath path) where TAct : struct, IActivation
    {
        if (y.Data is null && bits.Data is null) throw new ArgumentException("Give floats, bits or both to write.", nameof(y));
        if (y.Data is not null) KernelUtil.Check(y, n, outF, nameof(y));
        if (bits.Data is not null) bits.Check(n, BitPack.Words(outF), nameof(bits));
        if (residual.Data is not null) KernelUtil.Check(residual, n, outF, nameof(residual));
        var o = new Output { Y = y, Residual = residual, Bits = bits };
        Run<TAct>(BitPack.LinearShape(inF, outF), n, x, w, wOff, null, 0, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, act, ref o, true, path);
    }

    internal static void Forward<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y, View residual, XnorPath path) where TAct : struct, IActivation
    {
        KernelUtil.Check(y, n, s.OutSize, nameof(y));
        if (residual.Data is not null) KernelUtil.Check(residual, n, s.OutSize, nameof(residual));
        var o = new Output { Y = y, Residual = residual };
        Run<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, null, 0, default, ref o, false, path);
    }

    internal static void ForwardPacked<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[] tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, float[]? threshold, int thresholdOff, BitView y, XnorPath path)
        where TAct : struct, IActivation
    {
        y.Check(n, BitPack.ActivationWords(s.Cout, s.Ho, s.Wo), nameof(y));
        var o = new Output { Bits = y };
        Run<TAct>(s, n, x, w, wOff, tapSums, tapSumsOff, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, default, ref o, false, path);
    }

    internal static void LinearForward<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y, View residual, XnorPath path) where TAct : struct, IActivation
    {
        KernelUtil.Check(y, n, outF, nameof(y));
        if (residual.Data is not null) KernelUtil.Check(residual, n, outF, nameof(residual));
        var o = new Output { Y = y, Residual = residual };
        Run<TAct>(BitPack.LinearShape(inF, outF), n, x, w, wOff, null, 0, scale, scaleOff, shift, shiftOff, null, 0, default, ref o, true, path);
    }

    internal static void LinearForwardPacked<TAct>(int n, int inF, int outF, BitView x, ulong[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, float[]? threshold, int thresholdOff, BitView y, XnorPath path)
        where TAct : struct, IActivation
    {
        y.Check(n, BitPack.Words(outF), nameof(y));
        var o = new Output { Bits = y };
        Run<TAct>(BitPack.LinearShape(inF, outF), n, x, w, wOff, null, 0, scale, scaleOff, shift, shiftOff, threshold, thresholdOff, default, ref o, true, path);
    }

    /// <summary>Where results go: floats (Y), bits, or both; the optional Residual is added before the activation.</summary>
    struct Output
    {
        public View Y, Residual;
        public BitView Bits;
        public readonly bool Packed => Bits.Data is not null;
        public readonly bool Floats => Y.Data is not null;
    }

    static int Align16(int floats) => (floats + 15) & ~15;

    /// <summary>Validates, builds the offset tables and padded planes, and runs the tasks. For a linear layer the batch
    /// is one "sample" whose positions are the rows (1 x 1 taps, no padding).</summary>
    static void Run<TAct>(in Conv2dShape s, int n, BitView x, ulong[] w, int wOff, int[]? tapSums, int tapSumsOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, float[]? threshold, int thresholdOff, RPReluParams act, ref Output o, bool linear,
        XnorPath path) where TAct : struct, IActivation
    {
        if (s.Groups != 1) throw new ArgumentException("Binary convolutions are dense (groups = 1).", nameof(s));
        if (s.Ho <= 0 || s.Wo <= 0) throw new ArgumentException($"The convolution has no output positions ({s.Ho} x {s.Wo}).", nameof(s));
        int wc = BitPack.Words(s.Cin), taps = s.Kh * s.Kw, kw = taps * wc, cout16 = BitPack.PaddedChannels(s.Cout);
        bool padded = s.PadH > 0 || s.PadW > 0;
        if (padded && taps > 64) throw new NotSupportedException("Zero padding is supported for kernels of at most 64 taps.");
        if (w is null) throw new ArgumentNullException(nameof(w));
        if (wOff < 0 || (long)wOff + BitPack.ConvWeightWords(s) > w.Length) throw new ArgumentException("Packed weights out of range.", nameof(w));
        if (padded)
        {
            if (tapSums is null) throw new ArgumentNullException(nameof(tapSums), "A zero-padded binary convolution needs its tap sums.");
            if (tapSumsOff < 0 || (long)tapSumsOff + BitPack.TapSumCount(s) > tapSums.Length) throw new ArgumentException("Tap sums out of range.", nameof(tapSums));
        }
        if (scale is not null) KernelUtil.Check(scale, scaleOff, s.Cout, nameof(scale));
        if (shift is not null) KernelUtil.Check(shift, shiftOff, s.Cout, nameof(shift));
        if (threshold is not null) KernelUtil.Check(threshold, thresholdOff, s.Cout, nameof(threshold));
        if (act.P is not null)
        {
            KernelUtil.Check(act.P, act.B0Off, s.Cout, nameof(act));
            KernelUtil.Check(act.P, act.SlopeOff, s.Cout, nameof(act));
            KernelUtil.Check(act.P, act.B1Off, s.Cout, nameof(act));
        }
        x.Check(n, linear ? wc : BitPack.ActivationWords(s.Cin, s.H, s.W), nameof(x));
        if (n == 0) return;
        path = XnorPopcount.Resolve(path, kw);

        int samples = linear ? 1 : n, positions = linear ? n : s.Ho * s.Wo;
        int hp = s.H + 2 * s.PadH, wp = s.W + 2 * s.PadW;
        long planeWords = (long)hp * wp * wc;
        // Tables: posOff[positions] ints, kOff[kw] ints, invalid[positions] ulongs (padded only), scale/shift/threshold and
        // RPReLU's b0/slope/b1 x cout16.
        int tPos = 0, tK = tPos + Align16(positions), tInv = tK + Align16(kw), tScale = tInv + (padded ? Align16(2 * positions) : 0);
        int tShift = tScale + cout16, tThr = tShift + cout16, tAct = tThr + cout16, tableFloats = tAct + 3 * cout16;
        var table = Scratch.Get(ref tableScratch, tableFloats + 16);
        var planes = padded ? Scratch.Get(ref planeScratch, (int)Math.Min(int.MaxValue - 64, 2 * planeWords * n + 16)) : null;
        if (padded && 2 * planeWords * n + 16 > int.MaxValue - 64) throw new ArgumentException("The padded input is too large.", nameof(x));

        fixed (ulong* px = x.Data, pw = w)
        fixed (int* pts = tapSums)
        fixed (float* psc = scale, psh = shift, pth = threshold, pa = act.P)
        fixed (float* py = o.Y.Data, pr = o.Residual.Data)
        fixed (ulong* pyb = o.Bits.Data)
        {
            float* tb = Scratch.Aligned(table);
            int* posOff = (int*)(tb + tPos), kOff = (int*)(tb + tK);
            ulong* invalid = padded ? (ulong*)(tb + tInv) : null;
            float* sc16 = tb + tScale, sh16 = tb + tShift, th16 = tb + tThr, b016 = tb + tAct, a16 = b016 + cout16, b116 = a16 + cout16;
            for (int c = 0; c < cout16; c++)
            {
                bool real = c < s.Cout;
                sc16[c] = real && psc != null ? psc[scaleOff + c] : 1f;
                sh16[c] = real && psh != null ? psh[shiftOff + c] : 0f;
                th16[c] = real && pth != null ? pth[thresholdOff + c] : 0f;
                b016[c] = real && pa != null ? pa[act.B0Off + c] : 0f;
                a16[c] = real && pa != null ? pa[act.SlopeOff + c] : 0f;
                b116[c] = real && pa != null ? pa[act.B1Off + c] : 0f;
            }

            var job = new Job<TAct>
            {
                Path = path, Kw = kw, Positions = positions, Cobs = cout16 / BitPack.Lanes, Cout = s.Cout, Cout16 = cout16,
                Full = taps * s.Cin, W = pw + wOff, TapSums = pts == null ? null : pts + tapSumsOff,
                PosOff = posOff, KOff = kOff, Invalid = invalid, Scale = sc16, Shift = sh16, Threshold = th16,
                B0 = pa == null ? null : b016, Slope = a16, B1 = b116, Linear = linear,
                // The 512-bit epilogue goes with the 512-bit popcount path, so forcing the AVX2 paths tests the 256-bit one.
                Wide = Vector512.IsHardwareAccelerated && path == XnorPath.Avx512,
            };
            if (linear)
            {
                job.Act = px + x.Offset;
                job.ActStride = 0;
                for (int p = 0; p < positions; p++) posOff[p] = p * x.BatchStride;
                for (int j = 0; j < kw; j++) kOff[j] = j;
            }
            else
            {
                // Taps outside the input: those of rows outside (a mask per output row) or columns outside (per output column).
                ulong* rowMask = stackalloc ulong[padded ? s.Ho : 1], colMask = stackalloc ulong[padded ? s.Wo : 1];
                if (padded)
                {
                    for (int oy = 0; oy < s.Ho; oy++)
                    {
                        ulong m = 0;
                        for (int kh = 0; kh < s.Kh; kh++)
                        {
                            int iy = oy * s.StrideH - s.PadH + kh * s.DilH;
                            if (iy < 0 || iy >= s.H) m |= (s.Kw == 64 ? ulong.MaxValue : (1UL << s.Kw) - 1) << (kh * s.Kw);
                        }
                        rowMask[oy] = m;
                    }
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        ulong m = 0;
                        for (int kx = 0; kx < s.Kw; kx++)
                        {
                            int ix = ox * s.StrideW - s.PadW + kx * s.DilW;
                            if (ix < 0 || ix >= s.W)
                                for (int kh = 0; kh < s.Kh; kh++) m |= 1UL << (kh * s.Kw + kx);
                        }
                        colMask[ox] = m;
                    }
                }
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        int p = oy * s.Wo + ox;
                        posOff[p] = (oy * s.StrideH * wp + ox * s.StrideW) * wc;
                        if (padded) invalid[p] = rowMask[oy] | colMask[ox];
                    }
                for (int kh = 0; kh < s.Kh; kh++)
                    for (int kx = 0; kx < s.Kw; kx++)
                        for (int j = 0; j < wc; j++)
                            kOff[(kh * s.Kw + kx) * wc + j] = (kh * s.DilH * wp + kx * s.DilW) * wc + j;
                if (padded)
                {
                    ulong* pl = (ulong*)Scratch.Aligned(planes!);
                    var fill = new PlaneJob { X = px + x.Offset, XStride = x.BatchStride, Planes = pl, PlaneWords = planeWords, S = s, Wc = wc };
                    if (n > 1 && planeWords * n > 16384) WorkerPool.For(n, ref fill);
                    else for (int b = 0; b < n; b++) fill.Run(b);
                    job.Act = pl;
                    job.ActStride = planeWords;
                }
                else
                {
                    job.Act = px + x.Offset;
                    job.ActStride = x.BatchStride;
                }
            }

            job.YCh = linear ? 1 : positions;
            if (o.Packed)
            {
                job.Bits = pyb + o.Bits.Offset;
                // Conv: sample b, position p at b * stride + p * words; linear: row p at p * stride.
                job.BitsSample = linear ? 0 : o.Bits.BatchStride;
                job.BitsPos = linear ? o.Bits.BatchStride : BitPack.Words(s.Cout);
            }
            if (o.Floats)
            {
                job.Y = py + o.Y.Offset;
                job.YSample = linear ? 0 : o.Y.BatchStride;
                job.YPos = linear ? o.Y.BatchStride : 1;
            }
            if (pr != null)
            {
                job.Res = pr + o.Residual.Offset;
                job.RSample = linear ? 0 : o.Residual.BatchStride;
                job.RPos = linear ? o.Residual.BatchStride : 1;
            }
            job.Blocks = (positions + Block - 1) / Block;
            int tasks = samples * job.Blocks * job.Cobs;
            if (tasks == 1 || (long)samples * positions * cout16 * kw < 4096) for (int t = 0; t < tasks; t++) job.Run(t);
            else WorkerPool.For(tasks, ref job);
        }
    }

    /// <summary>Copies one sample into its zero-bit (+1) padded plane.</summary>
    struct PlaneJob : IParallelJob
    {
        public ulong* X, Planes;
        public long XStride, PlaneWords;
        public Conv2dShape S;
        public int Wc;

        public void Run(int b)
        {
            ulong* src = X + b * XStride, dst = Planes + b * PlaneWords;
            int wp = S.W + 2 * S.PadW, rowWords = wp * Wc, hp = S.H + 2 * S.PadH;
            new Span<ulong>(dst, S.PadH * rowWords).Clear();
            for (int r = 0; r < S.H; r++)
            {
                ulong* d = dst + (long)(S.PadH + r) * rowWords;
                new Span<ulong>(d, S.PadW * Wc).Clear();
                new ReadOnlySpan<ulong>(src + (long)r * S.W * Wc, S.W * Wc).CopyTo(new Span<ulong>(d + S.PadW * Wc, S.W * Wc));
                new Span<ulong>(d + (S.PadW + S.W) * Wc, S.PadW * Wc).Clear();
            }
            new Span<ulong>(dst + (long)(S.PadH + S.H) * rowWords, (hp - S.PadH - S.H) * rowWords).Clear();
        }
    }

    /// <summary>One task per (sample, block of positions, block of 16 output channels).</summary>
    struct Job<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public XnorPath Path;
        public ulong* Act, W, Invalid, Bits;
        public long ActStride, BitsSample, BitsPos, YSample, YPos, YCh, RSample, RPos;
        public int* PosOff, KOff, TapSums;
        public float* Scale, Shift, Threshold, Y, Res, B0, Slope, B1;
        public int Kw, Positions, Blocks, Cobs, Cout, Cout16, Full;
        public bool Linear, Wide;

        [SkipLocalsInit]
        public void Run(int index)
        {
            int cob = index % Cobs, rest = index / Cobs;
            int pb = rest % Blocks, b = rest / Blocks;
            int p0 = pb * Block, np = Math.Min(Block, Positions - p0);
            int* pop = stackalloc int[(Block + 4) * BitPack.Lanes];
            float* z = stackalloc float[Block * BitPack.Lanes + 16];
            ulong* act = Act + b * ActStride;
            ulong* wb = W + (long)cob * Kw * BitPack.Lanes;
            int mr = XnorPopcount.Rows(Path, Kw);
            for (int i = 0; i < np; i += mr)
                XnorPopcount.Tile(Path, act, PosOff + p0 + i, Math.Min(mr, np - i), KOff, Kw, wb, pop + i * BitPack.Lanes);

            // z = scale * dot + shift, 16 channels per position; dot = Full - 2 pop - tap sums of taps outside the input.
            int c0 = cob * BitPack.Lanes;
            if (Wide) Scale512(pop, z, p0, np, c0);
            else Scale256(pop, z, p0, np, c0);
            int cn = Math.Min(BitPack.Lanes, Cout - c0);
            if (Res != null)
            {
                if (Linear) AddRows(z, p0, np, c0, cn);
                else AddPlanes(z, b, p0, np, c0, cn);
            }
            if (B0 != null || typeof(TAct) != typeof(Identity))
            {
                if (Wide) Activate512(z, np, c0);
                else Activate256(z, np, c0);
            }
            if (Bits != null) WriteBits(z, b, p0, np, c0, cn);
            if (Y != null)
            {
                if (Linear) WriteRows(z, p0, np, c0, cn);
                else WritePlanes(z, b, p0, np, c0, cn);
            }
        }

        /// <summary>z for the block's 16 channels, one 512-bit vector per position.</summary>
        readonly void Scale512(int* pop, float* z, int p0, int np, int c0)
        {
            var sc = Vector512.Load(Scale + c0); var sh = Vector512.Load(Shift + c0);
            var full = Vector512.Create(Full);
            for (int i = 0; i < np; i++)
            {
                var d = full - (Vector512.Load(pop + i * 16) << 1);
                if (Invalid != null)
                {
                    ulong m = Invalid[p0 + i];
                    while (m != 0)
                    {
                        int t = System.Numerics.BitOperations.TrailingZeroCount(m);
                        m &= m - 1;
                        d -= Vector512.Load(TapSums + (long)t * Cout16 + c0);
                    }
                }
                // A multiply then an add, not a fused multiply-add: the ILGPU kernels compute the same two roundings, so
                // CPU and GPU agree bit for bit (dot itself is exact on both).
                (Vector512.ConvertToSingle(d) * sc + sh).Store(z + i * 16);
            }
        }

        /// <summary>z for the block's 16 channels, two 256-bit vectors per position.</summary>
        readonly void Scale256(int* pop, float* z, int p0, int np, int c0)
        {
            var sc0 = Vector256.Load(Scale + c0); var sc1 = Vector256.Load(Scale + c0 + 8);
            var sh0 = Vector256.Load(Shift + c0); var sh1 = Vector256.Load(Shift + c0 + 8);
            var full = Vector256.Create(Full);
            for (int i = 0; i < np; i++)
            {
                var d0 = full - (Vector256.Load(pop + i * 16) << 1);
                var d1 = full - (Vector256.Load(pop + i * 16 + 8) << 1);
                if (Invalid != null)
                {
                    ulong m = Invalid[p0 + i];
                    while (m != 0)
                    {
                        int t = System.Numerics.BitOperations.TrailingZeroCount(m);
                        m &= m - 1;
                        int* ts = TapSums + (long)t * Cout16 + c0;
                        d0 -= Vector256.Load(ts);
                        d1 -= Vector256.Load(ts + 8);
                    }
                }
                (Vector256.ConvertToSingle(d0) * sc0 + sh0).Store(z + i * 16);
                (Vector256.ConvertToSingle(d1) * sc1 + sh1).Store(z + i * 16 + 8);
            }
        }

        /// <summary>Linear: z += residual rows (channels contiguous).</summary>
        readonly void AddRows(float* z, int p0, int np, int c0, int cn)
        {
            for (int i = 0; i < np; i++)
            {
                float* r = Res + (p0 + i) * RPos + c0;
                for (int c = 0; c < cn; c++) z[i * 16 + c] += r[c];
            }
        }

        /// <summary>Conv: z += the NCHW residual, its channel rows turned into position rows by 8 x 8 transposes.</summary>
        readonly void AddPlanes(float* z, int b, int p0, int np, int c0, int cn)
        {
            float* r = Res + b * RSample + (long)c0 * YCh + p0;
            int p8 = Avx.IsSupported ? np & ~7 : 0, cn8 = p8 > 0 ? cn & ~7 : 0;
            for (int h = 0; h < cn8; h += 8)
                for (int i = 0; i < p8; i += 8)
                {
                    float* s = r + h * YCh + i;
                    var v0 = Vector256.Load(s); var v1 = Vector256.Load(s + YCh); var v2 = Vector256.Load(s + 2 * YCh); var v3 = Vector256.Load(s + 3 * YCh);
                    var v4 = Vector256.Load(s + 4 * YCh); var v5 = Vector256.Load(s + 5 * YCh); var v6 = Vector256.Load(s + 6 * YCh); var v7 = Vector256.Load(s + 7 * YCh);
                    GemmCore.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                    float* d = z + i * 16 + h;
                    (Vector256.Load(d) + v0).Store(d); (Vector256.Load(d + 16) + v1).Store(d + 16);
                    (Vector256.Load(d + 32) + v2).Store(d + 32); (Vector256.Load(d + 48) + v3).Store(d + 48);
                    (Vector256.Load(d + 64) + v4).Store(d + 64); (Vector256.Load(d + 80) + v5).Store(d + 80);
                    (Vector256.Load(d + 96) + v6).Store(d + 96); (Vector256.Load(d + 112) + v7).Store(d + 112);
                }
            for (int c = 0; c < cn; c++)
                for (int i = c < cn8 ? p8 : 0; i < np; i++) z[i * 16 + c] += r[c * YCh + i];
        }

        /// <summary>z = TAct(RPReLU(z)) (RPReLU when B0 is set: (u &gt; 0 ? u : a u) + b1, u = z + b0, as BinaryActivationKernel
        /// rounds it), 16 channels per position in one 512-bit vector.</summary>
        readonly void Activate512(float* z, int np, int c0)
        {
            bool rp = B0 != null;
            var b0 = rp ? Vector512.Load(B0 + c0) : default; var a = rp ? Vector512.Load(Slope + c0) : default; var b1 = rp ? Vector512.Load(B1 + c0) : default;
            for (int i = 0; i < np; i++)
            {
                var v = Vector512.Load(z + i * 16);
                if (rp)
                {
                    var u = v + b0;
                    v = Vector512.ConditionalSelect(Vector512.GreaterThan(u, Vector512<float>.Zero), u, u * a) + b1;
                }
                default(TAct).Apply(v).Store(z + i * 16);
            }
        }

        /// <summary>As <see cref="Activate512"/>, two 256-bit vectors per position.</summary>
        readonly void Activate256(float* z, int np, int c0)
        {
            bool rp = B0 != null;
            for (int h = 0; h < 16; h += 8)
            {
                var b0 = rp ? Vector256.Load(B0 + c0 + h) : default; var a = rp ? Vector256.Load(Slope + c0 + h) : default; var b1 = rp ? Vector256.Load(B1 + c0 + h) : default;
                for (int i = 0; i < np; i++)
                {
                    var v = Vector256.Load(z + i * 16 + h);
                    if (rp)
                    {
                        var u = v + b0;
                        v = Vector256.ConditionalSelect(Vector256.GreaterThan(u, Vector256<float>.Zero), u, u * a) + b1;
                    }
                    default(TAct).Apply(v).Store(z + i * 16 + h);
                }
            }
        }

        /// <summary>Bit set when z &lt; threshold; lanes past Cout stay 0. Each block owns one 16-bit quarter of a word.</summary>
        readonly void WriteBits(float* z, int b, int p0, int np, int c0, int cn)
        {
            var t0 = Vector256.Load(Threshold + c0); var t1 = Vector256.Load(Threshold + c0 + 8);
            uint keep = cn >= 16 ? 0xFFFFu : (1u << cn) - 1;
            ulong* bits = Bits + b * BitsSample;
            int word = c0 >> 6, quarter = (c0 >> 4) & 3;
            for (int i = 0; i < np; i++)
            {
                uint m0 = Vector256.LessThan(Vector256.Load(z + i * 16), t0).ExtractMostSignificantBits();
                uint m1 = Vector256.LessThan(Vector256.Load(z + i * 16 + 8), t1).ExtractMostSignificantBits();
                ((ushort*)(bits + (p0 + i) * BitsPos + word))[quarter] = (ushort)((m0 | (m1 << 8)) & keep);
            }
            // The quarters past the last block belong to no block: clear them, or whatever the buffer held there (an arena
            // reused between layers) would count as -1 activations in the next layer's popcount.
            if (c0 + BitPack.Lanes >= Cout && quarter < 3)
                for (int i = 0; i < np; i++)
                    for (int q = quarter + 1; q < 4; q++) ((ushort*)(bits + (p0 + i) * BitsPos + word))[q] = 0;
        }

        /// <summary>Linear: rows are samples, channels contiguous.</summary>
        readonly void WriteRows(float* z, int p0, int np, int c0, int cn)
        {
            for (int i = 0; i < np; i++)
            {
                float* y = Y + (p0 + i) * YPos + c0;
                for (int c = 0; c < cn; c++) y[c] = z[i * 16 + c];
            }
        }

        /// <summary>Conv: NCHW planes, positions contiguous; 8 x 8 transposes turn position rows into channel rows.</summary>
        readonly void WritePlanes(float* z, int b, int p0, int np, int c0, int cn)
        {
            float* y = Y + b * YSample + (long)c0 * YCh + p0;
            int p8 = Avx.IsSupported ? np & ~7 : 0;
            for (int h = 0; h < 16 && h < cn; h += 8)
                for (int i = 0; i < p8; i += 8)
                {
                    float* s = z + i * 16 + h;
                    var v0 = Vector256.Load(s); var v1 = Vector256.Load(s + 16); var v2 = Vector256.Load(s + 32); var v3 = Vector256.Load(s + 48);
                    var v4 = Vector256.Load(s + 64); var v5 = Vector256.Load(s + 80); var v6 = Vector256.Load(s + 96); var v7 = Vector256.Load(s + 112);
                    GemmCore.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                    long at = (long)h * YCh + i;
                    Put(v0, y, at, 0, cn - h); Put(v1, y, at + YCh, 1, cn - h);
                    Put(v2, y, at + 2 * YCh, 2, cn - h); Put(v3, y, at + 3 * YCh, 3, cn - h);
                    Put(v4, y, at + 4 * YCh, 4, cn - h); Put(v5, y, at + 5 * YCh, 5, cn - h);
                    Put(v6, y, at + 6 * YCh, 6, cn - h); Put(v7, y, at + 7 * YCh, 7, cn - h);
                }
            for (int c = 0; c < cn; c++)
                for (int i = p8; i < np; i++) y[c * YCh + i] = z[i * 16 + c];
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Put(Vector256<float> v, float* y, long at, int c, int cn)
        {
            if (c < cn) v.Store(y + at);
        }
    }
}

/// <summary>The per-channel RPReLU of a binary layer's epilogue: y = prelu(z + b0[c], a[c]) + b1[c], its three vectors at
/// offsets of one array (the generated code's parameter array). Default: none.</summary>
public readonly struct RPReluParams(float[]? p, int b0Off, int slopeOff, int b1Off)
{
    /// <summary>The array holding the three vectors, or null for none.</summary>
    public readonly float[]? P = p;
    /// <summary>Offset of b0 (added before the PReLU).</summary>
    public readonly int B0Off = b0Off;
    /// <summary>Offset of the slopes of the negative part.</summary>
    public readonly int SlopeOff = slopeOff;
    /// <summary>Offset of b1 (added after).</summary>
    public readonly int B1Off = b1Off;
}
