// Generated models using the fused attention ops and the TransformerBlock against PyTorch (ModelParityTests' check:
// evaluation logits at batch 3 and 1, two training steps' loss, every gradient; tolerance 1e-4 of each tensor's scale,
// as justified there). Each model of Models/AttentionModels.cs is mirrored with torch ops: softmax attention is
// F.scaled_dot_product_attention, linear attention TorchAttention.Linear (einsum, or cumsum when causal), the block
// timm's pre-norm ViT block with qkv split into consecutive dim-wide slices and GELU (erf) in the MLP.
using Authoring.Models.Tests.Models;
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class AttentionModelParityTests
{
    [Fact]
    public void SoftmaxAttentionSeparateProjections() => ModelParityTests.Check(new SdpaBlock(), (m, x) =>
    {
        var h = m.LayerNorm("ln", x, 8);
        var y = TorchAttention.Softmax(m.Linear("q", h), m.Linear("k", h), m.Linear("v", h), 2, causal: false);
        return m.Linear("head", (x + m.Linear("o", y)).mean(new long[] { 1 }));
    });

    [Fact]
    public void SoftmaxAttentionCausalSharedQkv() => ModelParityTests.Check(new SdpaCausalShared(), (m, x) =>
    {
        var h = m.Linear("proj", x);
        return m.Linear("head", TorchAttention.Softmax(h, h, h, 4, causal: true).mean(new long[] { 1 }));
    });

    [Fact]
    public void LinearAttentionElu() => ModelParityTests.Check(new LinearEluBlock(), (m, x) =>
    {
        var h = m.LayerNorm("ln", x, 8);
        var y = TorchAttention.Linear(m.Linear("q", h), m.Linear("k", h), m.Linear("v", h), 2, causal: false, TorchFeatureMap.EluPlusOne);
        return m.Linear("head", (x + y).mean(new long[] { 1 }));
    });

    [Fact]
    public void LinearAttentionReluCausalTwoChunks() => ModelParityTests.Check(new LinearReluCausal(), (m, x) =>
    {
        var y = TorchAttention.Linear(m.Linear("q", x), m.Linear("k", x), m.Linear("v", x), 2, causal: true, TorchFeatureMap.Relu);
        return m.Linear("head", y.mean(new long[] { 1 }));
    });

    [Fact]
    public void LinearAttentionEluCausalSharedQkv() => ModelParityTests.Check(new LinearEluCausalShared(), (m, x) =>
    {
        var h = m.Linear("proj", x);
        return m.Linear("head", TorchAttention.Linear(h, h, h, 1, causal: true, TorchFeatureMap.EluPlusOne).mean(new long[] { 1 }));
    });

    /// <summary>timm's Block: x + proj(attn(qkv(norm1(x)))), then x + fc2(gelu(fc1(norm2(x)))); with dwc, SLAB's
    /// depthwise conv of v over the token grid (per head, shared weights) added before the projection.</summary>
    static TorchTensor Block(TorchModel m, string name, TorchTensor x, int dim, int heads, bool linear, TorchFeatureMap map, bool causal,
        double eps = 1e-5, int dwc = 0, bool prepbn = false)
    {
        TorchTensor Norm(string path, TorchTensor v) => prepbn ? LinearNorm(m, name + "." + path, v, dim, eps) : m.LayerNorm(name + "." + path, v, dim, eps);
        long n = x.shape[0], seq = x.shape[1];
        var qkv = m.Linear(name + ".attn.qkv", Norm("norm1", x));
        var parts = qkv.split(dim, -1);
        var a = linear ? TorchAttention.Linear(parts[0], parts[1], parts[2], heads, causal, map)
                       : TorchAttention.Softmax(parts[0], parts[1], parts[2], heads, causal);
        if (dwc > 0)
        {
            long dh = dim / heads, g = (long)Math.Sqrt(seq);
            var grid = TorchAttention.SplitHeads(parts[2], heads).reshape(n * heads, seq, dh).transpose(1, 2).reshape(n * heads, dh, g, g);
            var conv = m.Conv(name + ".attn.dwc", grid, padding: dwc / 2, groups: (int)dh);
            a = a + TorchAttention.MergeHeads(conv.reshape(n, heads, dh, seq).transpose(2, 3));
        }
        var r = x + m.Linear(name + ".attn.proj", a);
        return r + m.Linear(name + ".mlp.fc2", F.gelu(m.Linear(name + ".mlp.fc1", Norm("norm2", r))));
    }

    /// <summary>SLAB's LinearNorm(norm1 = LayerNorm, norm2 = RepBN) on (B, N, C) tokens, as the reference's forward:
    /// training with warm &gt; 0 counts warm down and returns the LayerNorm; else lambda = iter / total_step (r0 = 1),
    /// iter counts down to 0, and the output is lambda LN(x) + (1 - lambda) RepBN(x); evaluation is RepBN(x) =
    /// BatchNorm1d over (B, C, N) + alpha x. The counters are updated in place, so the parity check compares them.
    /// One difference, ours: during warm-up the reference does not run norm2, while our graph does, so its running
    /// statistics move (the output and gradients are the reference's); this mirror runs it too.</summary>
    internal static TorchTensor LinearNorm(TorchModel m, string name, TorchTensor x, int dim, double eps)
    {
        TorchTensor RepBN() => m.BatchNorm(name + ".norm2.bn", x.transpose(1, 2)).transpose(1, 2) + m[name + ".norm2.alpha"] * x;
        if (!m.Train) return RepBN();
        var ln = m.LayerNorm(name + ".norm1", x, dim, eps);
        var warm = m[name + ".warm"];
        var iter = m[name + ".iter"];
        if (warm.item<double>() > 0)
        {
            warm.sub_(1);
            RepBN();
            return ln;
        }
        double lambda = iter.item<double>() / m[name + ".total_step"].item<double>();
        if (iter.item<double>() > 0) iter.sub_(1);
        return lambda * ln + (1 - lambda) * RepBN();
    }

    /// <summary>Sets every PRepBN's counters (warm, iter, total_step) of the store.</summary>
    static Action<Authoring.Runtime.ParameterStore> Counters(float warm, float iter, float total) => store =>
    {
        foreach (var info in store.Infos)
        {
            if (info.Name.EndsWith(".warm", StringComparison.Ordinal)) store.Value(store.IndexOf(info.Name))[0] = warm;
            if (info.Name.EndsWith(".iter", StringComparison.Ordinal)) store.Value(store.IndexOf(info.Name))[0] = iter;
            if (info.Name.EndsWith(".total_step", StringComparison.Ordinal)) store.Value(store.IndexOf(info.Name))[0] = total;
        }
    };

    // Two training steps each (ModelParityTests.Check): lambda 1 then 3/4; 1/2 then 1/4; 0 then 0 (iter at 0 stays);
    // warm-up (LayerNorm only) then lambda 1. Alpha is random in [0.5, 1.5), the BatchNorm statistics too.
    [Theory]
    [InlineData(0f, 4f, 4f)]
    [InlineData(0f, 2f, 4f)]
    [InlineData(0f, 0f, 4f)]
    [InlineData(1f, 3f, 3f)]
    public void PRepBNBlockLambdas(float warm, float iter, float total) => ModelParityTests.Check(new PRepBNBlock(), (m, x) =>
    {
        var t = Block(m, "b", m.Linear("embed", x), 8, 2, linear: true, TorchFeatureMap.EluPlusOne, causal: false, prepbn: true);
        return m.Linear("head", t.mean(new long[] { 1 }));
    }, adjust: Counters(warm, iter, total));

    [Fact]
    public void TransformerBlocksLinearAndCausalSoftmax() => ModelParityTests.Check(new TransformerBlocks(), (m, x) =>
    {
        var t = Block(m, "b1", m.Linear("embed", x), 8, 2, linear: true, TorchFeatureMap.EluPlusOne, causal: false);
        t = Block(m, "b2", t, 8, 4, linear: false, TorchFeatureMap.EluPlusOne, causal: true, eps: 1e-6);
        return m.Linear("head", t.mean(new long[] { 1 }));
    });

    [Fact]
    public void SlabBlockDepthwiseConvOfValues() => ModelParityTests.Check(new SlabBlock(), (m, x) =>
    {
        var t = Block(m, "b", m.Linear("embed", x), 8, 2, linear: true, TorchFeatureMap.Relu, causal: false, dwc: 3);
        return m.Linear("head", t.mean(new long[] { 1 }));
    });
}
