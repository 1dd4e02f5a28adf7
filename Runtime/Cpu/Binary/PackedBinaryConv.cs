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

    /// <summary>y = act(scale * dot + shift + residual) as NCHW floats, from n packed samples
    /// (<see cref="BitPack.PackActivations"/>); a default <paramref name="residual"/> adds nothing.</summary>
    public void Forward<TAct>(int n, BitView x, View y, View residual = default) where TAct : struct, IActivation
        => BinaryConvKernel.Forward<TAct>(Shape, n, x, Weights, 0, TapSums, 0, Scale, 0, Shift, 0, y, residual);

    /// <summary>The exact integer dot products alone (scale 1, shift 0), as floats: the popcount part, for checks.</summary>
    public void Dot(int n, BitView x, View y) => BinaryConvKernel.Forward<Identity>(Shape, n, x, Weights, 0, TapSums, 0, null, 0, null, 0, y);
}
