// The deploy form of one binary linear layer, PackedBinaryConv's counterpart: the signs of the latent weights [Out, In]
// packed into bits (BitPack.PackLinearWeights), one epilogue folding XNOR-Net's alpha = mean |w|, a bias and an
// evaluation-mode BatchNorm1d:
//   y = scale[o] * dot + shift[o] (+ residual),   scale = alpha * g,  shift = (bias - mean) * g + beta,
//   g = gamma / sqrt(var + eps)
// dot is the exact integer ±1 dot product (no padding, so no tap sums), so only the epilogue's few float roundings
// differ from the latent model's binarised forward.
using Authoring.Runtime.Checkpoints;

namespace Authoring.Runtime.Cpu;

/// <summary>A binary linear layer packed for XNOR-popcount inference (see the file header for the epilogue).</summary>
public sealed class PackedBinaryLinear
{
    PackedBinaryLinear(int inFeatures, int outFeatures, ulong[] weights, float[] scale, float[] shift)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weights = weights;
        Scale = scale;
        Shift = shift;
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>The packed signs of the weights (<see cref="BitPack.PackLinearWeights"/>).</summary>
    public ulong[] Weights { get; }
    /// <summary>Per output multiplier of the integer dot product.</summary>
    public float[] Scale { get; }
    /// <summary>Per output shift.</summary>
    public float[] Shift { get; }

    /// <summary>Bytes of the packed weights alone (fp32 would take 4 * In * Out).</summary>
    public long WeightBytes => Weights.LongLength * sizeof(ulong);

    /// <summary>Packs latent weights [Out, In]; the arguments mean what they mean in <see cref="PackedBinaryConv.FromLatent"/>.</summary>
    public static PackedBinaryLinear FromLatent(int inF, int outF, ReadOnlySpan<float> latent, bool scaled, ReadOnlySpan<float> bias,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> var, float eps)
    {
        if (inF <= 0 || outF <= 0) throw new ArgumentException($"Features must be positive, got {inF} -> {outF}.");
        if (latent.Length != inF * outF) throw new ArgumentException($"Expected {inF * outF} weights, got {latent.Length}.", nameof(latent));
        var w = latent.ToArray();
        var packed = new ulong[BitPack.LinearWeightWords(inF, outF)];
        BitPack.PackLinearWeights(inF, outF, w, 0, packed, 0);
        var alpha = new float[outF];
        if (scaled) BinaryWeightKernel.Forward(outF, inF, w, 0, new float[w.Length], 0, alpha, 0);
        else Array.Fill(alpha, 1f);
        var scale = new float[outF];
        var shift = new float[outF];
        for (int o = 0; o < outF; o++)
        {
            float b = bias.IsEmpty ? 0f : bias[o];
            if (gamma.IsEmpty)
            {
                scale[o] = alpha[o];
                shift[o] = b;
                continue;
            }
            float g = gamma[o] / MathF.Sqrt(var[o] + eps);
            scale[o] = alpha[o] * g;
            shift[o] = (b - mean[o]) * g + beta[o];
        }
        return new PackedBinaryLinear(inF, outF, packed, scale, shift);
    }

    /// <summary>"{prefix}.weight_bits" (U64 [Out/16 rounded up, words of In, 16]), "{prefix}.scale", "{prefix}.shift" (F32 [Out]);
    /// the features go into the metadata under "{prefix}.linear" (<see cref="ShapeMetadata"/>).</summary>
    public IEnumerable<RawTensor> ToTensors(string prefix)
    {
        yield return RawTensor.U64(prefix + ".weight_bits", [BitPack.PaddedChannels(OutFeatures) / BitPack.Lanes, BitPack.Words(InFeatures), BitPack.Lanes], Weights);
        yield return RawTensor.F32(prefix + ".scale", [OutFeatures], Scale);
        yield return RawTensor.F32(prefix + ".shift", [OutFeatures], Shift);
    }

    /// <summary>"In,Out".</summary>
    public string ShapeMetadata => $"{InFeatures},{OutFeatures}";

    /// <summary>The layer <see cref="ToTensors"/> wrote under <paramref name="prefix"/>.</summary>
    /// <exception cref="InvalidDataException">A tensor or the shape is missing or does not match.</exception>
    public static PackedBinaryLinear FromTensors(IReadOnlyDictionary<string, RawTensor> tensors, IReadOnlyDictionary<string, string> metadata, string prefix)
    {
        if (!metadata.TryGetValue(prefix + ".linear", out var text))
            throw new InvalidDataException($"The checkpoint has no shape for '{prefix}' (metadata '{prefix}.linear').");
        var f = text.Split(',');
        if (f.Length != 2 || !int.TryParse(f[0], out int inF) || !int.TryParse(f[1], out int outF) || inF <= 0 || outF <= 0)
            throw new InvalidDataException($"Metadata '{prefix}.linear' is '{text}', expected two positive integers (in, out).");
        RawTensor Get(string name) => tensors.TryGetValue(prefix + name, out var t) ? t : throw new InvalidDataException($"The checkpoint has no tensor '{prefix}{name}'.");
        var w = Get(".weight_bits").AsU64();
        var scale = Get(".scale").AsF32();
        var shift = Get(".shift").AsF32();
        if (w.Length != BitPack.LinearWeightWords(inF, outF))
            throw new InvalidDataException($"'{prefix}.weight_bits' has {w.Length} words, {inF} -> {outF} needs {BitPack.LinearWeightWords(inF, outF)}.");
        if (scale.Length != outF || shift.Length != outF)
            throw new InvalidDataException($"'{prefix}': scale and shift need {outF} values, got {scale.Length} and {shift.Length}.");
        return new PackedBinaryLinear(inF, outF, w, scale, shift);
    }

    /// <summary>y[b, o] = act(scale * dot + shift + residual) from n packed samples (<see cref="BitPack.PackFeatures"/>).</summary>
    public void Forward<TAct>(int n, BitView x, View y, View residual = default) where TAct : struct, IActivation
        => BinaryConvKernel.LinearForward<TAct>(n, InFeatures, OutFeatures, x, Weights, 0, Scale, 0, Shift, 0, y, residual);

    /// <summary>The exact integer dot products alone, as floats: the popcount part, for checks.</summary>
    public void Dot(int n, BitView x, View y) => BinaryConvKernel.LinearForward<Identity>(n, InFeatures, OutFeatures, x, Weights, 0, null, 0, null, 0, y);
}
