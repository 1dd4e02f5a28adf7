// Models over the fused multi-head attention ops: softmax attention (ScaledDotProductAttention) and linear
// attention with each feature map, causal and not, with separate q/k/v projections and with one value as q, k and v
// (its gradient gathers three contributions). Sequences cross the kernels' block (64 queries) and causal chunk
// (64 tokens) sizes so that the inter-block and inter-chunk paths are differentiated too.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>Pre-norm attention block with separate projections: LayerNorm, q/k/v, attention, output projection,
/// residual, mean over tokens, head.</summary>
[Model]
public partial class SdpaBlock
{
    const int N = 5, D = 8;
    readonly LayerNorm ln = new(D);
    readonly Linear q = new(D, D);
    readonly Linear k = new(D, D);
    readonly Linear v = new(D, D);
    readonly Linear o = new(D, D);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var h = ln.Forward(x);
        var y = ScaledDotProductAttention(q.Forward(h), k.Forward(h), v.Forward(h), heads: 2);
        return head.Forward(Mean(x + o.Forward(y), 0));
    }
}

/// <summary>Causal softmax attention over 67 tokens (two query blocks) with one value as q, k and v, 4 heads.</summary>
[Model]
public partial class SdpaCausalShared
{
    const int N = 67, D = 8;
    readonly Linear proj = new(D, D);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var h = proj.Forward(x);
        return head.Forward(Mean(ScaledDotProductAttention(h, h, h, 4, causal: true), 0));
    }
}

/// <summary>Non-causal elu+1 linear attention, separate projections, 2 heads.</summary>
[Model]
public partial class LinearEluBlock
{
    const int N = 7, D = 8;
    readonly LayerNorm ln = new(D);
    readonly Linear q = new(D, D);
    readonly Linear k = new(D, D);
    readonly Linear v = new(D, D);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var h = ln.Forward(x);
        var y = LinearAttention(q.Forward(h), k.Forward(h), v.Forward(h), heads: 2);
        return head.Forward(Mean(x + y, 0));
    }
}

/// <summary>Causal ReLU linear attention over 70 tokens (two chunks), separate projections, 2 heads.</summary>
[Model]
public partial class LinearReluCausal
{
    const int N = 70, D = 6;
    readonly Linear q = new(D, D);
    readonly Linear k = new(D, D);
    readonly Linear v = new(D, D);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var y = LinearAttention(q.Forward(x), k.Forward(x), v.Forward(x), 2, featureMap: "relu", causal: true);
        return head.Forward(Mean(y, 0));
    }
}

/// <summary>Causal elu+1 linear attention with one value as q, k and v, 1 head of 4.</summary>
[Model]
public partial class LinearEluCausalShared
{
    const int N = 9, D = 4;
    readonly Linear proj = new(D, D);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var h = proj.Forward(x);
        return head.Forward(Mean(LinearAttention(h, h, h, 1, "elu", true), 0));
    }
}

/// <summary>Two ready-made pre-norm transformer blocks (elu+1 linear attention, then causal softmax attention) on
/// linearly embedded tokens.</summary>
[Model]
public partial class TransformerBlocks
{
    const int N = 5, D = 8;
    readonly Linear embed = new(3, D);
    readonly TransformerBlock b1 = new(D, 2, mlpRatio: 2f);
    readonly TransformerBlock b2 = new(D, 4, mlpRatio: 1.5f, attention: "softmax", causal: true, qkvBias: false, eps: 1e-6f);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, 3)] Tensor x) => head.Forward(Mean(b2.Forward(b1.Forward(embed.Forward(x))), 0));
}

/// <summary>SLAB's simplified linear attention block: ReLU kernel plus the depthwise conv of v over a 3 x 3 token grid.</summary>
[Model]
public partial class SlabBlock
{
    const int N = 9, D = 8;
    readonly Linear embed = new(2, D);
    readonly TransformerBlock b = new(D, 2, mlpRatio: 1f, featureMap: "relu", dwcKernel: 3);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, 2)] Tensor x) => head.Forward(Mean(b.Forward(embed.Forward(x)), 0));
}

/// <summary>SLAB's PRepBN in both norms of a linear-attention block (LinearNorm of LayerNorm and RepBN, no warm-up,
/// lambda = iter / 4); its deploy twin folds each RepBN into attn.qkv and mlp.fc1.</summary>
[Model]
public partial class PRepBNBlock
{
    const int N = 6, D = 8;
    readonly Linear embed = new(3, D);
    readonly TransformerBlock b = new(D, 2, mlpRatio: 1.5f, norm: "prepbn", warmSteps: 0, totalSteps: 4);
    readonly Linear head = new(D, 3);

    Tensor Forward([Shape(N, 3)] Tensor x) => head.Forward(Mean(b.Forward(embed.Forward(x)), 0));
}
