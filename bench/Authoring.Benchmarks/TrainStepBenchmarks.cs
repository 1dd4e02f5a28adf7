// One training step (forward, softmax cross-entropy, backward) and one inference pass of the sample
// CNN: the generated CPU SIMD code against the same network in TorchSharp. MemoryDiagnoser's
// Allocated column is the per-step managed allocation (the generated step must show 0 B).
using Authoring.Runtime;
using BenchmarkDotNet.Attributes;
using FashionCnn;
using TorchSharp;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SmallCnn train step and inference at batch 64 and 1; TorchSharp is the baseline.</summary>
public class TrainStepBenchmarks
{
    readonly SmallCnn ours = new();
    float[] x = [], logits = [];
    int[] labels = [];
    Module<TorchTensor, TorchTensor>? net;
    TorchTensor? tx, ty;

    /// <summary>Batch size.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    /// <summary>Random images and labels shared by both sides; TorchSharp on 2 threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        var rng = new Random(5);
        x = new float[Batch * 784];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle() * 2 - 1;
        labels = Enumerable.Range(0, Batch).Select(i => i % 10).ToArray();
        logits = new float[Batch * 10];
        ours.Parameters.Initialize(1);
        net = Sequential(
            Conv2d(1, 32, 3, padding: 1, bias: false), BatchNorm2d(32), ReLU(), MaxPool2d(2),
            Conv2d(32, 64, 3, padding: 1, bias: false), BatchNorm2d(64), ReLU(),
            Conv2d(64, 64, 3, padding: 1, groups: 64, bias: false), BatchNorm2d(64), ReLU(),
            Conv2d(64, 128, 1, bias: false), BatchNorm2d(128), ReLU(), MaxPool2d(2),
            Conv2d(128, 128, 3, padding: 1, groups: 128, bias: false), BatchNorm2d(128), ReLU(),
            Conv2d(128, 128, 1, bias: false), BatchNorm2d(128), ReLU(),
            AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(128, 10));
        tx = torch.tensor(x, new long[] { Batch, 1, 28, 28 });
        ty = torch.tensor(labels.Select(l => (long)l).ToArray(), new long[] { Batch });
    }

    /// <summary>Frees the TorchSharp module and tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        net?.Dispose();
        tx?.Dispose();
        ty?.Dispose();
    }

    /// <summary>TorchSharp: zero grads, forward, cross-entropy, backward (BatchNorm in train mode).</summary>
    [Benchmark(Baseline = true)]
    public float TorchTrainStep()
    {
        using var scope = torch.NewDisposeScope();
        net!.train();
        net.zero_grad();
        var loss = functional.cross_entropy(net.call(tx!), ty!);
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>Generated: the same step in one call, into the model's arena.</summary>
    [Benchmark]
    public float OursTrainStep() => ours.TrainStep(x, labels, Batch).Loss;

    /// <summary>TorchSharp inference (eval mode, no autograd).</summary>
    [Benchmark]
    public float TorchInfer()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        net!.eval();
        return net.call(tx!).sum().item<float>();
    }

    /// <summary>Generated inference (BatchNorm folded into the convolutions).</summary>
    [Benchmark]
    public float OursInfer()
    {
        ours.Infer(x, Batch, logits);
        return logits[0];
    }
}
