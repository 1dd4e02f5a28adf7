// Multi-head attention in TorchSharp, written as a PyTorch user writes it, on tensors in our layout
// ([n, N, D], heads interleaved in D): softmax attention through F.scaled_dot_product_attention, linear
// attention as fast-transformers' LinearAttention (einsums over phi(K)^T V and phi(K).sum) and, for the
// causal case, the usual cumsum over the [N, d, d] outer products (what CausalLinearAttention computes
// with its CUDA kernel, done with plain tensor ops). Shared by the parity tests and the benchmarks.
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>Feature maps of linear attention, by their PyTorch spelling.</summary>
public enum TorchFeatureMap
{
    /// <summary>F.elu(x) + 1.</summary>
    EluPlusOne,
    /// <summary>F.relu(x) (ReLU linear attention, SLAB's simplified linear attention).</summary>
    Relu,
}

/// <summary>Attention over [n, N, heads * headSize] tensors.</summary>
public static class TorchAttention
{
    /// <summary>[n, N, H * Dh] to [n, H, N, Dh].</summary>
    public static TorchTensor SplitHeads(TorchTensor x, long heads)
    {
        long n = x.shape[0], seq = x.shape[1], dim = x.shape[2];
        return x.view(n, seq, heads, dim / heads).transpose(1, 2);
    }

    /// <summary>[n, H, N, Dh] back to [n, N, H * Dh].</summary>
    public static TorchTensor MergeHeads(TorchTensor x)
    {
        long n = x.shape[0], heads = x.shape[1], seq = x.shape[2], dh = x.shape[3];
        return x.transpose(1, 2).reshape(n, seq, heads * dh);
    }

    /// <summary>F.scaled_dot_product_attention per head (scale 1/sqrt(Dh)).</summary>
    public static TorchTensor Softmax(TorchTensor q, TorchTensor k, TorchTensor v, long heads, bool causal) =>
        MergeHeads(F.scaled_dot_product_attention(SplitHeads(q, heads), SplitHeads(k, heads), SplitHeads(v, heads), is_casual: causal));

    /// <summary>phi(x).</summary>
    public static TorchTensor Phi(TorchTensor x, TorchFeatureMap map) => map == TorchFeatureMap.Relu ? F.relu(x) : F.elu(x, 1.0) + 1;

    /// <summary>Linear attention y_i = phi(q_i)^T S / (phi(q_i)^T z + eps); causal through cumsum over the tokens.</summary>
    public static TorchTensor Linear(TorchTensor q, TorchTensor k, TorchTensor v, long heads, bool causal, TorchFeatureMap map, double eps = 1e-6)
    {
        var phiQ = Phi(SplitHeads(q, heads), map);   // [n, H, N, Dh]
        var phiK = Phi(SplitHeads(k, heads), map);
        var vh = SplitHeads(v, heads);
        TorchTensor y;
        if (!causal)
        {
            var kv = torch.einsum("nhsd,nhsm->nhdm", phiK, vh);
            var z = 1 / (torch.einsum("nhld,nhd->nhl", phiQ, phiK.sum(2)) + eps);
            y = torch.einsum("nhld,nhdm,nhl->nhlm", phiQ, kv, z);
        }
        else
        {
            // S_i = sum_{j <= i} phi(k_j) v_j^T: the [n, H, N, Dh, Dh] tensor a user gets from cumsum.
            var kv = (phiK.unsqueeze(-1) * vh.unsqueeze(-2)).cumsum(2);
            var num = torch.einsum("nhld,nhldm->nhlm", phiQ, kv);
            var den = (phiQ * phiK.cumsum(2)).sum(-1) + eps;
            y = num / den.unsqueeze(-1);
        }
        return MergeHeads(y);
    }
}
