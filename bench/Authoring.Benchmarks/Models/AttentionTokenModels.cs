// Token models for the training-step scaling table (AttentionTrainStep.cs): an embedding, one pre-norm
// TransformerBlock of d = 64 with one head, and a per-token classifier, at N = 1024, 4096, 16384, once with linear
// attention (elu + 1) and once with softmax attention. The generator needs N as a constant, hence one class per
// (kind, N); everything else is identical so that the table isolates the attention's growth in N.
using Authoring;

namespace Authoring.Benchmarks.Models;

// Softmax attention over long sequences is the point of the comparison, not a mistake.
#pragma warning disable MDL0017

/// <summary>Embedding, one TransformerBlock (d = 64, one head, linear (elu + 1) attention), per-token logits; N = 1024.</summary>
[Model]
public partial class LinearTokens1024
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 1024;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "linear");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}

/// <summary>Embedding, one TransformerBlock (d = 64, one head, linear (elu + 1) attention), per-token logits; N = 4096.</summary>
[Model]
public partial class LinearTokens4096
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 4096;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "linear");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}

/// <summary>Embedding, one TransformerBlock (d = 64, one head, linear (elu + 1) attention), per-token logits; N = 16384.</summary>
[Model]
public partial class LinearTokens16384
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 16384;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "linear");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}

/// <summary>Embedding, one TransformerBlock (d = 64, one head, softmax attention), per-token logits; N = 1024.</summary>
[Model]
public partial class SoftmaxTokens1024
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 1024;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "softmax");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}

/// <summary>Embedding, one TransformerBlock (d = 64, one head, softmax attention), per-token logits; N = 4096.</summary>
[Model]
public partial class SoftmaxTokens4096
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 4096;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "softmax");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}

/// <summary>Embedding, one TransformerBlock (d = 64, one head, softmax attention), per-token logits; N = 16384.</summary>
[Model]
public partial class SoftmaxTokens16384
{
    /// <summary>Tokens per sample.</summary>
    public const int N = 16384;
    const int D = 64, V = 32;
    readonly Embedding embed = new(V, D);
    readonly TransformerBlock block = new(D, 1, attention: "softmax");
    readonly Linear head = new(D, V);

    Tensor Forward([Shape(N)] Tokens ids) => head.Forward(block.Forward(embed.Forward(ids)));
}
#pragma warning restore MDL0017
