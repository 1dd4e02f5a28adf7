// The deploy form of one binary convolution, built from its trained (latent) weights: the signs packed into bits
// (1 bit per weight, BitPack's layout), the tap sums that make zero padding exact, and one epilogue that folds
// XNOR-Net's per-channel scale alpha = mean |w|, a bias and an evaluation-mode BatchNorm:
//   y = scale[co] * dot + shift[co] (+ residual),   scale = alpha * g,  shift = (bias - mean) * g + beta,
//   g = gamma / sqrt(var + eps)
// dot is the exact integer ±1 convolution (BinaryConvKernel), so what differs from the latent model's binarised
// forward (fp32 conv of alpha sign(w) with the ±1 input, then the folded BatchNorm) is only the rounding of the
// epilogue's few float operations.
namespace Authoring.Runtime.Cpu;

/// <summary>A binary convolution packed for XNOR-popcount inference (see the file header for the epilogue).</summary>
public sealed class PackedBinaryConv
{
    PackedBinaryConv(Conv2dShape shape, ulong[] weights, int[] tapSums, float[] scale, float[] shift)
    {
        Shape = shape;
        Weights = weights;
        TapSums = tapSums;
        Scale = scale;
        Shift = shift;
    }

    /// <summary>The convolution (groups 1).</summary>
    public Conv2dShape Shape { get; }
    /// <summary>The packed signs of the weights (<see cref="BitPack.PackConvWeights"/>).</summary>
    public ulong[] Weights { get; }
    /// <summary>Derived from <see cref="Weights"/> (<see cref="BitPack.ConvTapSums"/>).</summary>
    public int[] TapSums { get; }
    /// <summary>Per output channel multiplier of the integer dot product.</summary>
    public float[] Scale { get; }
    /// <summary>Per output channel shift.</summary>
    public float[] Shift { get; }

    /// <summary>Bytes of the packed weights plus the epilogue's floats (the tap sums are recomputed from the bits).</summary>
    public long Bytes => Weights.LongLength * sizeof(ulong) + (Scale.LongLength + Shift.LongLength) * sizeof(float);

    /// <summary>Packs latent weights [Cout, Cin, Kh, Kw]. <paramref name="scaled"/>: XNOR-Net's alpha (as the training
    /// kernels compute it, BinaryWeightKernel); <paramref name="bias"/> empty: none; <paramref name="gamma"/> empty: no
    /// BatchNorm (then beta, mean and var are ignored).</summary>
    public static PackedBinaryConv FromLatent(in Conv2dShape s, ReadOnlySpan<float> latent, bool scaled, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> var, float eps)
    {
        if (s.Groups != 1) throw new ArgumentException("Binary convolutions are dense (groups = 1).", nameof(s));
        if (latent.Length != s.WeightSize) throw new ArgumentException($"Expected {s.WeightSize} weights, got {latent.Length}.", nameof(latent));
        int cout = s.Cout, k = s.WeightSize / cout;
        var w = latent.ToArray();
        var packed = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, w, 0, packed, 0);
        var tapSums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, packed, 0, tapSums, 0);
        var alpha = new float[cout];
        if (scaled) BinaryWeightKernel.Forward(cout, k, w, 0, new float[w.Length], 0, alpha, 0);
        else Array.Fill(alpha, 1f);
        var scale = new float[cout];
        var shift = new float[cout];
        for (int co = 0; co < cout; co++)
        {
            float b = bias.IsEmpty ? 0f : bias[co];
            if (gamma.IsEmpty)
            {
                scale[co] = alpha[co];
                shift[co] = b;
                continue;
            }
            float g = gamma[co] / MathF.Sqrt(var[co] + eps);
            scale[co] = alpha[co] * g;
            shift[co] = (b - mean[co]) * g + beta[co];
        }
        return new PackedBinaryConv(s, packed, tapSums, scale, shift);
    }

    /// <summary>Bytes of the packed weights alone (what fp32 would store in 4 * <see cref="Conv2dShape.WeightSize"/>).</summary>
    public long WeightBytes => Weights.LongLength * sizeof(ulong);

    /// <summary>This layer's deploy-checkpoint tensors: "{prefix}.weight_bits" (U64 [Cout/16 rounded up, Kh*Kw, words of
    /// Cin, 16], BitPack's layout), "{prefix}.scale" and "{prefix}.shift" (F32 [Cout]); the tap sums are derived, not
    /// stored. The shape goes into the checkpoint's metadata under "{prefix}.conv" (<see cref="ShapeMetadata"/>).</summary>
    public IEnumerable<Checkpoints.RawTensor> ToTensors(string prefix)
    {
        var s = Shape;
        yield return Checkpoints.RawTensor.U64(prefix + ".weight_bits",
            [BitPack.PaddedChannels(s.Cout) / BitPack.Lanes, s.Kh * s.Kw, BitPack.Words(s.Cin), BitPack.Lanes], Weights);
        yield return Checkpoints.RawTensor.F32(prefix + ".scale", [s.Cout], Scale);
        yield return Checkpoints.RawTensor.F32(prefix + ".shift", [s.Cout], Shift);
    }

    /// <summary>The conv shape as "Cin,H,W,Cout,Kh,Kw,StrideH,StrideW,PadH,PadW,DilH,DilW,Groups".</summary>
    public string ShapeMetadata
    {
        get
        {
            var s = Shape;
            return string.Join(",", s.Cin, s.H, s.W, s.Cout, s.Kh, s.Kw, s.StrideH, s.StrideW, s.PadH, s.PadW, s.DilH, s.DilW, s.Groups);
        }
    }

    /// <summary>The layer <see cref="ToTensors"/> wrote under <paramref name="prefix"/> (shape from the metadata), with
    /// its tap sums recomputed from the bits: the same words, scale and shift, so the same outputs.</summary>
    /// <exception cref="InvalidDataException">A tensor or the shape is missing or does not match.</exception>
    public static PackedBinaryConv FromTensors(IReadOnlyDictionary<string, Checkpoints.RawTensor> tensors, IReadOnlyDictionary<string, string> metadata, string prefix)
    {
        if (!metadata.TryGetValue(prefix + ".conv", out var text))
            throw new InvalidDataException($"The checkpoint has no shape for '{prefix}' (metadata '{prefix}.conv').");
        var f = text.Split(',');
        if (f.Length != 13 || !f.All(v => int.TryParse(v, out int i) && i >= 0))
            throw new InvalidDataException($"Metadata '{prefix}.conv' is '{text}', expected 13 non-negative integers.");
        var d = f.Select(int.Parse).ToArray();
        var s = new Conv2dShape(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12]);
        if (s.Groups != 1) throw new InvalidDataException($"'{prefix}': binary convolutions are dense (groups = 1), the checkpoint says {s.Groups}.");
        Checkpoints.RawTensor Get(string name) => tensors.TryGetValue(prefix + name, out var t)
            ? t : throw new InvalidDataException($"The checkpoint has no tensor '{prefix}{name}'.");
        var w = Get(".weight_bits").AsU64();
        var scale = Get(".scale").AsF32();
        var shift = Get(".shift").AsF32();
        if (w.Length != BitPack.ConvWeightWords(s)) throw new InvalidDataException($"'{prefix}.weight_bits' has {w.Length} words, the shape needs {BitPack.ConvWeightWords(s)}.");
        if (scale.Length != s.Cout || shift.Length != s.Cout)
            throw new InvalidDataException($"'{prefix}': scale and shift need {s.Cout} values, got {scale.Length} and {shift.Length}.");
        var tapSums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, w, 0, tapSums, 0);
        return new PackedBinaryConv(s, w, tapSums, scale, shift);
    }

    /// <summary>y = act(scale * dot + shift + residual) as NCHW floats, from n packed samples
    /// (<see cref="BitPack.PackActivations"/>); a default <paramref name="residual"/> adds nothing.</summary>
    public void Forward<TAct>(int n, BitView x, View y, View residual = default) where TAct : struct, IActivation
        => BinaryConvKernel.Forward<TAct>(Shape, n, x, Weights, 0, TapSums, 0, Scale, 0, Shift, 0, y, residual);

    /// <summary>The exact integer dot products alone (scale 1, shift 0), as floats: the popcount part, for checks.</summary>
    public void Dot(int n, BitView x, View y) => BinaryConvKernel.Forward<Identity>(Shape, n, x, Weights, 0, TapSums, 0, null, 0, null, 0, y);
}
