// The sample's building blocks, each as a small model (block + global pool + linear head, so both sides
// end in the same loss): the generated code against the same layers in TorchSharp, inference and
// training step (forward + backward), at batch 1 and 64.
using Authoring;
using Authoring.Runtime;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static Authoring.Ops;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>conv 3x3 32->64 + BN + ReLU at 14x14 (the sample's second block).</summary>
[Model]
public partial class ConvBnReluBlock
{
    readonly Conv2d conv = new(32, 64, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn = new(64);
    readonly Linear head = new(64, 10);

    Tensor Forward([Shape(32, 14, 14)] Tensor x) => head.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
}

/// <summary>Depthwise 3x3 + BN + ReLU, pointwise 64->128 + BN + ReLU at 14x14 (the sample's third block).</summary>
[Model]
public partial class DepthwiseSeparableBlock
{
    readonly DepthwiseConv2d dw = new(64, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn1 = new(64);
    readonly Conv2d pw = new(64, 128, kernel: 1, bias: false);
    readonly BatchNorm2d bn2 = new(128);
    readonly Linear head = new(128, 10);

    Tensor Forward([Shape(64, 14, 14)] Tensor x) =>
        head.Forward(GlobalAvgPool(Relu(bn2.Forward(pw.Forward(Relu(bn1.Forward(dw.Forward(x))))))));
}

/// <summary>Shared harness for a model and its TorchSharp twin: the TorchSharp training step is the
/// baseline, so Ratio reads ours / TorchSharp.</summary>
public abstract class BlockBenchmark
{
    IModel? ours;
    float[] x = [], logits = [];
    int[] labels = [];
    Module<TorchTensor, TorchTensor>? net;
    TorchTensor? tx, ty;

    /// <summary>Batch size.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    /// <summary>Our model.</summary>
    protected abstract IModel CreateOurs();

    /// <summary>The same layers in TorchSharp.</summary>
    protected abstract Module<TorchTensor, TorchTensor> CreateTorch();

    /// <summary>Random inputs shared by both sides; TorchSharp on 2 threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        ours = CreateOurs();
        var rng = new Random(9);
        x = new float[Batch * ours.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() * 2 - 1;
        labels = Enumerable.Range(0, Batch).Select(i => i % 10).ToArray();
        logits = new float[Batch * ours.OutputSize];
        net = CreateTorch();
        tx = torch.tensor(x, new long[] { Batch }.Concat(ours.InputShape.Select(d => (long)d)).ToArray());
        ty = torch.tensor(labels.Select(l => (long)l).ToArray(), new long[] { Batch });
    }

    /// <summary>Trainable scalars of our model and of the TorchSharp twin, after <see cref="Setup"/>: equal when both
    /// sides are the same layers (the smoke test checks it).</summary>
    public (long Ours, long Torch) TrainableCounts =>
        (ours!.Parameters.TrainableCount, net!.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));

    /// <summary>Frees TorchSharp objects.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        net?.Dispose();
        tx?.Dispose();
        ty?.Dispose();
    }

    /// <summary>TorchSharp forward + cross-entropy + backward, BatchNorm in training mode.</summary>
    [Benchmark(Baseline = true)]
    public float TorchForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        net!.train();
        net.zero_grad();
        var loss = functional.cross_entropy(net.call(tx!), ty!);
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>Generated training step (forward, loss, backward).</summary>
    [Benchmark]
    public float OursForwardBackward() => ours!.TrainStep(x, labels, Batch).Loss;

    /// <summary>TorchSharp inference in eval mode without autograd.</summary>
    [Benchmark]
    public float TorchForward()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        net!.eval();
        return net.call(tx!).sum().item<float>();
    }

    /// <summary>Generated inference (BatchNorm folded into the convolution epilogues).</summary>
    [Benchmark]
    public float OursForward()
    {
        ours!.Infer(x, Batch, logits);
        return logits[0];
    }
}

/// <summary>conv-BN-ReLU block.</summary>
public class ConvBnReluBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new ConvBnReluBlock();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => Sequential(
        Conv2d(32, 64, 3, padding: 1, bias: false), BatchNorm2d(64), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(64, 10));
}

/// <summary>Depthwise-separable block.</summary>
public class DepthwiseSeparableBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new DepthwiseSeparableBlock();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => Sequential(
        Conv2d(64, 64, 3, padding: 1, groups: 64, bias: false), BatchNorm2d(64), ReLU(),
        Conv2d(64, 128, 1, bias: false), BatchNorm2d(128), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(128, 10));
}
