// VitFashion's VitNet (samples/VitFashion/VitNet.cs) in TorchSharp for SampleEpoch: timm's pre-norm Block with SLAB's
// simplified linear attention (ReLU feature map, the depthwise conv of v over the 7 x 7 token grid) and SLAB's
// LinearNorm (PRepBN) in both norms, written as the reference modules are, with the definitions the parity tests check
// ours against (tests/Authoring.Oracle.Tests/AttentionModelParityTests.cs: Block, LinearNorm; TorchAttention.Linear).
// The counters warm / iter / total_step are float buffers, as our store keeps them.
using Authoring.Oracle.Tests;
using Authoring.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using VitFashion;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TLinear = TorchSharp.Modules.Linear;
using TLayerNorm = TorchSharp.Modules.LayerNorm;
using TBatchNorm1d = TorchSharp.Modules.BatchNorm1d;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SLAB's RepBN: BatchNorm1d over the features of (B, N, C) tokens plus alpha x; children <c>bn</c>,
/// parameter <c>alpha</c>.</summary>
public sealed class TorchRepBN : Module<TorchTensor, TorchTensor>
{
    readonly TBatchNorm1d bn;
    readonly Parameter alpha;

    public TorchRepBN(int dim) : base(nameof(TorchRepBN))
    {
        bn = BatchNorm1d(dim);
        alpha = new Parameter(torch.ones(1));
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x) => bn.call(x.transpose(1, 2)).transpose(1, 2) + alpha * x;
}

/// <summary>SLAB's LinearNorm(LayerNorm, RepBN) with its schedule; see AttentionModelParityTests.LinearNorm (which this
/// follows step for step, including running the RepBN during warm-up as ours does).</summary>
public sealed class TorchLinearNorm : Module<TorchTensor, TorchTensor>
{
    readonly TLayerNorm norm1;
    readonly TorchRepBN norm2;
    readonly TorchTensor warm, iter, total_step;

    public TorchLinearNorm(int dim, int warmSteps, int totalSteps) : base(nameof(TorchLinearNorm))
    {
        norm1 = LayerNorm(dim);
        norm2 = new TorchRepBN(dim);
        warm = torch.tensor(new float[] { warmSteps });
        iter = torch.tensor(new float[] { totalSteps });
        total_step = torch.tensor(new float[] { totalSteps });
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        if (!training) return norm2.call(x);
        var ln = norm1.call(x);
        using (torch.no_grad())
        {
            if (warm.item<float>() > 0)
            {
                warm.sub_(1);
                norm2.call(x);
                return ln;
            }
        }
        double lambda = iter.item<float>() / (double)total_step.item<float>();
        using (torch.no_grad())
            if (iter.item<float>() > 0) iter.sub_(1);
        return lambda * ln + (1 - lambda) * norm2.call(x);
    }
}

/// <summary>SLAB's simplified linear attention: children <c>qkv</c>, <c>proj</c>, <c>dwc</c> (per head, shared).</summary>
public sealed class TorchSlabAttention : Module<TorchTensor, TorchTensor>
{
    readonly TLinear qkv, proj;
    readonly TConv2d dwc;
    readonly int _dim, _heads;

    public TorchSlabAttention(int dim, int heads, int kernel) : base(nameof(TorchSlabAttention))
    {
        (_dim, _heads) = (dim, heads);
        qkv = Linear(dim, 3 * dim);
        proj = Linear(dim, dim);
        dwc = Conv2d(dim / heads, dim / heads, kernel, padding: kernel / 2, groups: dim / heads);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        long n = x.shape[0], seq = x.shape[1], dh = _dim / _heads, g = (long)Math.Sqrt(seq);
        var parts = qkv.call(x).split(_dim, -1);
        var a = TorchAttention.Linear(parts[0], parts[1], parts[2], _heads, causal: false, TorchFeatureMap.Relu);
        var grid = TorchAttention.SplitHeads(parts[2], _heads).reshape(n * _heads, seq, dh).transpose(1, 2).reshape(n * _heads, dh, g, g);
        a = a + TorchAttention.MergeHeads(dwc.call(grid).reshape(n, _heads, dh, seq).transpose(2, 3));
        return proj.call(a);
    }
}

/// <summary>The MLP of a block: children <c>fc1</c>, <c>fc2</c>, GELU between.</summary>
public sealed class TorchMlp : Module<TorchTensor, TorchTensor>
{
    readonly TLinear fc1, fc2;

    public TorchMlp(int dim, int hidden) : base(nameof(TorchMlp))
    {
        fc1 = Linear(dim, hidden);
        fc2 = Linear(hidden, dim);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x) => fc2.call(functional.gelu(fc1.call(x)));
}

/// <summary>timm's pre-norm Block with PRepBN norms: children <c>norm1</c>, <c>attn</c>, <c>norm2</c>, <c>mlp</c>.</summary>
public sealed class TorchSlabBlock : Module<TorchTensor, TorchTensor>
{
    readonly TorchLinearNorm norm1, norm2;
    readonly TorchSlabAttention attn;
    readonly TorchMlp mlp;

    public TorchSlabBlock(int dim, int heads, int hidden, int kernel, int warmSteps, int totalSteps) : base(nameof(TorchSlabBlock))
    {
        norm1 = new TorchLinearNorm(dim, warmSteps, totalSteps);
        attn = new TorchSlabAttention(dim, heads, kernel);
        norm2 = new TorchLinearNorm(dim, warmSteps, totalSteps);
        mlp = new TorchMlp(dim, hidden);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x)
    {
        var r = x + attn.call(norm1.call(x));
        return r + mlp.call(norm2.call(r));
    }
}

/// <summary>VitNet's layers, children named as the sample's fields.</summary>
public sealed class TorchVitNet : Module<TorchTensor, TorchTensor>
{
    const int D = 64, Heads = 4, Warm = 469, Anneal = 4 * 469;
    readonly TConv2d stem1 = Conv2d(1, 32, 3, stride: 2, padding: 1, bias: false);
    readonly TBatchNorm2d bn1 = BatchNorm2d(32);
    readonly TConv2d stem2 = Conv2d(32, D, 3, stride: 2, padding: 1, bias: false);
    readonly TBatchNorm2d bn2 = BatchNorm2d(D);
    readonly TorchSlabBlock block0 = new(D, Heads, 2 * D, 3, Warm, Anneal), block1 = new(D, Heads, 2 * D, 3, Warm, Anneal),
        block2 = new(D, Heads, 2 * D, 3, Warm, Anneal), block3 = new(D, Heads, 2 * D, 3, Warm, Anneal);
    readonly TLayerNorm norm = LayerNorm(D);
    readonly TLinear head = Linear(D, 10);

    /// <summary>Registers the layers.</summary>
    public TorchVitNet() : base(nameof(TorchVitNet)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits.</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        var s = bn2.call(stem2.call(functional.relu(bn1.call(stem1.call(x)))));
        var t = s.reshape(s.shape[0], D, 49).transpose(1, 2);
        t = block3.call(block2.call(block1.call(block0.call(t))));
        return head.call(norm.call(t).mean(new long[] { 1 }));
    }
}

/// <summary>The VitFashion sample (batch 128, AdamW 2e-3, weight decay 5e-4), in its PRepBN warm-up (LayerNorm) phase,
/// which is where the first epoch of a run trains.</summary>
public sealed class VitTwin : ISampleTwin
{
    public string Name => "vit";
    public IModel CreateOurs() => new VitNet();
    public Module<TorchTensor, TorchTensor> CreateTorch() => new TorchVitNet();
    public bool HasDropout => false;
    public float Lr => 2e-3f;
}
