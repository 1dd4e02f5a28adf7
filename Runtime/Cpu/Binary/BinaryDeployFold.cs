// What a generated ToDeploy runs for each binary layer it packs (Generators/Passes/Deploy.Binary.cs): the latent weights
// of the training store packed into the deploy model's BitStore, and XNOR-Net's scale, the bias and an evaluation
// BatchNorm folded into the float scale/shift of the popcount epilogue, exactly as PackedBinaryConv / PackedBinaryLinear
// fold them (the same code), so a generated deploy model and the hand-assembled layers agree to the bit.
namespace Authoring.Runtime.Cpu;

/// <summary>Packs binary layers of a trained store into a deploy model's tensors (offsets into flat arrays; -1: absent).</summary>
public static class BinaryDeployFold
{
    /// <summary>Conv: latent weights [Cout, Cin, Kh, Kw] at <paramref name="wOff"/> of <paramref name="src"/>; bias and
    /// BatchNorm (gamma, beta, mean, var) offsets or -1; writes the packed words at <paramref name="bitsOff"/> and the
    /// epilogue's scale / shift at <paramref name="scaleOff"/> / <paramref name="shiftOff"/> of <paramref name="dst"/>.</summary>
    public static void Conv(in Conv2dShape s, float[] src, int wOff, bool scaled, int biasOff, int gammaOff, int betaOff, int meanOff, int varOff,
        float eps, ulong[] bits, int bitsOff, float[] dst, int scaleOff, int shiftOff)
    {
        int c = s.Cout;
        var p = PackedBinaryConv.FromLatent(s, src.AsSpan(wOff, s.WeightSize), scaled, Slice(src, biasOff, c),
            Slice(src, gammaOff, c), Slice(src, betaOff, c), Slice(src, meanOff, c), Slice(src, varOff, c), eps);
        p.Weights.CopyTo(bits, bitsOff);
        p.Scale.CopyTo(dst, scaleOff);
        p.Shift.CopyTo(dst, shiftOff);
    }

    /// <summary>Linear: latent weights [Out, In]; the rest as <see cref="Conv"/>.</summary>
    public static void Linear(int inF, int outF, float[] src, int wOff, bool scaled, int biasOff, int gammaOff, int betaOff, int meanOff, int varOff,
        float eps, ulong[] bits, int bitsOff, float[] dst, int scaleOff, int shiftOff)
    {
        var p = PackedBinaryLinear.FromLatent(inF, outF, src.AsSpan(wOff, inF * outF), scaled, Slice(src, biasOff, outF),
            Slice(src, gammaOff, outF), Slice(src, betaOff, outF), Slice(src, meanOff, outF), Slice(src, varOff, outF), eps);
        p.Weights.CopyTo(bits, bitsOff);
        p.Scale.CopyTo(dst, scaleOff);
        p.Shift.CopyTo(dst, shiftOff);
    }

    /// <summary>RSign's packing threshold: sign(x + b) is -1 exactly when x &lt; -b (x + b rounds to a negative float only
    /// when it is negative, and to zero only when x = -b), so the threshold is -b, exactly.</summary>
    public static void Threshold(float[] src, int biasOff, int channels, float[] dst, int dstOff)
    {
        for (int i = 0; i < channels; i++) dst[dstOff + i] = -src[biasOff + i];
    }

    static ReadOnlySpan<float> Slice(float[] a, int off, int length) => off < 0 ? default : a.AsSpan(off, length);
}
