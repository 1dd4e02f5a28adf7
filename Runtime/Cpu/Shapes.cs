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
