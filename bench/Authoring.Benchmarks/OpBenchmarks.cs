// Each op of the sample on its own, at the sample's shapes: our Runtime kernels (what the generated code
// calls) against the same TorchSharp functional op, forward and forward+backward, batch 1 and 64.
// Backward on our side is every kernel the generated backward runs for that op (data and weight
// gradients); on TorchSharp's, autograd's backward from a given output gradient.
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>Shared harness: random input and output gradient; TorchSharp forward+backward is the baseline.</summary>
public abstract class OpBenchmark
{
    /// <summary>Batch size.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    /// <summary>Floats per input sample.</summary>
    protected abstract int InSize { get; }
    /// <summary>Floats per output sample.</summary>
    protected abstract int OutSize { get; }
    /// <summary>Input shape per sample.</summary>
    protected abstract long[] InShape { get; }
    /// <summary>Parameter floats (weights), 0 when none.</summary>
    protected virtual int ParamSize => 0;

    /// <summary>Our buffers.</summary>
    protected float[] X = [], Y = [], Dy = [], Dx = [], P = [], G = [];
    /// <summary>TorchSharp tensors.</summary>
    protected TorchTensor? Tx, Tp, Tdy;

    /// <summary>Random data, TorchSharp on 2 threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        var rng = new Random(3);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = rng.NextSingle() * 2 - 1; return a; }
        X = R(Batch * InSize);
        Y = new float[Batch * OutSize];
        Dy = R(Batch * OutSize);
        Dx = new float[Batch * InSize];
        P = R(Math.Max(1, ParamSize));
        G = new float[P.Length];
        Tx = torch.tensor(X, new long[] { Batch }.Concat(InShape).ToArray()).requires_grad_(true);
        Tp = torch.tensor(P, new long[] { P.Length }).requires_grad_(true);
        Tdy = torch.tensor(Dy, new long[] { Batch * OutSize });
    }

    /// <summary>Frees TorchSharp tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Tx?.Dispose();
        Tp?.Dispose();
        Tdy?.Dispose();
    }

    /// <summary>The op in TorchSharp on (x, the flat parameter vector).</summary>
    protected abstract TorchTensor TorchOp(TorchTensor x, TorchTensor p);
    /// <summary>Our forward kernels.</summary>
    protected abstract void OursFwd();
    /// <summary>Our backward kernels (after a forward).</summary>
    protected abstract void OursBwd();

    /// <summary>TorchSharp forward and backward.</summary>
    [Benchmark(Baseline = true)]
    public void TorchForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        Tx!.grad?.zero_();
        Tp!.grad?.zero_();
        TorchOp(Tx, Tp).reshape(-1).backward(new[] { Tdy! });
    }

    /// <summary>Our forward and backward kernels.</summary>
    [Benchmark]
    public void OursForwardBackward()
    {
        OursFwd();
        OursBwd();
    }

    /// <summary>TorchSharp forward without autograd.</summary>
    [Benchmark]
    public void TorchForward()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        TorchOp(Tx!, Tp!);
    }

    /// <summary>Our forward kernel.</summary>
    [Benchmark]
    public void OursForward() => OursFwd();
}

/// <summary>Convolutions of the sample (no bias; BN follows them).</summary>
public abstract class ConvOpBenchmark : OpBenchmark
{
    /// <summary>The convolution.</summary>
    protected abstract Conv2dShape S { get; }
    /// <inheritdoc />
    protected override int InSize => S.InSize;
    /// <inheritdoc />
    protected override int OutSize => S.OutSize;
    /// <inheritdoc />
    protected override long[] InShape => [S.Cin, S.H, S.W];
    /// <inheritdoc />
    protected override int ParamSize => S.WeightSize;

    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor x, TorchTensor p) =>
        nn.functional.conv2d(x, p.view(S.Cout, S.Cin / S.Groups, S.Kh, S.Kw), padding: new long[] { S.PadH, S.PadW }, groups: S.Groups);

    /// <inheritdoc />
    protected override void OursFwd() =>
        Conv2dKernel.Forward<Identity>(S, Batch, new View(X, 0, S.InSize), P, 0, null, 0, null, 0, new View(Y, 0, S.OutSize));

    /// <inheritdoc />
    protected override void OursBwd()
    {
        Conv2dKernel.BackwardWeights(S, Batch, new View(X, 0, S.InSize), new View(Dy, 0, S.OutSize), G, 0);
        Conv2dKernel.BackwardData(S, Batch, new View(Dy, 0, S.OutSize), P, 0, new View(Dx, 0, S.InSize), false);
    }
}

/// <summary>Stem: 3x3 conv 1->32 at 28x28.</summary>
public class StemConvOpBenchmarks : ConvOpBenchmark
{
    /// <inheritdoc />
    protected override Conv2dShape S => new(1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
}

/// <summary>3x3 conv 32->64 at 14x14.</summary>
public class Conv3x3OpBenchmarks : ConvOpBenchmark
{
    /// <inheritdoc />
    protected override Conv2dShape S => new(32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
}

/// <summary>Depthwise 3x3, 64 channels at 14x14.</summary>
public class DepthwiseOpBenchmarks : ConvOpBenchmark
{
    /// <inheritdoc />
    protected override Conv2dShape S => new(64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 64);
}

/// <summary>Pointwise 1x1 conv 64->128 at 14x14.</summary>
public class PointwiseOpBenchmarks : ConvOpBenchmark
{
    /// <inheritdoc />
    protected override Conv2dShape S => new(64, 14, 14, 128, 1, 1, 1, 1, 0, 0, 1, 1, 1);
}

/// <summary>Training-mode BatchNorm + ReLU (one fused kernel each way on our side), 64 channels at 14x14.</summary>
public class BatchNormReluOpBenchmarks : OpBenchmark
{
    const int C = 64, HW = 196;
    readonly float[] save = new float[2 * C];
    /// <inheritdoc />
    protected override int InSize => C * HW;
    /// <inheritdoc />
    protected override int OutSize => C * HW;
    /// <inheritdoc />
    protected override long[] InShape => [C, 14, 14];
    /// <inheritdoc />
    protected override int ParamSize => 4 * C;

    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor x, TorchTensor p)
    {
        using var mean = torch.zeros(C);
        using var var = torch.ones(C);
        return nn.functional.relu(nn.functional.batch_norm(x, mean, var, p.narrow(0, 0, C), p.narrow(0, C, C), training: true));
    }

    /// <inheritdoc />
    protected override void OursFwd() =>
        BatchNormKernel.ForwardTrain<Relu>(Batch, C, HW, new View(X, 0, InSize), P, 0, C, 2 * C, 3 * C, 0.1f, 1e-5f, save, 0, new View(Y, 0, OutSize));

    /// <inheritdoc />
    protected override void OursBwd() =>
        BatchNormKernel.BackwardTrain<Relu>(Batch, C, HW, new View(X, 0, InSize), new View(Dy, 0, OutSize), P, 0, C, save, 0, new View(Dx, 0, InSize), false, G, 0, C);
}

/// <summary>2x2 max pooling, 128 channels at 14x14.</summary>
public class MaxPoolOpBenchmarks : OpBenchmark
{
    static readonly Pool2dShape S = new(128, 14, 14, 2, 2, 2, 2, 0, 0);
    /// <inheritdoc />
    protected override int InSize => 128 * 196;
    /// <inheritdoc />
    protected override int OutSize => 128 * 49;
    /// <inheritdoc />
    protected override long[] InShape => [128, 14, 14];

    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor x, TorchTensor p) => nn.functional.max_pool2d(x, 2);

    /// <inheritdoc />
    protected override void OursFwd() => PoolKernel.MaxForward(S, Batch, new View(X, 0, InSize), new View(Y, 0, OutSize));

    /// <inheritdoc />
    protected override void OursBwd() => PoolKernel.MaxBackward(S, Batch, new View(X, 0, InSize), new View(Dy, 0, OutSize), new View(Dx, 0, InSize), false);
}

/// <summary>Linear 128->10 (the head).</summary>
public class LinearOpBenchmarks : OpBenchmark
{
    /// <inheritdoc />
    protected override int InSize => 128;
    /// <inheritdoc />
    protected override int OutSize => 10;
    /// <inheritdoc />
    protected override long[] InShape => [128];
    /// <inheritdoc />
    protected override int ParamSize => 1280;

    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor x, TorchTensor p) => nn.functional.linear(x, p.view(10, 128));

    /// <inheritdoc />
    protected override void OursFwd() => LinearKernel.Forward<Identity>(Batch, 128, 10, new View(X, 0, 128), P, 0, null, 0, null, 0, new View(Y, 0, 10));

    /// <inheritdoc />
    protected override void OursBwd()
    {
        LinearKernel.BackwardWeights(Batch, 128, 10, new View(X, 0, 128), new View(Dy, 0, 10), G, 0);
        LinearKernel.BackwardData(Batch, 128, 10, new View(Dy, 0, 10), P, 0, new View(Dx, 0, 128), false);
    }
}
