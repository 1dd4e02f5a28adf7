// GhostNetFashion's GhostNet (samples/GhostNetFashion/GhostNet.cs) in TorchSharp for SampleEpoch: the bottlenecks are
// ghostnet_pytorch's (TorchBlocks.cs, the definition the block parity tests check ours against).
using Authoring.Oracle.Tests;
using Authoring.Runtime;
using GhostNetFashion;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TDropout = TorchSharp.Modules.Dropout;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>GhostNet's layers, children named as the sample's fields.</summary>
public sealed class TorchGhostNet : Module<TorchTensor, TorchTensor>
{
    readonly TConv2d stem = Conv2d(1, 16, 3, padding: 1, bias: false);
    readonly TBatchNorm2d stemBn = BatchNorm2d(16);
    readonly TorchGhostBottleneck b1 = new(16, 32, 16);
    readonly TorchGhostBottleneck b2 = new(16, 48, 24, stride: 2);
    readonly TorchGhostBottleneck b3 = new(24, 72, 24, attn: true);
    readonly TorchGhostBottleneck b4 = new(24, 72, 40, dw_kernel_size: 5, stride: 2, se_ratio: 0.25);
    readonly TorchGhostBottleneck b5 = new(40, 120, 40, se_ratio: 0.25, attn: true);
    readonly TConv2d head = Conv2d(40, 160, 1, bias: false);
    readonly TBatchNorm2d headBn = BatchNorm2d(160);
    readonly TDropout drop = Dropout(0.2);
    readonly TLinear classifier = Linear(160, 10);

    /// <summary>Registers the layers.</summary>
    public TorchGhostNet() : base(nameof(TorchGhostNet)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        var y = functional.relu(stemBn.call(stem.call(x)));
        y = b3.call(b2.call(b1.call(y)));
        y = b5.call(b4.call(y));
        y = functional.relu(headBn.call(head.call(y)));
        return classifier.call(drop.call(y.mean(new long[] { 2, 3 })));
    }
}

/// <summary>The GhostNetFashion sample (batch 128, AdamW 3e-3).</summary>
public sealed class GhostNetTwin : ISampleTwin
{
    public string Name => "ghostnet";
    public IModel CreateOurs() => new GhostNet();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchGhostNet();
    public bool HasDropout => true;
}
