// The whole sample CNN: one training step (forward, softmax cross-entropy, backward) and one inference
// pass, generated code against the same network in TorchSharp. MemoryDiagnoser's Allocated column is
// the per-step managed allocation (the generated step must show 0 B).
using Authoring.Runtime;
using FashionCnn;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SmallCnn at batch 1 and 64; TorchSharp is the baseline.</summary>
public class TrainStepBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs()
    {
        var model = new SmallCnn();
        model.Parameters.Initialize(1);
        return model;
    }

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => Sequential(
        Conv2d(1, 32, 3, padding: 1, bias: false), BatchNorm2d(32), ReLU(), MaxPool2d(2),
        Conv2d(32, 64, 3, padding: 1, bias: false), BatchNorm2d(64), ReLU(),
        Conv2d(64, 64, 3, padding: 1, groups: 64, bias: false), BatchNorm2d(64), ReLU(),
        Conv2d(64, 128, 1, bias: false), BatchNorm2d(128), ReLU(), MaxPool2d(2),
        Conv2d(128, 128, 3, padding: 1, groups: 128, bias: false), BatchNorm2d(128), ReLU(),
        Conv2d(128, 128, 1, bias: false), BatchNorm2d(128), ReLU(),
        AdaptiveAvgPool2d(1), Flatten(), Dropout(0.2), Linear(128, 10));
}
