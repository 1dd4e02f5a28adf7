// Binary layers on ILGPU: the CPU kernels' definitions (Runtime/Cpu/Binary) on the device.
//   Deploy: bit packing (BitPack's layouts, bit set when x < threshold) and XNOR-popcount convolution /
//   linear with the fused epilogue, writing floats or packed bits. One thread per output element (or per
//   output word when packing), popcounts with ILGPU's IntrinsicMath.PopCount on 64-bit words, which the PTX
//   backend emits as popc.b64 (IntrinsicMath.BitOperations.PopCount, by contrast, compiles to a 12-instruction
//   shift-and-mask sequence in ILGPU 1.5.3; BinaryTests checks the PTX).
//   Zero padding is exact without tap sums: a thread simply skips the taps outside the input and its dot
//   product counts Cin per valid tap.
//   Training: sign / RSign, RPReLU, scaled binary weights, forward and backward; parameter gradients
//   reduce in two ordered steps (partials over interleaved terms, then an ordered sum per channel), so
//   results are reproducible run to run and no atomics are used.
// The epilogue rounds z = dot * scale + shift, then + residual, then the per-channel RPReLU, exactly as the CPU
// kernels, so on the CPU accelerator results are bit-identical to the CPU kernels (CUDA's compiler may fuse the
// multiply-adds). The packing kernel can write the floats too (a Bi-Real block's output read by the next shortcut
// and, as bits, by the next binary conv).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

/// <summary>The device twin of <see cref="RPReluParams"/>: a binary layer epilogue's per-channel RPReLU, y = prelu(z + b0, a) + b1
/// (empty B0: none).</summary>
public readonly struct GRPReluParams(ArrayView<float> b0, ArrayView<float> slope, ArrayView<float> b1)
{
    /// <summary>Added before the PReLU.</summary>
    public readonly ArrayView<float> B0 = b0;
    /// <summary>Slopes of the negative part.</summary>
    public readonly ArrayView<float> Slope = slope;
    /// <summary>Added after.</summary>
    public readonly ArrayView<float> B1 = b1;
}

/// <summary>The device twin of <see cref="BitView"/>: bit-packed samples in a ulong buffer.</summary>
public readonly struct GBitView(ArrayView<ulong> data, int offset, int batchStride)
{
    /// <summary>The backing device memory.</summary>
    public readonly ArrayView<ulong> Data = data;
    /// <summary>Start of sample 0, in words.</summary>
    public readonly int Offset = offset;
    /// <summary>Distance between consecutive samples, in words.</summary>
    public readonly int BatchStride = batchStride;

    /// <summary>Start index of sample <paramref name="b"/>.</summary>
    public int At(int b) => Offset + b * BatchStride;
}

public sealed partial class GpuKernels
{
    readonly Dictionary<Type, object> _binaryByType = [];

    BinaryKernels<TAct> Binary<TAct>() where TAct : struct, IActivation
    {
        lock (_gate)
        {
            if (!_binaryByType.TryGetValue(typeof(TAct), out var set))
                _binaryByType[typeof(TAct)] = set = new BinaryKernels<TAct>(Accelerator);
            return (BinaryKernels<TAct>)set;
        }
    }

    SignKernels<TGrad> SignGrad<TGrad>() where TGrad : struct, ISignGradient
    {
        lock (_gate)
        {
            if (!_binaryByType.TryGetValue(typeof(TGrad), out var set))
                _binaryByType[typeof(TGrad)] = set = new SignKernels<TGrad>(Accelerator);
            return (SignKernels<TGrad>)set;
        }
    }

    /// <summary>Shapes and strides of a binary convolution or linear layer, packed into one kernel parameter.</summary>
    internal readonly struct BinaryDims(Conv2dShape s, int linear, int outWords)
    {
        public readonly Conv2dShape S = s;
        /// <summary>1 for a linear layer (rows are samples, 1 x 1 taps on 1 x 1 samples).</summary>
        public readonly int Linear = linear;
        /// <summary>Words per output position when packing.</summary>
        public readonly int OutWords = outWords;
    }

    // ---- Packing ---------------------------------------------------------------------------------------

    /// <summary>NCHW floats to channels-last bits (<see cref="BitPack.PackActivations"/>); <paramref name="threshold"/> of
    /// length c, or empty for 0.</summary>
    public void BinaryPackActivations(int n, int c, int h, int w, GView x, ArrayView<float> threshold, GBitView y)
    {
        int total = n * h * w * BitPack.Words(c);
        if (total == 0) return;
        (_packActivations ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, GBitView>(PackActivationsKernel))(
            total, new ChannelDims(n, c, h * w), x, threshold, y);
    }

    /// <summary>(N, F) floats to packed features (<see cref="BitPack.PackFeatures"/>); threshold of length f or empty.</summary>
    public void BinaryPackFeatures(int n, int f, GView x, ArrayView<float> threshold, GBitView y)
        => BinaryPackActivations(n, f, 1, 1, x, threshold, y);

    Action<Index1D, ChannelDims, GView, ArrayView<float>, GBitView>? _packActivations;

    /// <summary>One thread per output word (sample, position, word of 64 channels).</summary>
    internal static void PackActivationsKernel(Index1D index, ChannelDims d, GView x, ArrayView<float> threshold, GBitView y)
    {
        int i = index, wc = (d.C + 63) >> 6, perSample = d.HW * wc;
        int b = i / perSample, r = i - b * perSample, p = r / wc, j = r - p * wc;
        ulong word = 0;
        int c0 = j * 64, c1 = c0 + 64 < d.C ? c0 + 64 : d.C;
        for (int ch = c0; ch < c1; ch++)
        {
            float t = threshold.Length > 0 ? threshold[ch] : 0f;
            if (x.Data[x.At(b) + ch * d.HW + p] < t) word |= 1UL << (ch - c0);
        }
        y.Data[y.At(b) + r] = word;
    }

    // ---- XNOR-popcount convolution and linear ------------------------------------------------------------

    /// <summary>Binary convolution with the general epilogue of <see cref="BinaryConvKernel.ForwardFused{TAct}(in Conv2dShape, int, BitView, ulong[], int, int[], int, float[], int, float[], int, View, RPReluParams, View, float[], int, BitView)"/>:
    /// residual (empty Data: none), RPReLU (default: none), then floats to <paramref name="y"/> and / or bits to
    /// <paramref name="bits"/> (empty Data: not written).</summary>
    public void BinaryConvForwardFused<TAct>(in Conv2dShape s, int n, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView residual, GRPReluParams act, GView y, ArrayView<float> threshold, GBitView bits) where TAct : struct, IActivation
    {
        CheckDense(s);
        if (bits.Data.Length > 0)
        {
            int words = BitPack.Words(s.Cout), total = n * s.Ho * s.Wo * words;
            if (total > 0) Binary<TAct>().ConvBits(total, new BinaryDims(s, 0, words), x, w, scale, shift, residual, act, threshold, bits, y);
        }
        else
        {
            int total = n * s.OutSize;
            if (total > 0) Binary<TAct>().ConvFloat(total, new BinaryDims(s, 0, 0), x, w, scale, shift, y, residual, act);
        }
    }

    /// <summary>Binary linear layer with the general epilogue (see <see cref="BinaryConvForwardFused{TAct}"/>).</summary>
    public void BinaryLinearForwardFused<TAct>(int n, int inF, int outF, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView residual, GRPReluParams act, GView y, ArrayView<float> threshold, GBitView bits) where TAct : struct, IActivation
    {
        if (bits.Data.Length > 0)
        {
            int words = BitPack.Words(outF), total = n * words;
            if (total > 0) Binary<TAct>().ConvBits(total, new BinaryDims(LinearShape(inF, outF), 1, words), x, w, scale, shift, residual, act, threshold, bits, y);
        }
        else
        {
            int total = n * outF;
            if (total > 0) Binary<TAct>().ConvFloat(total, new BinaryDims(LinearShape(inF, outF), 1, 0), x, w, scale, shift, y, residual, act);
        }
    }

    /// <summary>Binary convolution, float output: see <see cref="BinaryConvKernel"/>. <paramref name="w"/> is BitPack's
    /// packed weights; scale / shift of length Cout or empty; <paramref name="residual"/> with an empty Data for none.</summary>
    public void BinaryConvForward<TAct>(in Conv2dShape s, int n, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView y, GView residual) where TAct : struct, IActivation
    {
        CheckDense(s);
        int total = n * s.OutSize;
        if (total > 0) Binary<TAct>().ConvFloat(total, new BinaryDims(s, 0, 0), x, w, scale, shift, y, residual, default);
    }

    /// <summary>Binary convolution, packed output: bit set when act(z) &lt; threshold[co] (empty threshold: 0).</summary>
    public void BinaryConvForwardPacked<TAct>(in Conv2dShape s, int n, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, ArrayView<float> threshold, GBitView y) where TAct : struct, IActivation
    {
        CheckDense(s);
        int words = BitPack.Words(s.Cout), total = n * s.Ho * s.Wo * words;
        if (total > 0) Binary<TAct>().ConvBits(total, new BinaryDims(s, 0, words), x, w, scale, shift, default, default, threshold, y, default);
    }

    /// <summary>Binary linear layer, float output [n, outF].</summary>
    public void BinaryLinearForward<TAct>(int n, int inF, int outF, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView y, GView residual) where TAct : struct, IActivation
    {
        int total = n * outF;
        if (total > 0) Binary<TAct>().ConvFloat(total, new BinaryDims(LinearShape(inF, outF), 1, 0), x, w, scale, shift, y, residual, default);
    }

    /// <summary>Binary linear layer, packed output.</summary>
    public void BinaryLinearForwardPacked<TAct>(int n, int inF, int outF, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, ArrayView<float> threshold, GBitView y) where TAct : struct, IActivation
    {
        int words = BitPack.Words(outF), total = n * words;
        if (total > 0) Binary<TAct>().ConvBits(total, new BinaryDims(LinearShape(inF, outF), 1, words), x, w, scale, shift, default, default, threshold, y, default);
    }

    static Conv2dShape LinearShape(int inF, int outF) => new(inF, 1, 1, outF, 1, 1, 1, 1, 0, 0, 1, 1, 1);

    static void CheckDense(in Conv2dShape s)
    {
        if (s.Groups != 1) throw new ArgumentException("Binary convolutions are dense (groups = 1).", nameof(s));
    }

    /// <summary>The exact ±1 dot product of output channel <paramref name="co"/> at (b, position p): sum over the taps inside
    /// the input of Cin - 2 popcount(x XOR w). For a linear layer b is the row and p is 0.</summary>
    static int Dot(BinaryDims d, GBitView x, ArrayView<ulong> w, int b, int co, int p)
    {
        var s = d.S;
        int wc = (s.Cin + 63) >> 6, taps = s.Kh * s.Kw;
        int wBase = (co >> 4) * taps * wc * 16 + (co & 15);
        if (d.Linear != 0)
        {
            int ones = 0, xb = x.At(b);
            for (int j = 0; j < wc; j++) ones += IntrinsicMath.PopCount(x.Data[xb + j] ^ w[wBase + j * 16]);
            return s.Cin - 2 * ones;
        }
        int oy = p / s.Wo, ox = p - oy * s.Wo, dot = 0, at = x.At(b);
        for (int kh = 0; kh < s.Kh; kh++)
        {
            int iy = oy * s.StrideH - s.PadH + kh * s.DilH;
            if (iy < 0 || iy >= s.H) continue;
            for (int kw = 0; kw < s.Kw; kw++)
            {
                int ix = ox * s.StrideW - s.PadW + kw * s.DilW;
                if (ix < 0 || ix >= s.W) continue;
                int xo = at + (iy * s.W + ix) * wc, wo = wBase + (kh * s.Kw + kw) * wc * 16, ones = 0;
                for (int j = 0; j < wc; j++) ones += IntrinsicMath.PopCount(x.Data[xo + j] ^ w[wo + j * 16]);
                dot += s.Cin - 2 * ones;
            }
        }
        return dot;
    }

    /// <summary>The epilogue of one output element: act(rprelu(dot * scale + shift + residual)), each operation rounded as
    /// the CPU kernel rounds it.</summary>
    static float Epilogue<TAct>(int dot, int co, ArrayView<float> scale, ArrayView<float> shift, GView residual, int at, GRPReluParams act)
        where TAct : struct, IActivation
    {
        float z = dot;
        if (scale.Length > 0) z *= scale[co];
        if (shift.Length > 0) z += shift[co];
        if (residual.Data.Length > 0) z += residual.Data[at];
        if (act.B0.Length > 0)
        {
            float u = z + act.B0[co];
            z = (u > 0f ? u : u * act.Slope[co]) + act.B1[co];
        }
        return default(TAct).Apply(z);
    }

    /// <summary>One thread per output element.</summary>
    internal static void BinaryConvFloatKernel<TAct>(Index1D index, BinaryDims d, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView y, GView residual, GRPReluParams act) where TAct : struct, IActivation
    {
        int i = index;
        int b, co, p, at;
        if (d.Linear != 0)
        {
            b = i / d.S.Cout; co = i - b * d.S.Cout; p = 0;
            at = co;
        }
        else
        {
            int plane = d.S.Ho * d.S.Wo, per = d.S.Cout * plane;
            b = i / per; int r = i - b * per;
            co = r / plane; p = r - co * plane;
            at = r;
        }
        y.Data[y.At(b) + at] = Epilogue<TAct>(Dot(d, x, w, b, co, p), co, scale, shift, residual, residual.Data.Length > 0 ? residual.At(b) + at : 0, act);
    }

    /// <summary>One thread per output word: 64 output channels of one position, bit set when the epilogue's value &lt;
    /// threshold; the values themselves written to <paramref name="y"/> too when it has data.</summary>
    internal static void BinaryConvBitsKernel<TAct>(Index1D index, BinaryDims d, GBitView x, ArrayView<ulong> w, ArrayView<float> scale,
        ArrayView<float> shift, GView residual, GRPReluParams act, ArrayView<float> threshold, GBitView bits, GView y) where TAct : struct, IActivation
    {
        int i = index;
        int positions = d.Linear != 0 ? 1 : d.S.Ho * d.S.Wo, per = positions * d.OutWords;
        int b = i / per, r = i - b * per, p = r / d.OutWords, j = r - p * d.OutWords;
        int c0 = j * 64, c1 = c0 + 64 < d.S.Cout ? c0 + 64 : d.S.Cout;
        ulong word = 0;
        for (int co = c0; co < c1; co++)
        {
            // Element (b, co, p) of the NCHW (or [n, out]) float tensors.
            int at = d.Linear != 0 ? co : co * positions + p;
            float z = Epilogue<TAct>(Dot(d, x, w, b, co, p), co, scale, shift, residual, residual.Data.Length > 0 ? residual.At(b) + at : 0, act);
            if (y.Data.Length > 0) y.Data[y.At(b) + at] = z;
            if (z < (threshold.Length > 0 ? threshold[co] : 0f)) word |= 1UL << (co - c0);
        }
        bits.Data[bits.At(b) + r] = word;
    }

    /// <summary>Launchers of the binary kernels specialised for one activation.</summary>
    sealed class BinaryKernels<TAct>(Accelerator accelerator) where TAct : struct, IActivation
    {
        Action<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GView, GRPReluParams>? _float;
        Action<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GRPReluParams, ArrayView<float>, GBitView, GView>? _bits;

        public Action<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GView, GRPReluParams> ConvFloat =>
            _float ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GView, GRPReluParams>(
                BinaryConvFloatKernel<TAct>);

        public Action<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GRPReluParams, ArrayView<float>, GBitView, GView> ConvBits =>
            _bits ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, BinaryDims, GBitView, ArrayView<ulong>, ArrayView<float>, ArrayView<float>, GView, GRPReluParams, ArrayView<float>, GBitView, GView>(
                BinaryConvBitsKernel<TAct>);
    }

    // ---- Training: sign / RSign --------------------------------------------------------------------------

    /// <summary>y = sign(x + bias[c]) (sign(0) = +1; empty bias: plain sign).</summary>
    public void BinarySignForward(int n, int c, int hw, GView x, ArrayView<float> bias, GView y)
    {
        int total = n * c * hw;
        if (total == 0) return;
        (_signForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, GView>(SignForwardKernel))(
            total, new ChannelDims(n, c, hw), x, bias, y);
    }

    /// <summary>dx (= or +=) dy * g(x + bias[c]); dBias[c] += its sums over batch and positions (empty dBias: skipped).</summary>
    public void BinarySignBackward<TGrad>(int n, int c, int hw, TGrad grad, GView x, ArrayView<float> bias, GView dy, GView dx,
        bool accumulate, ArrayView<float> dBias) where TGrad : struct, ISignGradient
    {
        int total = n * c * hw;
        if (total == 0) return;
        var d = new ChannelDims(n, c, hw);
        var k = SignGrad<TGrad>();
        if (dBias.Length > 0)
        {
            int parts = Parts(n * hw);
            var partials = Scratch(c * parts);
            k.Partials(c * parts, d, parts, grad, x, bias, dy, partials);
            AddParts(c, parts, partials, dBias);
        }
        k.Data(total, d, grad, x, bias, dy, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, ChannelDims, GView, ArrayView<float>, GView>? _signForward;

    internal static void SignForwardKernel(Index1D index, ChannelDims d, GView x, ArrayView<float> bias, GView y)
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float u = x.Data[x.At(b) + r] + (bias.Length > 0 ? bias[ch] : 0f);
        y.Data[y.At(b) + r] = u < 0f ? -1f : 1f;
    }

    internal static void SignBackwardDataKernel<TGrad>(Index1D index, ChannelDims d, TGrad grad, GView x, ArrayView<float> bias, GView dy,
        GView dx, int accumulate) where TGrad : struct, ISignGradient
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float u = x.Data[x.At(b) + r] + (bias.Length > 0 ? bias[ch] : 0f);
        float v = dy.Data[dy.At(b) + r] * grad.Derivative(u);
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }

    /// <summary>One thread per (channel, part j): the sum of dy * g(u) over terms j, j+P, ... of the channel.</summary>
    internal static void SignBackwardPartialsKernel<TGrad>(Index1D index, ChannelDims d, int parts, TGrad grad, GView x, ArrayView<float> bias,
        GView dy, ArrayView<float> partials) where TGrad : struct, ISignGradient
    {
        int i = index;
        int ch = i / parts, j = i - ch * parts, count = d.N * d.HW;
        float bi = bias.Length > 0 ? bias[ch] : 0f, sum = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW, r = ch * d.HW + e - b * d.HW;
            sum += dy.Data[dy.At(b) + r] * grad.Derivative(x.Data[x.At(b) + r] + bi);
        }
        partials[i] = sum;
    }

    sealed class SignKernels<TGrad>(Accelerator accelerator) where TGrad : struct, ISignGradient
    {
        Action<Index1D, ChannelDims, TGrad, GView, ArrayView<float>, GView, GView, int>? _data;
        Action<Index1D, ChannelDims, int, TGrad, GView, ArrayView<float>, GView, ArrayView<float>>? _partials;

        public Action<Index1D, ChannelDims, TGrad, GView, ArrayView<float>, GView, GView, int> Data =>
            _data ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, TGrad, GView, ArrayView<float>, GView, GView, int>(
                SignBackwardDataKernel<TGrad>);

        public Action<Index1D, ChannelDims, int, TGrad, GView, ArrayView<float>, GView, ArrayView<float>> Partials =>
            _partials ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, TGrad, GView, ArrayView<float>, GView, ArrayView<float>>(
                SignBackwardPartialsKernel<TGrad>);
    }

    // ---- Training: RPReLU ----------------------------------------------------------------------------------

    /// <summary>y = prelu(x + b0[c], slope[c]) + b1[c] (ReActNet's RPReLU).</summary>
    public void RPReluForward(int n, int c, int hw, GView x, ArrayView<float> b0, ArrayView<float> slope, ArrayView<float> b1, GView y)
    {
        int total = n * c * hw;
        if (total == 0) return;
        (_rpreluForward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>(
            RPReluForwardKernel))(total, new ChannelDims(n, c, hw), x, b0, slope, b1, y);
    }

    /// <summary>RPReLU backward: dx (= or +=); dB0, dSlope, dB1 += the parameter gradients (empty views: skipped).</summary>
    public void RPReluBackward(int n, int c, int hw, GView x, GView dy, ArrayView<float> b0, ArrayView<float> slope,
        GView dx, bool accumulate, ArrayView<float> dB0, ArrayView<float> dSlope, ArrayView<float> dB1)
    {
        int total = n * c * hw;
        if (total == 0) return;
        var d = new ChannelDims(n, c, hw);
        if (dB0.Length > 0 || dSlope.Length > 0 || dB1.Length > 0)
        {
            int parts = Parts(n * hw);
            var partials = Scratch(3 * c * parts);
            (_rpreluPartials ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
                RPReluPartialsKernel))(c * parts, d, parts, x, dy, b0, slope, partials);
            int cp = c * parts;
            if (dB0.Length > 0) AddParts(c, parts, partials.SubView(0, cp), dB0);
            if (dSlope.Length > 0) AddParts(c, parts, partials.SubView(cp, cp), dSlope);
            if (dB1.Length > 0) AddParts(c, parts, partials.SubView(2 * cp, cp), dB1);
        }
        (_rpreluData ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>(
            RPReluDataKernel))(total, d, x, dy, b0, slope, dx, accumulate ? 1 : 0);
    }

    Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>, GView>? _rpreluForward;
    Action<Index1D, ChannelDims, int, GView, GView, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _rpreluPartials;
    Action<Index1D, ChannelDims, GView, GView, ArrayView<float>, ArrayView<float>, GView, int>? _rpreluData;

    internal static void RPReluForwardKernel(Index1D index, ChannelDims d, GView x, ArrayView<float> b0, ArrayView<float> slope,
        ArrayView<float> b1, GView y)
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float u = x.Data[x.At(b) + r] + b0[ch];
        y.Data[y.At(b) + r] = (u > 0f ? u : slope[ch] * u) + b1[ch];
    }

    internal static void RPReluDataKernel(Index1D index, ChannelDims d, GView x, GView dy, ArrayView<float> b0, ArrayView<float> slope,
        GView dx, int accumulate)
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float u = x.Data[x.At(b) + r] + b0[ch], g = dy.Data[dy.At(b) + r];
        float v = u > 0f ? g : g * slope[ch];
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }

    /// <summary>One thread per (channel, part j): sums of du, dy * u (u &lt;= 0) and dy over terms j, j+P, ..., written to
    /// partials at [0, CP), [CP, 2CP) and [2CP, 3CP) (CP = channels x parts).</summary>
    internal static void RPReluPartialsKernel(Index1D index, ChannelDims d, int parts, GView x, GView dy, ArrayView<float> b0,
        ArrayView<float> slope, ArrayView<float> partials)
    {
        int i = index;
        int ch = i / parts, j = i - ch * parts, count = d.N * d.HW, cp = d.C * parts;
        float bb = b0[ch], a = slope[ch], su = 0f, sa = 0f, sy = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW, r = ch * d.HW + e - b * d.HW;
            float u = x.Data[x.At(b) + r] + bb, g = dy.Data[dy.At(b) + r];
            if (u > 0f) su += g;
            else { su += g * a; sa += g * u; }
            sy += g;
        }
        partials[i] = su;
        partials[cp + i] = sa;
        partials[2 * cp + i] = sy;
    }

    // ---- Training: scaled binary weights ----------------------------------------------------------------------

    /// <summary>wb = alpha * sign(w) per output channel with alpha = mean |w| written to <paramref name="alpha"/>; empty
    /// alpha: wb = sign(w). See <see cref="BinaryWeightKernel"/>.</summary>
    public void BinaryWeightsForward(int cout, int k, ArrayView<float> w, ArrayView<float> wb, ArrayView<float> alpha)
    {
        if (cout * k == 0) return;
        if (alpha.Length > 0)
            (_weightsAlpha ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(WeightsAlphaKernel))(cout, k, w, alpha);
        (_weightsSign ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(WeightsSignKernel))(
            cout * k, k, w, alpha, wb);
    }

    /// <summary>dw += the gradient reaching the latent weights as <paramref name="mode"/> defines it (see <see cref="WeightGradient"/>).</summary>
    public void BinaryWeightsBackward(int cout, int k, WeightGradient mode, float clip, ArrayView<float> w, ArrayView<float> dwb,
        ArrayView<float> alpha, ArrayView<float> dw)
    {
        if (cout * k == 0) return;
        if (mode != WeightGradient.Clip && alpha.Length == 0) throw new ArgumentException($"{mode} needs the scales of the forward pass.", nameof(alpha));
        var means = Scratch(cout);
        if (mode == WeightGradient.Full)
            (_weightsMean ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(WeightsMeanKernel))(
                cout, k, w, dwb, means);
        (_weightsBackward ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            WeightsBackwardKernel))(cout * k, k, (int)mode, clip, w, dwb, alpha, means, dw);
    }

    Action<Index1D, int, ArrayView<float>, ArrayView<float>>? _weightsAlpha;
    Action<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _weightsSign, _weightsMean;
    Action<Index1D, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _weightsBackward;

    /// <summary>One thread per output channel: mean |w| over its k weights, in order.</summary>
    internal static void WeightsAlphaKernel(Index1D index, int k, ArrayView<float> w, ArrayView<float> alpha)
    {
        int co = index;
        float sum = 0f;
        for (int i = 0; i < k; i++) sum += IntrinsicMath.Abs(w[co * k + i]);
        alpha[co] = sum / k;
    }

    internal static void WeightsSignKernel(Index1D index, int k, ArrayView<float> w, ArrayView<float> alpha, ArrayView<float> wb)
    {
        int i = index;
        float a = alpha.Length > 0 ? alpha[i / k] : 1f;
        wb[i] = w[i] < 0f ? -a : a;
    }

    /// <summary>One thread per output channel: (sum_j dwb_j sign(w_j)) / k.</summary>
    internal static void WeightsMeanKernel(Index1D index, int k, ArrayView<float> w, ArrayView<float> dwb, ArrayView<float> means)
    {
        int co = index;
        float sum = 0f;
        for (int i = 0; i < k; i++) sum += w[co * k + i] < 0f ? -dwb[co * k + i] : dwb[co * k + i];
        means[co] = sum / k;
    }

    internal static void WeightsBackwardKernel(Index1D index, int k, int mode, float clip, ArrayView<float> w, ArrayView<float> dwb,
        ArrayView<float> alpha, ArrayView<float> means, ArrayView<float> dw)
    {
        int i = index, co = i / k;
        float wi = w[i];
        float scale = mode == (int)WeightGradient.Clip ? 1f : alpha[co];
        float v = IntrinsicMath.Abs(wi) <= clip ? scale * dwb[i] : 0f;
        if (mode == (int)WeightGradient.Full) v += wi > 0f ? means[co] : wi < 0f ? -means[co] : 0f;
        dw[i] += v;
    }
}
