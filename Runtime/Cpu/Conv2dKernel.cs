// 2-D convolution. Dense and grouped convolutions take the direct implicit-GEMM kernels
// (ConvDirect.cs: padded planes read through offset tables, no im2col) where their output channels
// fill its tiles, for the forward pass, the weight gradient and the stride-1 data gradient; the
// rest (few channels, strided data gradients, 1x1 at small batches, AVX-512 machines) run im2col +
// GEMM per sample (a 1x1 stride-1 unpadded conv is a GEMM on the sample itself), parallel over the
// batch with per-thread column buffers. Pointwise ones (1x1, stride 1, unpadded) from 4 samples take
// PointwiseConv.cs for the forward and data passes: the same GEMM in NCHW with the epilogue applied to
// its accumulators, where the direct kernels transpose their tiles. Depthwise convolutions have their own direct kernels
// (DepthwiseConv.cs). Weight gradients are summed per fixed chunk of the batch and reduced in chunk
// order, so results do not depend on scheduling.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Which implementation a dense or grouped convolution takes (depthwise ones have their own).</summary>
internal enum ConvPath
{
    /// <summary>Chosen by shape.</summary>
    Auto,
    /// <summary><see cref="ConvDirect"/> wherever it applies.</summary>
    Direct,
    /// <summary>im2col + GEMM (or the GEMM on the sample itself for 1 x 1).</summary>
    Im2Col,
    /// <summary><see cref="Winograd"/> F(2x2, 3x3) where it applies (3 x 3, stride 1), else as <see cref="Auto"/>.</summary>
    Winograd,
    /// <summary><see cref="Winograd"/> F(4x4, 3x3) where it applies, else as <see cref="Auto"/>.</summary>
    Winograd4,
    /// <summary><see cref="PointwiseConv"/> where it applies (1 x 1, stride 1, unpadded), else as <see cref="Auto"/>.</summary>
    Pointwise,
}

/// <summary>2-D convolution (including grouped and depthwise).</summary>
public static unsafe partial class Conv2dKernel
{
    [ThreadStatic] static float[]? colScratch;
    [ThreadStatic] static float[]? partialScratch;
    [ThreadStatic] static float[]? rowScratch;

    /// <summary>y = act(scale[co] * conv(x, w)[co] + shift[co]).</summary>
    public static void Forward<TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
        => Forward<TAct>(s, n, x, w, wOff, scale, scaleOff, shift, shiftOff, y, ConvPath.Auto);

    /// <summary><see cref="Forward{TAct}(in Conv2dShape, int, View, float[], int, float[], int, float[], int, View)"/>
    /// on a chosen path (tests run every shape through each).</summary>
    internal static void Forward<TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y, ConvPath path) where TAct : struct, IActivation
    {
        Validate(s, n, x, y, w, wOff, "y");
        if (scale is not null) KernelUtil.Check(scale, scaleOff, s.Cout, nameof(scale));
        if (shift is not null) KernelUtil.Check(shift, shiftOff, s.Cout, nameof(shift));
        if (n == 0) return;
        if (s.IsDepthwise) { DepthwiseConv.Forward<TAct>(s, n, x, w, wOff, scale, scaleOff, shift, shiftOff, y); return; }
        fixed (float* px = x.Data, pw = w, py = y.Data, psc = scale, psh = shift)
        {
            if (WinogradTile(path, s, n, Pass.Forward) is int tile and > 0)
            {
                Winograd.Forward<Identity, TAct>(s, n, px + x.Offset, x.BatchStride, default, pw + wOff,
                    new ConvEpi { Scale = psc == null ? null : psc + scaleOff, Shift = psh == null ? null : psh + shiftOff }, null, 0,
                    py + y.Offset, y.BatchStride, null, tile);
                return;
            }
            if (UsePointwise(path, s, n))
            {
                PointwiseConv.Forward<TAct>(s, n, px + x.Offset, x.BatchStride, pw + wOff,
                    new ConvEpi { Scale = psc == null ? null : psc + scaleOff, Shift = psh == null ? null : psh + shiftOff }, null, 0,
                    py + y.Offset, y.BatchStride, null);
                return;
            }
            if (UseDirect(path, true, ConvDirect.Fits(s.Cout / s.Groups) && (!IsPointwise(s) || n >= PointwiseDirectBatch)))
            {
                ConvDirect.Forward<TAct>(s, n, px + x.Offset, x.BatchStride, pw + wOff, psc == null ? null : psc + scaleOff,
                    psh == null ? null : psh + shiftOff, py + y.Offset, y.BatchStride);
                return;
            }
            var job = new ForwardJob<TAct>
            {
                S = s, X = px + x.Offset, XStride = x.BatchStride, W = pw + wOff, Y = py + y.Offset, YStride = y.BatchStride,
                Scale = psc == null ? null : psc + scaleOff, Shift = psh == null ? null : psh + shiftOff,
            };
            RunOverBatch(n, ref job, ref job.ParallelGemm, Flops(s, n));
        }
    }

    /// <summary>Multiply-adds times 2 of one pass of the convolution over <paramref name="n"/> samples.</summary>
    static long Flops(in Conv2dShape s, int n) => 2L * n * s.OutSize * (s.Cin / s.Groups) * s.Kh * s.Kw;

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = conv_transpose(dy, w).</summary>
    public static void BackwardData(in Conv2dShape s, int n, View dy, float[] w, int wOff, View dx, bool accumulate)
        => BackwardData(s, n, dy, w, wOff, dx, accumulate, ConvPath.Auto);

    /// <summary><see cref="BackwardData(in Conv2dShape, int, View, float[], int, View, bool)"/> on a chosen path.</summary>
    internal static void BackwardData(in Conv2dShape s, int n, View dy, float[] w, int wOff, View dx, bool accumulate, ConvPath path)
    {
        Validate(s, n, dx, dy, w, wOff, "dy");
        if (n == 0) return;
        if (s.IsDepthwise) { DepthwiseConv.BackwardData(s, n, dy, w, wOff, dx, accumulate); return; }
        fixed (float* pdy = dy.Data, pw = w, pdx = dx.Data)
        {
            if (WinogradTile(path, s, n, Pass.Data) is int tile and > 0)
            {
                Winograd.BackwardData(s, n, pdy + dy.Offset, dy.BatchStride, pw + wOff, pdx + dx.Offset, dx.BatchStride, accumulate, tile);
                return;
            }
            if (UsePointwise(path, s, n))
            {
                PointwiseConv.BackwardData(s, n, pdy + dy.Offset, dy.BatchStride, pw + wOff, pdx + dx.Offset, dx.BatchStride, accumulate);
                return;
            }
            if (UseDirect(path, s.StrideH == 1 && s.StrideW == 1, ConvDirect.Fits(s.Cin / s.Groups) && (!IsPointwise(s) || n >= PointwiseDirectBatch)))
            {
                ConvDirect.BackwardData(s, n, pdy + dy.Offset, dy.BatchStride, pw + wOff, pdx + dx.Offset, dx.BatchStride, accumulate);
                return;
            }
            var job = new BackwardDataJob
            {
                S = s, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, W = pw + wOff, Dx = pdx + dx.Offset,
                DxStride = dx.BatchStride, Accumulate = accumulate,
            };
            RunOverBatch(n, ref job, ref job.ParallelGemm, Flops(s, n));
        }
    }

    /// <summary>dw += sum over the batch of the correlation of x with dy.</summary>
    public static void BackwardWeights(in Conv2dShape s, int n, View x, View dy, float[] dw, int dwOff)
        => BackwardWeights(s, n, x, dy, dw, dwOff, ConvPath.Auto);

    /// <summary><see cref="BackwardWeights(in Conv2dShape, int, View, View, float[], int)"/> on a chosen path.</summary>
    internal static void BackwardWeights(in Conv2dShape s, int n, View x, View dy, float[] dw, int dwOff, ConvPath path)
    {
        Validate(s, n, x, dy, dw, dwOff, "dy");
        if (n == 0) return;
        if (s.IsDepthwise) { DepthwiseConv.BackwardWeights(s, n, x, dy, dw, dwOff); return; }
        if (WinogradTile(path, s, n, Pass.Weights) is int tile and > 0)
        {
            fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
                Winograd.BackwardWeights<Identity>(s, n, px + x.Offset, x.BatchStride, default, pdy + dy.Offset, dy.BatchStride, pdw + dwOff, tile);
            return;
        }
        if (UseDirect(path, true, ConvDirect.Fits(s.Cout / s.Groups) && !IsPointwise(s)))
        {
            fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
                ConvDirect.BackwardWeights(s, n, px + x.Offset, x.BatchStride, pdy + dy.Offset, dy.BatchStride, pdw + dwOff);
            return;
        }
        int threads = WorkerPool.InsideJob || Flops(s, n) < WorkerPool.MinParallelFlops ? 1 : WorkerPool.ThreadCount;
        int chunks = Math.Min(n, threads);
        int ws = s.WeightSize;
        fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
        {
            float[]? partial = chunks > 1 ? Scratch.Get(ref partialScratch, chunks * ws) : null;
            fixed (float* pp = partial)
            {
                var job = new BackwardWeightsJob
                {
                    S = s, N = n, Chunks = chunks, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset,
                    DyStride = dy.BatchStride, Dw = pdw + dwOff, Partial = pp, ParallelGemm = chunks == 1,
                };
                WorkerPool.For(chunks, ref job);
                if (chunks > 1)
                {
                    // Reduce in chunk order: the sum is the same whichever thread ran which chunk.
                    var acc = new Span<float>(pdw + dwOff, ws);
                    for (int c = 0; c < chunks; c++)
                        System.Numerics.Tensors.TensorPrimitives.Add(acc, new ReadOnlySpan<float>(pp + (long)c * ws, ws), acc);
                }
            }
        }
    }

    static void Validate(in Conv2dShape s, int n, in View input, in View output, float[] w, int wOff, string outName)
    {
        if (s.Groups <= 0 || s.Cin % s.Groups != 0 || s.Cout % s.Groups != 0)
            throw new ArgumentException($"Channels {s.Cin} -> {s.Cout} are not divisible by {s.Groups} groups.");
        if (s.Kh <= 0 || s.Kw <= 0 || s.StrideH <= 0 || s.StrideW <= 0 || s.DilH <= 0 || s.DilW <= 0 || s.PadH < 0 || s.PadW < 0 || s.Ho <= 0 || s.Wo <= 0)
            throw new ArgumentException($"Invalid convolution shape {s}.");
        KernelUtil.Check(input, n, s.InSize, "x");
        KernelUtil.Check(output, n, s.OutSize, outName);
        KernelUtil.Check(w, wOff, s.WeightSize, "w");
    }

    /// <summary>Samples in parallel with serial GEMMs when there are enough of them; otherwise one sample at a time with parallel GEMMs.</summary>
    static void RunOverBatch<TJob>(int n, ref TJob job, ref bool parallelGemm, long flops) where TJob : struct, IParallelJob
    {
        if (n >= 2 && WorkerPool.ThreadCount > 1 && !WorkerPool.InsideJob && flops >= WorkerPool.MinParallelFlops)
        {
            parallelGemm = false;
            WorkerPool.For(n, ref job);
        }
        else
        {
            // One sample, or too little work to share out: the samples in turn, each GEMM spread over
            // the threads only where it is big enough on its own (GemmCore.Run decides).
            parallelGemm = !WorkerPool.InsideJob;
            for (int b = 0; b < n; b++) job.Run(b);
        }
    }

    /// <summary>The direct path where it applies (<paramref name="applies"/>: the data gradient needs
    /// stride 1) and is asked for, or on <see cref="ConvPath.Auto"/> where it is expected to be faster
    /// (<paramref name="preferred"/>: enough output channels per group to fill its tiles, and for
    /// 1 x 1 a batch that amortises packing the weights).</summary>
    static bool UseDirect(ConvPath path, bool applies, bool preferred) => applies && ConvDirect.Available && path switch
    {
        ConvPath.Direct => true,
        ConvPath.Im2Col => false,
        _ => preferred,
    };

    /// <summary><see cref="PointwiseConv"/> for the pointwise shapes it takes, when asked for, or on <see cref="ConvPath.Auto"/>
    /// from <see cref="PointwiseDirectBatch"/> samples (below, packing the weights per call is not amortised: lab pointwise1,
    /// 64 -> 128 at 14 x 14, batch 1, cpu us per core: forward 30 against im2col + GEMM's 23, data gradient 30 against 26;
    /// batch 64 in the remarks).</summary>
    /// <remarks>Lab pointwise, batch 64, 2026-12-03 (load 21-26, cpu us per core, pointwise / direct / im2col): AVX-512
    /// 64 -> 128 forward with BatchNorm + ReLU folded 1666 / 1945 / 1741, forward taking the next BatchNorm's statistics
    /// 1591 / 2055 / 2054, data gradient 1481 / 1553 / 1881; 24 -> 36: 213 / 643 / 229, 240 / 444 / 276, 178 / 225 / 195;
    /// 32 -> 32: 224 / 270 / 283, 250 / 295 / 324, 207 / 212 / 259. AVX2 64 -> 128: 2957 / 3263 / 3117, 2910 / 3341 / 3349,
    /// 2765 / 3030 / 3213; 24 -> 36: 330 / 751 / 375, 380 / 569 / 392, 296 / 383 / 335; 32 -> 32 even with direct
    /// (408 / 423, 453 / 456, 361 / 354).</remarks>
    static bool UsePointwise(ConvPath path, in Conv2dShape s, int n) => PointwiseConv.Applies(s) && path switch
    {
        ConvPath.Pointwise => true,
        ConvPath.Auto => n >= PointwiseDirectBatch,
        _ => false,
    };

    internal enum Pass { Forward, Data, Weights }

    /// <summary>Winograd where it applies and is asked for, or on <see cref="ConvPath.Auto"/> where it was
    /// measured faster than the direct kernels (<see cref="WinogradPreferred"/>).</summary>
    static bool UseWinograd(ConvPath path, in Conv2dShape s, int n, Pass pass) => WinogradTile(path, s, n, pass) > 0;

    /// <summary>The Winograd output tile side to take (2: F(2x2, 3x3), 4: F(4x4, 3x3)), or 0 for another path.</summary>
    internal static int WinogradTile(ConvPath path, in Conv2dShape s, int n, Pass pass) => !Winograd.Applies(s) ? 0 : path switch
    {
        ConvPath.Winograd => 2,
        ConvPath.Winograd4 => 4,
        ConvPath.Auto => !WinogradPreferred(s, n, pass) ? 0 : F4Preferred(s, n, pass) ? 4 : 2,
        _ => 0,
    };

    /// <summary>The measured rule (lab figures in the remarks and in bench/RESULTS.md, both ISAs): Winograd F(2x2, 3x3)
    /// against the direct kernels. Not below 16 channels on either side (8->16 at 28 x 28: the data gradient wins,
    /// the forward pass and the weight gradient do not); outputs under 10 wide or high (2 x 2 tiles over 7 x 7 compute
    /// 64 outputs for 49) only with enough tiles per call; with AVX-512 and under 128 channels, not at a sample or two
    /// of 14 x 14 (the per-call weight transform is not amortised).</summary>
    /// <remarks>Measured after the transform planes stopped aliasing in L1 (lab wino/wino1/wino8, 2026-12-03, cpu time per
    /// core, us, direct against Winograd): AVX-512 batch 64: 32->32 14x14 1300 / 862 (bwdW), 16->16 28x28 2542 / 2091
    /// (fwd), 2601 / 1977 (bwdW), 64->64 7x7 1391 / 982 (fwd), 1316 / 1254 (bwdW), 8->16 28x28 1266 / 1432 (fwd),
    /// 1422 / 1849 (bwdW); batch 8, 64->64 7x7: 194 / 156 (fwd), 179 / 191 (bwdW); batch 1: 64->64 7x7 27 / 49,
    /// 32->32 14x14 21 / 22, 16->16 28x28 40 / 34. AVX2 batch 64: 32->32 14x14 2483 / 1496 (bwdW), 64->64 7x7 2656 / 2036
    /// (fwd), 2585 / 1905 (bwdW); batch 8, 64->64 7x7: 358 / 320 (fwd), 388 / 397 (bwdW); batch 1: 32->32 14x14
    /// 44 / 40 (bwdW), 64->64 7x7 51 / 85 (fwd). Before that fix (lab wino1/wino2/wino4, big1): with AVX-512 the
    /// direct kernels ran closer to the peak and Winograd waited for two 14 x 14 samples' worth of tiles below 128
    /// channels (three for the weight gradient): batch 1 64->64 14x14 direct 191 against Winograd 166 (fwd), batch 2
    /// 194 against 207 (fwd), 193 against 169 (bwdW); 24->36 batch 1 129 against 98 (bwdD).</remarks>
    internal static bool WinogradPreferred(in Conv2dShape s, int n, Pass pass)
    {
        int spatial = pass == Pass.Data ? Math.Min(s.H, s.W) : Math.Min(s.Ho, s.Wo);
        int lo = Math.Min(s.Cin, s.Cout);
        if (lo < 16) return false;
        long tiles = (long)n * ((s.Ho + 1) / 2) * ((s.Wo + 1) / 2);
        // Small planes: batch 8 of 7 x 7 (128 tiles) won for the forward and data passes and lost for the weight
        // gradient on both ISAs, batch 64 (1024 tiles) won all three; the weight gradient's threshold in between is not measured.
        if (spatial < 10 && tiles < (pass == Pass.Weights ? 1024 : 128)) return false;
        // Output channels that leave the direct tiles part empty (24->36: 36 of 64 lanes) favour Winograd at batch 1 too.
        if (Simd.Use512 && lo < 128 && (pass == Pass.Data || s.Cout % ConvDirect.NR == 0))
        {
            if (tiles < (pass == Pass.Weights ? 3 : 2) * 49) return false;
        }
        return true;
    }

    /// <summary>F(4x4, 3x3) rather than F(2x2, 3x3) where Winograd is taken: only with enough output positions per call to
    /// amortise its 36-point weight transform (2.25x the F(2x2) one's points, redone on every call): 3136 (16 samples of
    /// 14 x 14, 4 of 28 x 28). With AVX-512 not on planes under 10 wide or high (4 x 4 tiles over 7 x 7 compute 64 outputs
    /// for 49, as F(2x2) does, with dearer transforms). For the weight gradient only where 4 x 4 tiles cover the output
    /// exactly: its GEMMs reduce over one sample's tiles at a time (16 at 14 x 14 against F(2x2)'s 49), so the ragged
    /// 14 x 14 case loses to F(2x2) at 32 channels.</summary>
    /// <remarks>Lab wino/wino1/wino4/wino8, 2026-12-03 (load 18-21, cpu time per core, us, F(2x2) against F(4x4)): AVX-512
    /// batch 64 forward 32->32 14x14 1187 / 1031, 64->64 14x14 4006 / 3292, 16->16 28x28 2854 / 2262, 64->64 7x7 1269 / 1481;
    /// data gradient 32->32 888 / 747, 64->64 7x7 993 / 1170; batch 8 32->32 134 / 128, 64->64 430 / 479; batch 4 16->16 28x28
    /// 169 / 153, 32->32 14x14 81 / 103; batch 1: 21 / 44 (32->32), 35 / 43 (16->16 28x28). AVX2 batch 64 forward 32->32
    /// 1954 / 1872, 64->64 7x7 2258 / 2068, 16->16 28x28 2395 / 2033; data gradient 32->32 1506 / 1265. Weight gradient
    /// (load 22-25): AVX-512 batch 64 32->32 14x14 1134 / 1253, 64->64 14x14 5124 / 4857, 16->16 28x28 3312 / 2823, 24->36
    /// 14x14 1700 / 1854; batch 8 16->16 28x28 272 / 234, 64->64 14x14 464 / 573; batch 1 16->16 28x28 48 / 47; AVX2 batch 64
    /// 32->32 14x14 2172 / 2175, 16->16 28x28 2753 / 1859, 64->64 14x14 8143 / 7360.</remarks>
    internal static bool F4Preferred(in Conv2dShape s, int n, Pass pass)
    {
        int h = pass == Pass.Data ? s.H : s.Ho, w = pass == Pass.Data ? s.W : s.Wo;
        if (pass == Pass.Weights && (h % 4 != 0 || w % 4 != 0)) return false;
        if (Simd.Use512 && Math.Min(h, w) < 10) return false;
        // 256 -> 256 at 14 x 14, batch 16 measured even (lab big16, cpu per core: F(2x2) 12174 us, F(4x4) 12334); above 256
        // channels (36 transformed weight planes, 38 MB at 512 -> 512) not measured.
        if (Math.Max(s.Cin, s.Cout) > 256) return false;
        return (long)n * h * w >= 3136;
    }

    /// <summary>A 1 x 1 convolution is a GEMM on the sample in place; the direct path beats it by
    /// writing whole tiles (the GEMM's last column panel is ragged) once the batch amortises packing
    /// the weights, which it does per call. Its weight gradient stays a GEMM (no faster direct).</summary>
    const int PointwiseDirectBatch = 4;

    static bool IsPointwise(in Conv2dShape s) => s.Kh == 1 && s.Kw == 1 && s.StrideH == 1 && s.StrideW == 1 && s.PadH == 0 && s.PadW == 0;

    struct ForwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public Conv2dShape S;
        public float* X, W, Y, Scale, Shift;
        public int XStride, YStride;
        public bool ParallelGemm;

        public void Run(int b)
        {
            ref readonly Conv2dShape s = ref S;
            int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, hw = s.H * s.W, howo = s.Ho * s.Wo;
            int kg = cinG * s.Kh * s.Kw;
            float* x = X + (long)b * XStride;
            float* y = Y + (long)b * YStride;
            bool pointwise = IsPointwise(s);
            // On one thread, im2col writes straight into the GEMM's packed-B layout; a parallel GEMM
            // (batch of one) packs for itself from a plain column matrix.
            bool prepacked = !pointwise && !ParallelGemm;
            // Output positions in slabs whose packed columns (kg x chunk) stay within ~256 KB, so the
            // GEMM reads them from L2 rather than L3.
            int chunk = Math.Min(howo, Math.Max(32, 65536 / kg / 32 * 32));
            float* col = pointwise ? null : Scratch.Aligned(Scratch.Get(ref colScratch,
                prepacked ? GemmCore.PackedBSize(kg, chunk) : kg * howo));
            float* row = prepacked ? Scratch.Aligned(Scratch.Get(ref rowScratch, chunk + GemmCore.NR)) : null;
            for (int gi = 0; gi < g; gi++)
            {
                float* xg = x + (long)gi * cinG * hw;
                float* wg = W + (long)gi * coutG * kg;
                float* yg = y + (long)gi * coutG * howo;
                if (prepacked)
                {
                    for (int j0 = 0; j0 < howo; j0 += chunk)
                    {
                        int len = Math.Min(chunk, howo - j0);
                        Im2ColPacked(s, xg, cinG, j0, len, col, row);
                        GemmCore.RunPrepackedB(coutG, len, kg, wg, kg, col, 0f, yg + j0, howo);
                    }
                    continue;
                }
                float* bm = xg;
                if (!pointwise) { Im2Col(s, xg, cinG, col); bm = col; }
                GemmCore.Run(false, false, coutG, howo, kg, 1f, wg, kg, bm, howo, 0f, yg, howo, ParallelGemm);
            }
            for (int co = 0; co < s.Cout; co++)
                KernelUtil.Epilogue<TAct>(y + (long)co * howo, howo, Scale == null ? 1f : Scale[co], Shift == null ? 0f : Shift[co]);
        }
    }

    struct BackwardDataJob : IParallelJob
    {
        public Conv2dShape S;
        public float* Dy, W, Dx;
        public int DyStride, DxStride;
        public bool Accumulate, ParallelGemm;

        public void Run(int b)
        {
            ref readonly Conv2dShape s = ref S;
            int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, hw = s.H * s.W, howo = s.Ho * s.Wo;
            int kg = cinG * s.Kh * s.Kw;
            float* dy = Dy + (long)b * DyStride;
            float* dx = Dx + (long)b * DxStride;
            if (IsPointwise(s))
            {
                for (int gi = 0; gi < g; gi++)
                    GemmCore.Run(true, false, cinG, hw, coutG, 1f, W + (long)gi * coutG * kg, kg, dy + (long)gi * coutG * howo, howo,
                        Accumulate ? 1f : 0f, dx + (long)gi * cinG * hw, hw, ParallelGemm);
                return;
            }
            if (!Accumulate) new Span<float>(dx, s.InSize).Clear();
            float* col = Scratch.Aligned(Scratch.Get(ref colScratch, kg * howo));
            for (int gi = 0; gi < g; gi++)
            {
                GemmCore.Run(true, false, kg, howo, coutG, 1f, W + (long)gi * coutG * kg, kg, dy + (long)gi * coutG * howo, howo,
                    0f, col, howo, ParallelGemm);
                Col2ImAdd(s, col, cinG, dx + (long)gi * cinG * hw);
            }
        }
    }

    struct BackwardWeightsJob : IParallelJob
    {
        public Conv2dShape S;
        public float* X, Dy, Dw, Partial;
        public int XStride, DyStride, N, Chunks;
        public bool ParallelGemm;

        public void Run(int chunk)
        {
            ref readonly Conv2dShape s = ref S;
            int g = s.Groups, cinG = s.Cin / g, coutG = s.Cout / g, hw = s.H * s.W, howo = s.Ho * s.Wo;
            int kg = cinG * s.Kh * s.Kw;
            float* dw = Dw;
            if (Chunks > 1)
            {
                dw = Partial + (long)chunk * s.WeightSize;
                new Span<float>(dw, s.WeightSize).Clear();
            }
            int b0 = (int)((long)N * chunk / Chunks), b1 = (int)((long)N * (chunk + 1) / Chunks);
            bool pointwise = IsPointwise(s);
            float* col = pointwise ? null : Scratch.Aligned(Scratch.Get(ref colScratch, kg * howo));
            for (int b = b0; b < b1; b++)
            {
                float* x = X + (long)b * XStride;
                float* dy = Dy + (long)b * DyStride;
                for (int gi = 0; gi < g; gi++)
                {
                    float* xg = x + (long)gi * cinG * hw;
                    float* bm = xg;
                    if (!pointwise) { Im2Col(s, xg, cinG, col); bm = col; }
                    // dW_g (coutG x kg) += dy_g (coutG x howo) * col^T (howo x kg).
                    GemmCore.Run(false, true, coutG, kg, howo, 1f, dy + (long)gi * coutG * howo, howo, bm, howo, 1f,
                        dw + (long)gi * coutG * kg, kg, ParallelGemm);
                }
            }
        }
    }

    /// <summary>Valid output columns [lo, hi) for a tap whose input column is ow * stride + off.</summary>
    static void ValidRange(int off, int stride, int inW, int outW, out int lo, out int hi)
    {
        lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
        int last = inW - 1 - off;
        hi = last < 0 ? 0 : Math.Min(outW, last / stride + 1);
        if (lo > outW) lo = outW;
        if (hi < lo) hi = lo;
    }

    /// <summary>col[(ci, kh, kw), (oh, ow)] = x[ci, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw], zero outside.</summary>
    internal static void Im2Col(in Conv2dShape s, float* x, int channels, float* col)
    {
        int howo = s.Ho * s.Wo;
        for (int ci = 0; ci < channels; ci++)
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++)
                    Im2ColRow(s, x + (long)ci * s.H * s.W, kh, kw, col + (long)((ci * s.Kh + kh) * s.Kw + kw) * howo);
    }

    /// <summary>Output positions [j0, j0 + n) of <see cref="Im2Col"/>, written in <see cref="GemmCore"/>'s
    /// packed-B layout: each row is built in a small buffer (zero padded to whole panels), then
    /// copied panel by panel.</summary>
    internal static void Im2ColPacked(in Conv2dShape s, float* x, int channels, int j0, int n, float* packed, float* row)
    {
        int k = channels * s.Kh * s.Kw, nr = GemmCore.NR;
        int panels = (n + nr - 1) / nr;
        for (int j = n; j < panels * nr; j++) row[j] = 0f;
        for (int ci = 0; ci < channels; ci++)
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++)
                {
                    int p = (ci * s.Kh + kh) * s.Kw + kw;
                    Im2ColRowRange(s, x + (long)ci * s.H * s.W, kh, kw, j0, j0 + n, row);
                    float* dst = packed + GemmCore.PackedBRow(k, n, p, out int panelStride);
                    for (int jp = 0; jp < panels; jp++)
                        for (int j = 0; j < nr; j += 8)
                            Vector256.Load(row + jp * nr + j).Store(dst + (long)jp * panelStride + j);
                }
    }

    /// <summary>One im2col row: tap (kh, kw) of input channel plane <paramref name="xc"/> at every output position.</summary>
    static void Im2ColRow(in Conv2dShape s, float* xc, int kh, int kw, float* dst) => Im2ColRowRange(s, xc, kh, kw, 0, s.Ho * s.Wo, dst);

    /// <summary>Output positions [j0, j1) of one im2col row into dst[0 .. j1 - j0).</summary>
    static void Im2ColRowRange(in Conv2dShape s, float* xc, int kh, int kw, int j0, int j1, float* dst)
    {
        int wo = s.Wo, h = s.H, w = s.W;
        int offW = kw * s.DilW - s.PadW;
        ValidRange(offW, s.StrideW, w, wo, out int lo, out int hi);
        for (int j = j0; j < j1;)
        {
            int oh = j / wo, a = j - oh * wo, b = Math.Min(wo, a + (j1 - j));
            float* d = dst + (j - j0) - a; // d[ow] is output column ow of this row
            j += b - a;
            int ih = oh * s.StrideH - s.PadH + kh * s.DilH;
            if ((uint)ih >= (uint)h) { new Span<float>(d + a, b - a).Clear(); continue; }
            int vlo = Math.Clamp(lo, a, b), vhi = Math.Clamp(hi, vlo, b);
            for (int ow = a; ow < vlo; ow++) d[ow] = 0f;
            float* src = xc + ih * w + offW;
            if (s.StrideW == 1)
                new ReadOnlySpan<float>(src + vlo, vhi - vlo).CopyTo(new Span<float>(d + vlo, vhi - vlo));
            else
                for (int ow = vlo; ow < vhi; ow++) d[ow] = src[ow * s.StrideW];
            for (int ow = vhi; ow < b; ow++) d[ow] = 0f;
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx[ci, ih, iw] += col[...] for every tap that read it.</summary>
    internal static void Col2ImAdd(in Conv2dShape s, float* col, int channels, float* dx)
    {
        int ho = s.Ho, wo = s.Wo, h = s.H, w = s.W, howo = ho * wo;
        for (int ci = 0; ci < channels; ci++)
        {
            float* xc = dx + (long)ci * h * w;
            for (int kh = 0; kh < s.Kh; kh++)
            {
                for (int kw = 0; kw < s.Kw; kw++)
                {
                    float* src = col + (long)((ci * s.Kh + kh) * s.Kw + kw) * howo;
                    int offW = kw * s.DilW - s.PadW;
                    ValidRange(offW, s.StrideW, w, wo, out int lo, out int hi);
                    for (int oh = 0; oh < ho; oh++)
                    {
                        int ih = oh * s.StrideH - s.PadH + kh * s.DilH;
                        if ((uint)ih >= (uint)h) continue;
                        float* d = xc + ih * w + offW;
                        float* c = src + oh * wo;
                        if (s.StrideW == 1)
                        {
                            var dd = new Span<float>(d + lo, hi - lo);
                            System.Numerics.Tensors.TensorPrimitives.Add(dd, new ReadOnlySpan<float>(c + lo, hi - lo), dd);
                        }
                        else
                        {
                            for (int ow = lo; ow < hi; ow++) d[ow * s.StrideW] += c[ow];
                        }
                    }
                }
            }
        }
    }
}
