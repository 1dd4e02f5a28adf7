// FashionCnn's SmallCnn (samples/FashionCnn/SmallCnn.cs) in TorchSharp, for SampleEpoch.
using Authoring.Runtime;
using FashionCnn;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TDropout = TorchSharp.Modules.Dropout;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SmallCnn's layers, children named as the sample's fields.</summary>
public sealed class TorchSmallCnn : Module<TorchTensor, TorchTensor>
{
    readonly TConv2d stem = Conv2d(1, 32, 3, padding: 1, bias: false);
    readonly TBatchNorm2d stemBn = BatchNorm2d(32);
    readonly TConv2d conv = Conv2d(32, 64, 3, padding: 1, bias: false);
    readonly TBatchNorm2d convBn = BatchNorm2d(64);
    readonly TConv2d dw1 = Conv2d(64, 64, 3, padding: 1, groups: 64, bias: false);
    readonly TBatchNorm2d dw1Bn = BatchNorm2d(64);
    readonly TConv2d pw1 = Conv2d(64, 128, 1, bias: false);
    readonly TBatchNorm2d pw1Bn = BatchNorm2d(128);
    readonly TConv2d dw2 = Conv2d(128, 128, 3, padding: 1, groups: 128, bias: false);
    readonly TBatchNorm2d dw2Bn = BatchNorm2d(128);
    readonly TConv2d pw2 = Conv2d(128, 128, 1, bias: false);
    readonly TBatchNorm2d pw2Bn = BatchNorm2d(128);
    readonly TDropout drop = Dropout(0.2);
    readonly TLinear head = Linear(128, 10);

    /// <summary>Registers the layers.</summary>
    public TorchSmallCnn() : base(nameof(TorchSmallCnn)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        x = functional.relu(stemBn.call(stem.call(x)));
        x = functional.max_pool2d(x, 2);
        x = functional.relu(convBn.call(conv.call(x)));
        x = functional.relu(dw1Bn.call(dw1.call(x)));
        x = functional.relu(pw1Bn.call(pw1.call(x)));
        x = functional.max_pool2d(x, 2);
        x = functional.relu(dw2Bn.call(dw2.call(x)));
        x = functional.relu(pw2Bn.call(pw2.call(x)));
        return head.call(drop.call(x.mean(new long[] { 2, 3 })));
    }
}

/// <summary>The FashionCnn sample (batch 128, AdamW 3e-3).</summary>
public sealed class SmallCnnTwin : ISampleTwin
{
    public string Name => "smallcnn";
    public IModel CreateOurs() => new SmallCnn();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchSmallCnn();
    public bool HasDropout => true;
}
