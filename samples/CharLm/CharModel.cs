// A character-level causal language model with linear attention. Characters are embedded, mixed by a short causal
// depthwise convolution (each token sees itself and the three before it: the "short conv" of linear-attention
// language models, which also tells tokens apart by their order, as there is no position embedding), then two
// pre-norm TransformerBlocks with causal elu+1 linear attention (cost and state linear in the context), a LayerNorm
// and a linear layer to next-character logits at every position (per-position cross-entropy).
using Authoring;
using static Authoring.Ops;

namespace CharLm;

[Model]
public partial class CharModel
{
    /// <summary>Context length (tokens per training window) and vocabulary size (see Corpus).</summary>
    public const int Context = 128, Vocabulary = 100;
    const int D = 96, Heads = 4, Shift = 3;
    readonly Embedding embed = new(Vocabulary, D);
    readonly Conv2d shortConv = new(D, D, Shift + 1, padding: Shift, groups: D, kernelWidth: 1, paddingWidth: 0);
    readonly TransformerBlock block0 = new(D, Heads, mlpRatio: 3f, causal: true);
    readonly TransformerBlock block1 = new(D, Heads, mlpRatio: 3f, causal: true);
    readonly LayerNorm norm = new(D);
    readonly Linear head = new(D, Vocabulary);

    Tensor Forward([Shape(Context)] Tokens ids)
    {
        var e = embed.Forward(ids);                                           // (N, D)
        // Causal depthwise conv along the tokens: as (D, N + 2 Shift, 1) with the kernel over the token axis, the
        // first N outputs are y_i = sum_{s <= Shift} w_s e_{i - s} (zero before the start).
        var c = shortConv.Forward(Reshape(Transpose(e, 0, 1), D, Context, 1));
        var x = e + Transpose(Reshape(Slice(c, 0, Context, axis: 1), D, Context), 0, 1);
        x = block1.Forward(block0.Forward(x));
        return head.Forward(norm.Forward(x));                                // (N, Vocabulary)
    }
}
