// Binary (XNOR-popcount) convolution and linear layers against fp32: our packed kernel, our fp32
// kernel and TorchSharp's fp32 op on the same ±1 data, forward (inference), batch 1 and 16.
//   - the BinaryFashion sample's binary convs (64 channels at 14 x 14 and at 7 x 7), a stride-2 64 -> 128 and
//     128 channels at 7 x 7, and 256- and 512-channel 3 x 3 convolutions at 14 x 14, plus a 1 x 1;
//   - "packed" takes input already packed (a binary layer fed by the previous binary layer) and writes
//     floats through the fused epilogue (scale and shift: XNOR-Net's alpha with BatchNorm folded in);
//     "packed to bits" writes packed bits for the next binary layer instead (threshold per channel);
//     "pack+packed" also packs float input first (a layer behind a real-valued shortcut, Bi-Real style);
//   - the GFLOP/s column counts a multiply-add as 2 operations for every kernel, so for the packed
//     kernels it reads as binary GOPS (XNOR + popcount-accumulate of one bit pair = 2 operations);
//   - XnorPathBenchmarks compares the popcount implementations on one shape: scalar POPCNT on
//     64-bit words, the AVX2 nibble lookup, AVX2 and AVX-512 carry-save adders.
// Packed weights are 1 bit per weight: with Cin a multiple of 64 and Cout of 16, exactly 32x fewer
// bytes than fp32 (BitPackTests checks it; the tap sums derived from them at load time are not stored).
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>Shared setup of the binary convolution benchmarks.</summary>
public abstract class BinaryConvBenchmarkBase : IFlopCount
{
    /// <summary>The named shapes.</summary>
    protected static Conv2dShape Shape(string name) => name switch
    {
        "F64x14" => new(64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        "F64x7" => new(64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        "F64to128s2" => new(64, 14, 14, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1),
        "F128x7" => new(128, 7, 7, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        "C256x14" => new(256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        "C512x14" => new(512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        "P256x14" => new(256, 14, 14, 256, 1, 1, 1, 1, 0, 0, 1, 1, 1),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The convolution under test.</summary>
    protected Conv2dShape S;

    /// <summary>The convolution under test (for the lab harness).</summary>
    internal Conv2dShape Conv => S;
    /// <summary>±1 input and weights as floats, output, per-channel scale and shift.</summary>
    protected float[] X = [], W = [], Y = [], Scale = [], Shift = [];
    /// <summary>Packed input and weights, and the weights' tap sums.</summary>
    protected BitView Xb;
    /// <summary>Packed weights.</summary>
    protected ulong[] Wb = [];
    /// <summary>Tap sums of the packed weights.</summary>
    protected int[] Sums = [];
    /// <summary>TorchSharp tensors.</summary>
    protected TorchTensor? Tx, Tw;

    /// <summary>Batch size of the call.</summary>
    protected abstract int BatchSize { get; }

    /// <summary>Random ±1 data, packed copies, TorchSharp on 2 threads.</summary>
    protected void Prepare(Conv2dShape s)
    {
        torch.set_num_threads(2);
        S = s;
        var rng = new Random(7);
        float Pm() => rng.Next(2) == 0 ? -1f : 1f;
        int n = BatchSize;
        X = new float[n * s.InSize];
        for (int i = 0; i < X.Length; i++) X[i] = Pm();
        W = new float[s.WeightSize];
        for (int i = 0; i < W.Length; i++) W[i] = Pm();
        Y = new float[n * s.OutSize];
        Scale = new float[s.Cout];
        Shift = new float[s.Cout];
        for (int c = 0; c < s.Cout; c++) { Scale[c] = 0.01f + 0.001f * c; Shift[c] = 0.1f; }
        int words = BitPack.ActivationWords(s.Cin, s.H, s.W);
        Xb = new BitView(new ulong[n * words], 0, words);
        BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(X, 0, s.InSize), null, 0, Xb);
        Wb = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, W, 0, Wb, 0);
        Sums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, Wb, 0, Sums, 0);
        Tx = torch.tensor(X, new long[] { n, s.Cin, s.H, s.W });
        Tw = torch.tensor(W, new long[] { s.Cout, s.Cin, s.Kh, s.Kw });
    }

    /// <summary>Frees TorchSharp tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Tx?.Dispose();
        Tw?.Dispose();
    }

    /// <inheritdoc />
    public abstract double Flops(BenchmarkCase benchmarkCase);

    /// <summary>2 x batch x outputs x Cin Kh Kw.</summary>
    protected static double ConvOps(Conv2dShape s, int n) => 2.0 * n * s.OutSize * s.Cin * s.Kh * s.Kw;
}

/// <summary>Binary conv: packed vs our fp32 kernel vs TorchSharp fp32 (the baseline), forward.</summary>
public class BinaryConvBenchmarks : BinaryConvBenchmarkBase
{
    /// <summary>Shape name (see <see cref="BinaryConvBenchmarkBase"/>).</summary>
    [Params("F64x14", "F64x7", "F64to128s2", "F128x7", "C256x14", "C512x14", "P256x14")]
    public string Case { get; set; } = "F64x14";

    /// <summary>Batch size.</summary>
    [Params(1, 16)]
    public int Batch { get; set; } = 1;

    /// <inheritdoc />
    protected override int BatchSize => Batch;

    BitView Yb;

    /// <summary>Builds the data.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Prepare(Shape(Case));
        int words = BitPack.ActivationWords(S.Cout, S.Ho, S.Wo);
        Yb = new BitView(new ulong[Batch * words], 0, words);
    }

    /// <inheritdoc />
    public override double Flops(BenchmarkCase benchmarkCase)
        => ConvOps(Shape((string)benchmarkCase.Parameters["Case"]), Convert.ToInt32(benchmarkCase.Parameters["Batch"]));

    /// <summary>TorchSharp fp32 conv2d on the ±1 tensors, no autograd.</summary>
    [Benchmark(Baseline = true)]
    public void TorchFp32()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.nn.functional.conv2d(Tx!, Tw!, padding: new long[] { S.PadH, S.PadW }, strides: new long[] { S.StrideH, S.StrideW });
    }

    /// <summary>Our fp32 conv kernel on the ±1 floats.</summary>
    [Benchmark]
    public void OursFp32() =>
        Conv2dKernel.Forward<Identity>(S, Batch, new View(X, 0, S.InSize), W, 0, null, 0, null, 0, new View(Y, 0, S.OutSize));

    /// <summary>XNOR-popcount conv from packed input, float output with scale and shift.</summary>
    [Benchmark]
    public void OursPacked() =>
        BinaryConvKernel.Forward<Identity>(S, Batch, Xb, Wb, 0, Sums, 0, Scale, 0, Shift, 0, new View(Y, 0, S.OutSize));

    /// <summary>XNOR-popcount conv from packed input to packed output (a binary layer feeding the next one): the same
    /// popcount and scale, then a threshold per channel instead of NCHW floats, so 32x fewer output bytes.</summary>
    [Benchmark]
    public void OursPackedToBits() =>
        BinaryConvKernel.ForwardPacked<Identity>(S, Batch, Xb, Wb, 0, Sums, 0, Scale, 0, Shift, 0, null, 0, Yb);

    /// <summary>Packing the float input, then the XNOR-popcount conv.</summary>
    [Benchmark]
    public void OursPackAndPacked()
    {
        BitPack.PackActivations(Batch, S.Cin, S.H, S.W, new View(X, 0, S.InSize), null, 0, Xb);
        BinaryConvKernel.Forward<Identity>(S, Batch, Xb, Wb, 0, Sums, 0, Scale, 0, Shift, 0, new View(Y, 0, S.OutSize));
    }
}

/// <summary>The popcount implementations on one 3 x 3 shape, batch 1 (the paths this machine supports).</summary>
public class XnorPathBenchmarks : BinaryConvBenchmarkBase
{
    /// <summary>The popcount path.</summary>
    [ParamsSource(nameof(Paths))]
    public string Path { get; set; } = "Auto";

    /// <summary>Scalar POPCNT, AVX2 nibble lookup and carry-save, AVX-512 carry-save, as supported here.</summary>
    public static IEnumerable<string> Paths()
    {
        yield return "Scalar";
        if (XnorPopcount.Avx2Available) { yield return "Avx2"; yield return "Avx2Csa"; }
        if (XnorPopcount.Avx512Available) yield return "Avx512";
    }

    /// <summary>Shape name.</summary>
    [Params("F64x14", "C256x14", "C512x14")]
    public string Case { get; set; } = "F64x14";

    /// <inheritdoc />
    protected override int BatchSize => 1;

    /// <summary>Builds the data.</summary>
    [GlobalSetup]
    public void Setup() => Prepare(Shape(Case));

    /// <inheritdoc />
    public override double Flops(BenchmarkCase benchmarkCase) => ConvOps(Shape((string)benchmarkCase.Parameters["Case"]), 1);

    /// <summary>XNOR-popcount conv on the chosen path.</summary>
    [Benchmark]
    public void Packed() =>
        BinaryConvKernel.Forward<Identity>(S, 1, Xb, Wb, 0, Sums, 0, Scale, 0, Shift, 0, new View(Y, 0, S.OutSize), default, Enum.Parse<XnorPath>(Path));
}

/// <summary>Binary linear: packed vs our fp32 kernel vs TorchSharp fp32, forward.</summary>
public class BinaryLinearBenchmarks : IFlopCount
{
    /// <summary>"in x out".</summary>
    [Params("1152x128", "512x512", "4096x1024")]
    public string Case { get; set; } = "512x512";

    /// <summary>Batch size.</summary>
    [Params(1, 16)]
    public int Batch { get; set; } = 1;

    int inF, outF;
    float[] x = [], w = [], y = [], scale = [];
    BitView xb;
    ulong[] wb = [];
    TorchTensor? tx, tw;

    static (int, int) Dims(string c) { var p = c.Split('x'); return (int.Parse(p[0]), int.Parse(p[1])); }

    /// <inheritdoc />
    public double Flops(BenchmarkCase benchmarkCase)
    {
        var (i, o) = Dims((string)benchmarkCase.Parameters["Case"]);
        return 2.0 * i * o * Convert.ToInt32(benchmarkCase.Parameters["Batch"]);
    }

    /// <summary>Random ±1 data and packed copies.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        (inF, outF) = Dims(Case);
        var rng = new Random(5);
        x = new float[Batch * inF];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(2) == 0 ? -1f : 1f;
        w = new float[inF * outF];
        for (int i = 0; i < w.Length; i++) w[i] = rng.Next(2) == 0 ? -1f : 1f;
        y = new float[Batch * outF];
        scale = new float[outF];
        Array.Fill(scale, 0.01f);
        int words = BitPack.Words(inF);
        xb = new BitView(new ulong[Batch * words], 0, words);
        BitPack.PackFeatures(Batch, inF, new View(x, 0, inF), null, 0, xb);
        wb = new ulong[BitPack.LinearWeightWords(inF, outF)];
        BitPack.PackLinearWeights(inF, outF, w, 0, wb, 0);
        tx = torch.tensor(x, new long[] { Batch, inF });
        tw = torch.tensor(w, new long[] { outF, inF });
    }

    /// <summary>Frees TorchSharp tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        tx?.Dispose();
        tw?.Dispose();
    }

    /// <summary>TorchSharp fp32 linear, no autograd.</summary>
    [Benchmark(Baseline = true)]
    public void TorchFp32()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.nn.functional.linear(tx!, tw!);
    }

    /// <summary>Our fp32 linear kernel.</summary>
    [Benchmark]
    public void OursFp32() => LinearKernel.Forward<Identity>(Batch, inF, outF, new View(x, 0, inF), w, 0, null, 0, null, 0, new View(y, 0, outF));

    /// <summary>XNOR-popcount linear from packed features, float output with a scale.</summary>
    [Benchmark]
    public void OursPacked() => BinaryConvKernel.LinearForward<Identity>(Batch, inF, outF, xb, wb, 0, scale, 0, null, 0, new View(y, 0, outF));
}
