// Static shapes of the kernels' problems. The generator emits them as constants.
namespace Authoring.Runtime.Cpu;

/// <summary>A 2-D convolution over NCHW samples; weight is [Cout, Cin/Groups, Kh, Kw].</summary>
public readonly record struct Conv2dShape(int Cin, int H, int W, int Cout, int Kh, int Kw,
    int StrideH, int StrideW, int PadH, int PadW, int DilH, int DilW, int Groups)
{
    /// <summary>Output height.</summary>
    public int Ho => (H + 2 * PadH - DilH * (Kh - 1) - 1) / StrideH + 1;
    /// <summary>Output width.</summary>
    public int Wo => (W + 2 * PadW - DilW * (Kw - 1) - 1) / StrideW + 1;
    /// <summary>Floats per input sample.</summary>
    public int InSize => Cin * H * W;
    /// <summary>Floats per output sample.</summary>
    public int OutSize => Cout * Ho * Wo;
    /// <summary>Weight elements.</summary>
    public int WeightSize => Cout * (Cin / Groups) * Kh * Kw;
    /// <summary>True when every channel has its own filter (groups = Cin = Cout).</summary>
    public bool IsDepthwise => Groups == Cin && Groups == Cout;
}

/// <summary>A 2-D pooling window over NCHW samples.</summary>
public readonly record struct Pool2dShape(int C, int H, int W, int Kh, int Kw, int StrideH, int StrideW, int PadH, int PadW)
{
    /// <summary>Output height.</summary>
    public int Ho => (H + 2 * PadH - Kh) / StrideH + 1;
    /// <summary>Output width.</summary>
    public int Wo => (W + 2 * PadW - Kw) / StrideW + 1;
}

/// <summary>A nearest-neighbour resize of NCHW samples from (C, H, W) to (C, Ho, Wo), up or down: PyTorch's
/// <c>F.interpolate(x, size=(Ho, Wo), mode='nearest')</c>.</summary>
public readonly record struct UpsampleShape(int C, int H, int W, int Ho, int Wo)
{
    /// <summary>Floats per input sample.</summary>
    public int InSize => C * H * W;
    /// <summary>Floats per output sample.</summary>
    public int OutSize => C * Ho * Wo;

    /// <summary>The input index output index <paramref name="dst"/> reads: min(floor(dst * scale), inLen - 1) with
    /// scale = (float)inLen / outLen, rounded to float at each step as PyTorch computes it (its CPU and CUDA
    /// kernels use float scales). The exact rational floor differs from it for some sizes, and then torch
    /// picks another pixel. The product is non-negative, so truncation is the floor.</summary>
    public static int Source(int dst, int inLen, int outLen)
    {
        float scale = (float)inLen / outLen;
        int src = (int)(float)(dst * scale);
        return src < inLen - 1 ? src : inLen - 1;
    }

    /// <summary>The output indices [<paramref name="lo"/>, <paramref name="hi"/>) that read input index
    /// <paramref name="src"/> (empty when downsampling skips it). <see cref="Source"/> never decreases, so they
    /// are one run; the search starts from the exact-arithmetic inverse and corrects for float rounding.</summary>
    public static void Readers(int src, int inLen, int outLen, out int lo, out int hi)
    {
        long guess = (long)src * outLen / inLen;
        int o = guess < outLen ? (int)guess : outLen;
        while (o > 0 && Source(o - 1, inLen, outLen) >= src) o--;
        while (o < outLen && Source(o, inLen, outLen) < src) o++;
        lo = o;
        while (o < outLen && Source(o, inLen, outLen) == src) o++;
        hi = o;
    }
}
