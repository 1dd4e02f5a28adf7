// RepVggFashion's RepVggNet, train form (samples/RepVggFashion/RepVggNet.cs), in TorchSharp for SampleEpoch: the
// blocks are RepVGG's own RepVGGBlock (TorchBlocks.cs, the definition the block parity tests check ours against).
using Authoring.Oracle.Tests;
using Authoring.Runtime;
using RepVggFashion;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TDropout = TorchSharp.Modules.Dropout;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>RepVggNet's layers, children named as the sample's fields.</summary>
public sealed class TorchRepVggNet : Module<TorchTensor, TorchTensor>
{
    readonly TorchRepVggBlock stage0 = new(1, 16);
    readonly TorchRepVggBlock stage1a = new(16, 32, stride: 2);
    readonly TorchRepVggBlock stage1b = new(32, 32);
    readonly TorchRepVggBlock stage2a = new(32, 64, stride: 2);
    readonly TorchRepVggBlock stage2b = new(64, 64);
    readonly TorchRepVggBlock stage2c = new(64, 64);
    readonly TDropout drop = Dropout(0.1);
    readonly TLinear head = Linear(64, 10);

    /// <summary>Registers the layers.</summary>
    public TorchRepVggNet() : base(nameof(TorchRepVggNet)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        var y = stage1b.call(stage1a.call(stage0.call(x)));
        y = stage2c.call(stage2b.call(stage2a.call(y)));
        return head.call(drop.call(y.mean(new long[] { 2, 3 })));
    }
}

/// <summary>The RepVggFashion sample, train form (batch 128, AdamW 3e-3).</summary>
public sealed class RepVggTwin : ISampleTwin
{
    public string Name => "repvgg";
    public IModel CreateOurs() => new global::RepVggFashion.RepVggNet();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchRepVggNet();
    public bool HasDropout => true;
}
