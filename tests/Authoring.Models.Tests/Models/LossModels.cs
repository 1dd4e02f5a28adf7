// Models trained with each declared loss, and a token model: regression (MSE, L1), multi-label (BCE with
// logits), label smoothing, and a per-position language model over token ids read by an Embedding.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>One regression output trained with mean squared error.</summary>
[Model(Loss = Loss.Mse)]
public partial class Regressor
{
    readonly Linear hidden = new(5, 8);
    readonly Linear output = new(8, 1);

    Tensor Forward([Shape(5)] Tensor x) => output.Forward(Tanh(hidden.Forward(x)));
}

/// <summary>Three regression outputs trained with mean absolute error.</summary>
[Model(Loss = Loss.L1)]
public partial class L1Regressor
{
    readonly Linear hidden = new(5, 8);
    readonly Linear output = new(8, 3);

    Tensor Forward([Shape(5)] Tensor x) => output.Forward(Silu(hidden.Forward(x)));
}

/// <summary>Four independent yes/no labels: binary cross-entropy on logits.</summary>
[Model(Loss = Loss.BceWithLogits)]
public partial class MultiLabel
{
    readonly Conv2d conv = new(2, 4, kernel: 3, padding: 1);
    readonly Linear output = new(4, 4);

    Tensor Forward([Shape(2, 4, 4)] Tensor x) => output.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
}

/// <summary>Cross-entropy with label smoothing 0.1.</summary>
[Model(LabelSmoothing = 0.1f)]
public partial class SmoothedClassifier
{
    readonly Linear hidden = new(6, 8);
    readonly Linear output = new(8, 5);

    Tensor Forward([Shape(6)] Tensor x) => output.Forward(Relu(hidden.Forward(x)));
}

/// <summary>A tiny language model: token ids (7) -> embeddings (7, 6) -> per-position logits (7, 11), trained with
/// one label per position.</summary>
[Model]
public partial class TinyLm
{
    readonly Embedding embed = new(11, 6);
    readonly Linear mix = new(6, 6);
    readonly Linear output = new(6, 11);

    Tensor Forward([Shape(7)] Tokens ids)
    {
        var e = embed.Forward(ids);
        return output.Forward(Gelu(mix.Forward(e)) + e);
    }
}

/// <summary>Conv, BatchNorm, pool and a linear head: the non-finite trace tests overflow the head on purpose.</summary>
[Model]
public partial class Overflowing
{
    readonly Conv2d conv = new(1, 4, kernel: 3, padding: 1);
    readonly BatchNorm2d bn = new(4);
    readonly Linear fc = new(4, 3);

    Tensor Forward([Shape(1, 6, 6)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
}
