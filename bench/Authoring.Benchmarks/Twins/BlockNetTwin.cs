// EfficientBlocks' BlockNet (samples/EfficientBlocks/BlockNet.cs) in TorchSharp for SampleEpoch: every block is its
// reference PyTorch module (TorchBlocks.cs, the definitions the block parity tests check ours against).
using Authoring.Oracle.Tests;
using Authoring.Runtime;
using EfficientBlocks;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TDropout = TorchSharp.Modules.Dropout;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>BlockNet's layers, children named as the sample's fields.</summary>
public sealed class TorchBlockNet : Module<TorchTensor, TorchTensor>
{
    readonly TConv2d stem = Conv2d(1, 16, 3, stride: 2, padding: 1, bias: false);
    readonly TBatchNorm2d stemBn = BatchNorm2d(16);
    readonly TorchGhostBottleneck ghost = new(16, 48, 24, stride: 2, se_ratio: 0.25, attn: true);
    readonly TorchRepVggBlock repvgg = new(24, 24);
    readonly TorchMobileOneBlock depthwise = new(24, 24, 3, padding: 1, groups: 24, num_conv_branches: 2);
    readonly TorchMobileOneBlock pointwise = new(24, 32, 1, num_conv_branches: 2);
    readonly TorchRepGhostModule repghost = new(32, 32);
    readonly TLinear head = Linear(32, 10);

    /// <summary>Registers the layers.</summary>
    public TorchBlockNet() : base(nameof(TorchBlockNet)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        x = functional.relu(stemBn.call(stem.call(x)));
        x = ghost.call(x);
        x = repvgg.call(x);
        x = pointwise.call(depthwise.call(x));
        x = repghost.call(x);
        return head.call(x.mean(new long[] { 2, 3 }));
    }
}

/// <summary>The EfficientBlocks sample (batch 128, AdamW 3e-3).</summary>
public sealed class BlockNetTwin : ISampleTwin
{
    public string Name => "blocknet";
    public IModel CreateOurs() => new BlockNet();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchBlockNet();
    public bool HasDropout => false;
}
