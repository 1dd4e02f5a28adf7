// BinaryFashion's BiRealNet (samples/BinaryFashion/BiRealNet.cs), latent training form, in TorchSharp for SampleEpoch.
// The binary pieces are written as ReActNet's and Larq's PyTorch code writes them, with the detach trick, the same
// definitions tests/Authoring.Oracle.Tests/BinaryModelParityTests.cs checks our kernels against:
//   RSign (Ste, clip 1):       u = x + b;  (sign(u) - clamp(u, -1, 1)).detach() + clamp(u, -1, 1)
//   BinaryConv2d (Clip, XNOR): wb = (alpha sign(w)).detach() - clamp(w, -1, 1).detach() + clamp(w, -1, 1),
//                              alpha = mean |w| per output channel
//   RPReLU:                    LearnableBias, nn.PReLU(C), LearnableBias
// with sign(0) = +1 as ours (torch.sign would give 0).
using Authoring.Runtime;
using BinaryFashion;
using TorchSharp;
using TorchSharp.Modules;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>ReActNet's LearnableBias: a per-channel shift, parameter <c>bias</c> [C].</summary>
public sealed class TorchLearnableBias : Module<TorchTensor, TorchTensor>
{
    readonly Parameter bias;

    public TorchLearnableBias(int channels) : base(nameof(TorchLearnableBias))
    {
        bias = new Parameter(torch.zeros(channels));
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x) => x + bias.view(1, -1, 1, 1);
}

/// <summary>ReActNet's RSign with the clipped straight-through estimator: parameter <c>bias</c> [C].</summary>
public sealed class TorchRSign : Module<TorchTensor, TorchTensor>
{
    readonly Parameter bias;

    public TorchRSign(int channels) : base(nameof(TorchRSign))
    {
        bias = new Parameter(torch.zeros(channels));
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        var u = x + bias.view(1, -1, 1, 1);
        var c = u.clamp(-1, 1);
        return (torch.where(u.lt(0), torch.full_like(u, -1), torch.ones_like(u)) - c).detach() + c;
    }
}

/// <summary>ReActNet's HardBinaryConv with the XNOR-Net scale (no bias): parameter <c>weight</c> [out, in, k, k].</summary>
public sealed class TorchBinaryConv2d : Module<TorchTensor, TorchTensor>
{
    readonly Parameter weight;
    readonly long _padding;

    public TorchBinaryConv2d(int cin, int cout, int kernel, int padding) : base(nameof(TorchBinaryConv2d))
    {
        weight = new Parameter(torch.empty(cout, cin, kernel, kernel));
        _padding = padding;
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        var alpha = weight.abs().mean(new long[] { 1, 2, 3 }, keepdim: true);
        var clipped = weight.clamp(-1, 1);
        var signs = torch.where(weight.lt(0), torch.full_like(weight, -1), torch.ones_like(weight));
        var wb = (alpha.detach() * signs).detach() - clipped.detach() + clipped;
        return functional.conv2d(x, wb, padding: new[] { _padding, _padding });
    }
}

/// <summary>ReActNet's RPReLU: children <c>move1</c>, <c>prelu</c>, <c>move2</c>.</summary>
public sealed class TorchRPReLU : Module<TorchTensor, TorchTensor>
{
    readonly TorchLearnableBias move1, move2;
    readonly PReLU prelu;

    public TorchRPReLU(int channels) : base(nameof(TorchRPReLU))
    {
        move1 = new TorchLearnableBias(channels);
        prelu = PReLU(channels, 0.25);
        move2 = new TorchLearnableBias(channels);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x) => move2.call(prelu.call(move1.call(x)));
}

/// <summary>BiRealNet's layers, children named as the sample's fields.</summary>
public sealed class TorchBiRealNet : Module<TorchTensor, TorchTensor>
{
    const int C = 64;
    readonly TConv2d stem = Conv2d(1, C, 3, padding: 1, bias: false);
    readonly TBatchNorm2d stemBn = BatchNorm2d(C);
    readonly TorchRSign s1 = new(C), s2 = new(C), s3 = new(C);
    readonly TorchBinaryConv2d c1 = new(C, C, 3, 1), c2 = new(C, C, 3, 1), c3 = new(C, C, 3, 1);
    readonly TBatchNorm2d b1 = BatchNorm2d(C), b2 = BatchNorm2d(C), b3 = BatchNorm2d(C);
    readonly TorchRPReLU a1 = new(C), a2 = new(C), a3 = new(C);
    readonly TLinear head = Linear(C * 7 * 7, 10);

    /// <summary>Registers the layers.</summary>
    public TorchBiRealNet() : base(nameof(TorchBiRealNet)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        var h = functional.max_pool2d(stemBn.call(stem.call(x)), 2);
        h = a1.call(b1.call(c1.call(s1.call(h))) + h);
        h = functional.max_pool2d(h, 2);
        h = a2.call(b2.call(c2.call(s2.call(h))) + h);
        h = a3.call(b3.call(c3.call(s3.call(h))) + h);
        return head.call(h.flatten(1));
    }
}

/// <summary>The BinaryFashion sample's latent training (batch 128, AdamW 2e-3 without weight decay).</summary>
public sealed class BiRealTwin : ISampleTwin
{
    public string Name => "bireal";
    public IModel CreateOurs() => new BiRealNet();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchBiRealNet();
    public bool HasDropout => false;
    public float Lr => 2e-3f;
    public double WeightDecay => 0;
}
