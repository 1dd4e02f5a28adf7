// The efficient CNN blocks of issue #4 (Dsl/Blocks.cs), each as a small model at a shape the samples use
// (block + global pool + linear head, like BlockBenchmarks.cs), against the reference modules re-written in
// TorchSharp (tests/Authoring.Oracle.Tests/TorchBlocks.cs, compiled here too: one definition for the parity
// tests and the benchmarks). Inference and training step at batch 1 and 64; the TorchSharp training step is
// the baseline, so Ratio reads ours / TorchSharp.
using Authoring;
using Authoring.Oracle.Tests;
using Authoring.Runtime;
using static Authoring.Ops;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>GhostNet's Ghost module 24->72 at 14x14 (1x1 primary conv to 36, depthwise 3x3 cheap op).</summary>
[Model]
public partial class GhostModuleNet
{
    readonly GhostModule ghost = new(24, 72);
    readonly Linear head = new(72, 10);

    Tensor Forward([Shape(24, 14, 14)] Tensor x) => head.Forward(GlobalAvgPool(ghost.Forward(x)));
}

/// <summary>GhostNet's bottleneck 24->72->40 at 14x14, depthwise 5x5 stride 2, squeeze-excite 0.25, conv shortcut.</summary>
[Model]
public partial class GhostBottleneckNet
{
    readonly GhostBottleneck bottleneck = new(24, 72, 40, dwKernel: 5, stride: 2, seRatio: 0.25f);
    readonly Linear head = new(40, 10);

    Tensor Forward([Shape(24, 14, 14)] Tensor x) => head.Forward(GlobalAvgPool(bottleneck.Forward(x)));
}

/// <summary>GhostNetV2's Ghost module with DFC attention 24->72 at 14x14 (2x2 average pool, 1x1 conv, 1x5 and
/// 5x1 depthwise convs with BatchNorm, sigmoid, nearest upsampling, product).</summary>
[Model]
public partial class GhostAttentionNet
{
    readonly GhostModule ghost = new(24, 72, attention: true);
    readonly Linear head = new(72, 10);

    Tensor Forward([Shape(24, 14, 14)] Tensor x) => head.Forward(GlobalAvgPool(ghost.Forward(x)));
}

/// <summary>RepVGG block 32->32 at 14x14, train-time form (3x3 conv+BN, 1x1 conv+BN, identity BN, ReLU);
/// its generated <c>RepVggNetDeploy</c> is the deploy-time form (one 3x3 conv with bias, ReLU).</summary>
[Model]
public partial class RepVggNet
{
    readonly RepVggBlock block = new(32, 32);
    readonly Linear head = new(32, 10);

    Tensor Forward([Shape(32, 14, 14)] Tensor x) => head.Forward(GlobalAvgPool(block.Forward(x)));
}

/// <summary>The TorchSharp frame around a reference block: pool, flatten, linear head.</summary>
static class TorchHead
{
    public static Module<TorchTensor, TorchTensor> Around(Module<TorchTensor, TorchTensor> block, long channels) => Sequential(
        ("block", block), ("pool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("head", Linear(channels, 10)));
}

/// <summary>Ghost module against ghostnet_pytorch's GhostModule.</summary>
public class GhostModuleBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new GhostModuleNet();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => TorchHead.Around(new TorchGhostModule(24, 72), 72);
}

/// <summary>Ghost bottleneck against ghostnet_pytorch's GhostBottleneck.</summary>
public class GhostBottleneckBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new GhostBottleneckNet();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() =>
        TorchHead.Around(new TorchGhostBottleneck(24, 72, 40, dw_kernel_size: 5, stride: 2, se_ratio: 0.25), 40);
}

/// <summary>DFC attention: Ghost module with attention against GhostNetV2's GhostModuleV2 in mode 'attn'.</summary>
public class DfcAttentionBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new GhostAttentionNet();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => TorchHead.Around(new TorchGhostModule(24, 72, attn: true), 72);
}

/// <summary>RepVGG block, train-time form (three branches) on both sides.</summary>
public class RepVggTrainBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new RepVggNet();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() => TorchHead.Around(new TorchRepVggBlock(32, 32), 32);
}

/// <summary>RepVGG block, deploy-time form: our generated <c>RepVggNetDeploy</c> (from <c>ToDeploy()</c>) against
/// RepVGG's deployed block in TorchSharp (rbr_reparam: one 3x3 conv with bias, then ReLU).</summary>
public class RepVggDeployBenchmarks : BlockBenchmark
{
    /// <inheritdoc />
    protected override IModel CreateOurs() => new RepVggNet().ToDeploy();

    /// <inheritdoc />
    protected override Module<TorchTensor, TorchTensor> CreateTorch() =>
        TorchHead.Around(Sequential(("rbr_reparam", Conv2d(32, 32, 3, padding: 1, bias: true)), ("nonlinearity", ReLU())), 32);
}
