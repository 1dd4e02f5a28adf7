// Convolutions with work fused in where the data is in registers or cache anyway:
//   input prologue   x' = act_in(inScale[c] x + inShift[c]): the producer's BatchNorm (training: from its
//                    batch statistics) and activation, applied while the input is copied into the
//                    kernels' padded planes or channel-last tiles, so x' is never stored;
//   residual         y = act(scale acc + shift + r) for a tensor r shaped like y;
//   BatchNorm stats  the next BatchNorm's batch mean and variance taken in the write-out (sums of
//                    y - K and its square per channel, K = that BatchNorm's running mean, double sums
//                    in an order fixed by the shape), then the BatchNorm's own finalisation: save,
//                    running statistics, and the affine its consumer's prologue applies.
// The direct and Winograd kernels do all of this in their copy and write-out loops. Other paths
// (im2col + GEMM, depthwise) get the same results through separate passes (a prologue copy into
// scratch, an epilogue pass), so every shape accepts every option.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Per-channel y = act(Scale[c] x + Shift[c]) applied to a convolution's input as it is read
/// (a producer's BatchNorm and activation); default: none.</summary>
public readonly struct ChannelAffine(float[] scale, int scaleOffset, float[] shift, int shiftOffset)
{
    /// <summary>Scale per channel (null: no prologue).</summary>
    public readonly float[]? Scale = scale;
    /// <summary>Index of channel 0's scale.</summary>
    public readonly int ScaleOffset = scaleOffset;
    /// <summary>Shift per channel.</summary>
    public readonly float[]? Shift = shift;
    /// <summary>Index of channel 0's shift.</summary>
    public readonly int ShiftOffset = shiftOffset;
    /// <summary>True when there is nothing to apply.</summary>
    public bool IsNone => Scale is null;
}

/// <summary>The training BatchNorm that follows a convolution, whose batch statistics the convolution takes
/// while writing its output: parameters as <see cref="BatchNormKernel.ForwardTrain{TAct}"/> takes them, plus where
/// to put the affine (a = gamma invstd, b = beta - mean a) that its consumer applies as an input prologue.</summary>
public readonly struct BatchNormStatsTarget(float[] parameters, int gammaOffset, int betaOffset, int meanOffset, int varOffset,
    float momentum, float eps, float[] save, int saveOffset, float[]? affine, int scaleOffset, int shiftOffset)
{
    /// <summary>The parameter store's values (gamma, beta, running mean and variance).</summary>
    public readonly float[] Parameters = parameters;
    /// <summary>Offsets of gamma, beta, running mean and running variance in <see cref="Parameters"/>.</summary>
    public readonly int GammaOffset = gammaOffset, BetaOffset = betaOffset, MeanOffset = meanOffset, VarOffset = varOffset;
    /// <summary>Running-statistics momentum and the variance epsilon.</summary>
    public readonly float Momentum = momentum, Eps = eps;
    /// <summary>save[c] = mean, save[C + c] = 1 / sqrt(var + eps), as ForwardTrain writes them (BackwardTrain reads them).</summary>
    public readonly float[] Save = save;
    /// <summary>Index of save[0].</summary>
    public readonly int SaveOffset = saveOffset;
    /// <summary>Where a (at <see cref="ScaleOffset"/>) and b (at <see cref="ShiftOffset"/>) go; null: not needed.</summary>
    public readonly float[]? Affine = affine;
    /// <summary>Index of a[0] and of b[0] in <see cref="Affine"/>.</summary>
    public readonly int ScaleOffset = scaleOffset, ShiftOffset = shiftOffset;
}

/// <summary>What a fused convolution does besides the convolution; default: nothing (a plain convolution).</summary>
public struct ConvFusion
{
    /// <summary>Input prologue, applied with the activation type argument TIn.</summary>
    public ChannelAffine Input;
    /// <summary>Epilogue scale per output channel (null: 1) and its offset.</summary>
    public float[]? Scale;
    /// <summary>Index of channel 0's scale.</summary>
    public int ScaleOffset;
    /// <summary>Epilogue shift per output channel (null: 0).</summary>
    public float[]? Shift;
    /// <summary>Index of channel 0's shift.</summary>
    public int ShiftOffset;
    /// <summary>Added before the activation: y = act(scale acc + shift + residual); Data null: none.</summary>
    public View Residual;
    /// <summary>The training BatchNorm whose statistics are taken from the output; null: none.</summary>
    public BatchNormStatsTarget? Statistics;
}

public static unsafe partial class Conv2dKernel
{
    [ThreadStatic] static float[]? prologueScratch;
    [ThreadStatic] static float[]? statsScratch;

    /// <summary>y = act(scale conv(act_in(inScale x + inShift), w) + shift + residual), with the output's
    /// BatchNorm statistics taken on the way when <see cref="ConvFusion.Statistics"/> is set.</summary>
    public static void ForwardFused<TIn, TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff, in ConvFusion f, View y)
        where TIn : struct, IActivation where TAct : struct, IActivation
        => ForwardFused<TIn, TAct>(s, n, x, w, wOff, f, y, ConvPath.Auto);

    /// <summary><see cref="ForwardFused{TIn, TAct}(in Conv2dShape, int, View, float[], int, in ConvFusion, View)"/> on a chosen path.</summary>
    internal static void ForwardFused<TIn, TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff, in ConvFusion f, View y, ConvPath path)
        where TIn : struct, IActivation where TAct : struct, IActivation
    {
        Validate(s, n, x, y, w, wOff, "y");
        CheckAffine(f.Input, s.Cin);
        if (f.Scale is not null) KernelUtil.Check(f.Scale, f.ScaleOffset, s.Cout, "scale");
        if (f.Shift is not null) KernelUtil.Check(f.Shift, f.ShiftOffset, s.Cout, "shift");
        bool residual = f.Residual.Data is not null;
        if (residual) KernelUtil.Check(f.Residual, n, s.OutSize, "residual");
        if (f.Statistics is { } bn) CheckStats(bn, s.Cout);
        if (n == 0) return;
        int hw = s.Ho * s.Wo;
        if (f.Statistics is not null) BatchNormKernel.CheckBatchStatistics(n, hw);
        double* sums = f.Statistics is null ? null : (double*)Scratch.Aligned(Scratch.Get(ref statsScratch, 4 * s.Cout + 16));
        int tile = s.IsDepthwise ? 0 : WinogradTile(path, s, n, Pass.Forward);
        bool winograd = tile > 0;
        // The pointwise kernel has no input prologue (the generator gives 1 x 1 convolutions none).
        bool pointwise = f.Input.IsNone && UsePointwise(path, s, n);
        bool direct = !winograd && !pointwise && !s.IsDepthwise
            && UseDirect(path, true, ConvDirect.Fits(s.Cout / s.Groups) && (!IsPointwise(s) || n >= PointwiseDirectBatch));
        fixed (float* px = x.Data, pw = w, py = y.Data, pis = f.Input.Scale, pih = f.Input.Shift, psc = f.Scale, psh = f.Shift,
            pr = f.Residual.Data, pmean = f.Statistics is { } b0 ? b0.Parameters : null)
        {
            if (pointwise)
            {
                var epi = new ConvEpi
                {
                    Scale = psc == null ? null : psc + f.ScaleOffset,
                    Shift = psh == null ? null : psh + f.ShiftOffset,
                    StatShift = pmean == null ? null : pmean + f.Statistics!.Value.MeanOffset,
                };
                PointwiseConv.Forward<TAct>(s, n, px + x.Offset, x.BatchStride, pw + wOff, epi, residual ? pr + f.Residual.Offset : null,
                    f.Residual.BatchStride, py + y.Offset, y.BatchStride, sums);
            }
            else if (winograd || direct)
            {
                var input = new InputAffine
                {
                    Scale = pis == null ? null : pis + f.Input.ScaleOffset,
                    Shift = pih == null ? null : pih + f.Input.ShiftOffset,
                };
                var epi = new ConvEpi
                {
                    Scale = psc == null ? null : psc + f.ScaleOffset,
                    Shift = psh == null ? null : psh + f.ShiftOffset,
                    StatShift = pmean == null ? null : pmean + f.Statistics!.Value.MeanOffset,
                };
                float* res = residual ? pr + f.Residual.Offset : null;
                if (winograd)
                    Winograd.Forward<TIn, TAct>(s, n, px + x.Offset, x.BatchStride, input, pw + wOff, epi, res, f.Residual.BatchStride,
                        py + y.Offset, y.BatchStride, sums, tile);
                else
                    ConvDirect.Forward<TIn, TAct>(s, n, px + x.Offset, x.BatchStride, input, pw + wOff, epi, res, f.Residual.BatchStride,
                        py + y.Offset, y.BatchStride, sums);
            }
        }
        if (!winograd && !direct && !pointwise)
        {
            // Separate passes: the prologue into scratch, the plain convolution, then the epilogue.
            View src = x;
            if (!f.Input.IsNone)
            {
                var buf = Scratch.Get(ref prologueScratch, n * s.InSize);
                src = new View(buf, 0, s.InSize);
                int cin = s.Cin, plane = s.H * s.W;
                fixed (float* px = x.Data, pd = buf, pis = f.Input.Scale, pih = f.Input.Shift)
                    for (int b = 0; b < n; b++)
                        for (int c = 0; c < cin; c++)
                            KernelUtil.Epilogue<TIn>(px + x.At(b) + (long)c * plane, pd + (long)b * s.InSize + (long)c * plane, plane,
                                pis[f.Input.ScaleOffset + c], pih[f.Input.ShiftOffset + c]);
            }
            if (residual)
            {
                Forward<Identity>(s, n, src, w, wOff, null, 0, null, 0, y, path is ConvPath.Winograd or ConvPath.Winograd4 ? ConvPath.Auto : path);
                fixed (float* py = y.Data, pr = f.Residual.Data, psc = f.Scale, psh = f.Shift)
                    for (int b = 0; b < n; b++)
                        for (int c = 0; c < s.Cout; c++)
                            ResidualRow<TAct>(py + y.At(b) + (long)c * hw, pr + f.Residual.At(b) + (long)c * hw, hw,
                                psc == null ? 1f : psc[f.ScaleOffset + c], psh == null ? 0f : psh[f.ShiftOffset + c]);
            }
            else Forward<TAct>(s, n, src, w, wOff, f.Scale, f.ScaleOffset, f.Shift, f.ShiftOffset, y, path is ConvPath.Winograd or ConvPath.Winograd4 ? ConvPath.Auto : path);
            if (sums != null)
                fixed (float* py = y.Data, pp = f.Statistics!.Value.Parameters)
                    ShiftedSums(py + y.Offset, y.BatchStride, n, s.Cout, hw, pp + f.Statistics.Value.MeanOffset, sums);
        }
        if (f.Statistics is { } target) BatchNormKernel.FinishStatistics(target, s.Cout, (long)n * hw, sums);
    }

    /// <summary>dw += the weight gradient of a convolution whose input was read through the prologue
    /// act_in(input.Scale x + input.Shift) (the same prologue as its forward pass).</summary>
    public static void BackwardWeightsFused<TIn>(in Conv2dShape s, int n, View x, in ChannelAffine input, View dy, float[] dw, int dwOff)
        where TIn : struct, IActivation
        => BackwardWeightsFused<TIn>(s, n, x, input, dy, dw, dwOff, ConvPath.Auto);

    /// <summary><see cref="BackwardWeightsFused{TIn}(in Conv2dShape, int, View, in ChannelAffine, View, float[], int)"/> on a chosen path.</summary>
    internal static void BackwardWeightsFused<TIn>(in Conv2dShape s, int n, View x, in ChannelAffine input, View dy, float[] dw, int dwOff, ConvPath path)
        where TIn : struct, IActivation
    {
        Validate(s, n, x, dy, dw, dwOff, "dy");
        CheckAffine(input, s.Cin);
        if (n == 0) return;
        if (input.IsNone) { BackwardWeights(s, n, x, dy, dw, dwOff, path); return; }
        int tile = s.IsDepthwise ? 0 : WinogradTile(path, s, n, Pass.Weights);
        bool winograd = tile > 0;
        bool direct = !winograd && !s.IsDepthwise && UseDirect(path, true, ConvDirect.Fits(s.Cout / s.Groups) && !IsPointwise(s));
        if (winograd || direct)
        {
            fixed (float* px = x.Data, pdy = dy.Data, pdw = dw, pis = input.Scale, pih = input.Shift)
            {
                var pro = new InputAffine { Scale = pis + input.ScaleOffset, Shift = pih + input.ShiftOffset };
                if (winograd) Winograd.BackwardWeights<TIn>(s, n, px + x.Offset, x.BatchStride, pro, pdy + dy.Offset, dy.BatchStride, pdw + dwOff, tile);
                else ConvDirect.BackwardWeights<TIn>(s, n, px + x.Offset, x.BatchStride, pro, pdy + dy.Offset, dy.BatchStride, pdw + dwOff);
            }
            return;
        }
        var buf = Scratch.Get(ref prologueScratch, n * s.InSize);
        int plane = s.H * s.W;
        fixed (float* px = x.Data, pd = buf, pis = input.Scale, pih = input.Shift)
            for (int b = 0; b < n; b++)
                for (int c = 0; c < s.Cin; c++)
                    KernelUtil.Epilogue<TIn>(px + x.At(b) + (long)c * plane, pd + (long)b * s.InSize + (long)c * plane, plane,
                        pis[input.ScaleOffset + c], pih[input.ShiftOffset + c]);
        BackwardWeights(s, n, new View(buf, 0, s.InSize), dy, dw, dwOff, path is ConvPath.Winograd or ConvPath.Winograd4 ? ConvPath.Auto : path);
    }

    static void CheckAffine(in ChannelAffine a, int channels)
    {
        if (a.IsNone) return;
        KernelUtil.Check(a.Scale, a.ScaleOffset, channels, "input scale");
        KernelUtil.Check(a.Shift, a.ShiftOffset, channels, "input shift");
    }

    static void CheckStats(in BatchNormStatsTarget t, int c)
    {
        KernelUtil.Check(t.Parameters, t.GammaOffset, c, "gamma");
        KernelUtil.Check(t.Parameters, t.BetaOffset, c, "beta");
        KernelUtil.Check(t.Parameters, t.MeanOffset, c, "running mean");
        KernelUtil.Check(t.Parameters, t.VarOffset, c, "running var");
        KernelUtil.Check(t.Save, t.SaveOffset, 2 * c, "save");
        if (t.Affine is not null)
        {
            KernelUtil.Check(t.Affine, t.ScaleOffset, c, "affine scale");
            KernelUtil.Check(t.Affine, t.ShiftOffset, c, "affine shift");
        }
    }

    /// <summary>y = act(scale y + shift + r) over one row.</summary>
    static void ResidualRow<TAct>(float* y, float* r, int len, float scale, float shift) where TAct : struct, IActivation
    {
        int i = 0;
        var vs = Vector256.Create(scale);
        var vt = Vector256.Create(shift);
        for (; i <= len - 8; i += 8)
            default(TAct).Apply(Vector256.FusedMultiplyAdd(Vector256.Load(y + i), vs, vt) + Vector256.Load(r + i)).Store(y + i);
        for (; i < len; i++) y[i] = default(TAct).Apply(MathF.FusedMultiplyAdd(y[i], scale, shift) + r[i]);
    }

    /// <summary>sums[2c] = sum of (y - k[c]), sums[2c + 1] = sum of its square, over the batch (double, fixed order;
    /// vectorised and over the channels in parallel in <see cref="ChannelSums"/>).</summary>
    static void ShiftedSums(float* y, long stride, int n, int channels, int hw, float* k, double* sums)
        => ChannelSums.Shifted(y, stride, n, channels, hw, k, sums);
}
