// Models over the tensor ops of token and attention models: LayerNorm (with and without its affine parameters),
// Softmax over the last axis, MatMul with every combination of transposed operands, Transpose of any two axes,
// Mean and Sum over an axis, Concat and Slice along inner axes, Reshape through a 4-D value, and a small
// transformer-style block that composes them. Tiny, odd shapes (finite differences; kernels' scalar tails).
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>LayerNorm over tokens (N, D): the default layer, one without bias (another eps), one without affine
/// parameters, and one over the last axis of a 4-D value.</summary>
[Model]
public partial class LayerNormTokens
{
    readonly LayerNorm ln = new(6);
    readonly Linear fc = new(6, 7);
    readonly LayerNorm lnNoBias = new(7, eps: 1e-3f, bias: false);
    readonly LayerNorm lnPlain = new(7, elementwiseAffine: false);
    readonly LayerNorm ln4d = new(5);
    readonly Linear head = new(35 + 30, 3);

    Tensor Forward([Shape(5, 6)] Tensor x)
    {
        var h = fc.Forward(ln.Forward(x));                               // (5, 7)
        var a = lnNoBias.Forward(h) + lnPlain.Forward(h * h) * 0.5f;      // (5, 7)
        var d = ln4d.Forward(Reshape(x * 1.5f + 0.25f, 3, 1, 2, 5));      // (3, 1, 2, 5)
        return head.Forward(Concat(Flatten(Tanh(a)), Flatten(d)));
    }
}

/// <summary>Softmax over the last axis of (heads, rows, cols) scores, its output scaling the input (so the gradient
/// of the softmax is not its own sum). A linear layer's rank-3 output is a concat part written in place: its folded
/// kernel writes a dense temporary that is copied into place, and reads a dense copy of its gradient.</summary>
[Model]
public partial class SoftmaxRows
{
    readonly Linear mix = new(5, 5);
    readonly Linear score = new(5, 5);
    readonly Linear head = new(60, 3);

    Tensor Forward([Shape(2, 3, 5)] Tensor x)
    {
        var both = Concat(mix.Forward(x), x);                            // (4, 3, 5)
        var p = Softmax(score.Forward(both) * 2f);                       // (4, 3, 5)
        return head.Forward(Flatten(p * both + Softmax(both)));
    }
}

/// <summary>MatMul of per-sample matrices with every pair of transposition flags, and one operand on both sides.</summary>
[Model]
public partial class MatMulVariants
{
    readonly Linear fa = new(4, 4);
    readonly Linear fb = new(4, 4);
    readonly Linear head = new(24 + 32 + 24 + 24 + 18, 3);

    Tensor Forward([Shape(2, 3, 4)] Tensor x)
    {
        var a = fa.Forward(x);                                           // (2, 3, 4)
        var b = Tanh(fb.Forward(x));                                     // (2, 3, 4)
        var s = MatMul(a, b, transposeB: true);                          // (2, 3, 3)
        var g = MatMul(a, b, transposeA: true);                          // (2, 4, 4)
        var c = MatMul(s, a);                                            // (2, 3, 4)
        var t = MatMul(a, s, transposeA: true, transposeB: true);        // (2, 4, 3)
        var gram = MatMul(b, b, transposeB: true);                       // (2, 3, 3): b on both sides
        return head.Forward(Concat(Flatten(c), Flatten(g), Flatten(t), Flatten(MatMul(g, a, transposeB: true)), Flatten(gram)));
    }
}

/// <summary>Transpose (negative axes, non-adjacent axes, a 4-D value, one that is a view), Mean and Sum over an axis
/// (keepDim too), Concat along inner axes (and along an axis after length-1 axes, which stays in place), Slice along
/// inner axes (and one that is a view).</summary>
[Model]
public partial class AxisOps
{
    readonly Linear f = new(4, 4);
    readonly Linear head = new(24 + 8 + 6 + 30 + 15 + 16 + 24 + 8 + 16, 3);

    Tensor Forward([Shape(2, 3, 4)] Tensor x)
    {
        var h = Tanh(f.Forward(x));                                      // (2, 3, 4)
        var t = Transpose(h, 0, -1);                                     // (4, 3, 2)
        var m = Mean(h, 1);                                              // (2, 4)
        var s = Sum(h * x, -1, keepDim: true);                           // (2, 3, 1)
        var c = Concat([h, x * h], -1);                                  // (2, 3, 8)
        var sl = Slice(c, 2, 5, axis: -1);                               // (2, 3, 5)
        var mid = Slice(h, 1, 2, axis: 1);                               // (2, 2, 4)
        var t4 = Transpose(Reshape(h, 2, 3, 2, 2), 1, 2);                // (2, 2, 3, 2)
        var col = Transpose(Reshape(m, 1, 8), 0, 1);                     // (8, 1): a view
        var one = Concat([Reshape(m, 1, 8), Reshape(x, 1, 24)], 1);      // (1, 32): in place
        var row = Slice(one, 4, 16, axis: 1);                            // (1, 16): a view
        return head.Forward(Concat(Flatten(t), Flatten(m), Flatten(s), Flatten(sl), Flatten(Sum(sl, 0)),
            Flatten(mid), Flatten(t4), Flatten(col * col), Flatten(row)));
    }
}

/// <summary>Reshape across ranks 1 to 4: a feature vector through a 4-D value (whose axes a transpose swaps) to tokens
/// normalised by LayerNorm.</summary>
[Model]
public partial class RankReshape
{
    readonly Linear f = new(24, 24);
    readonly LayerNorm ln = new(4);
    readonly Linear head = new(24, 3);

    Tensor Forward([Shape(24)] Tensor x)
    {
        var v = Reshape(Tanh(f.Forward(x)), 2, 3, 2, 2);                 // (2, 3, 2, 2)
        var t = Reshape(Transpose(v, 1, 3), 6, 4);                       // (2, 2, 2, 3) -> (6, 4)
        return head.Forward(Flatten(ln.Forward(t)) + x);
    }
}

/// <summary>A small transformer-style block over token features (N, D) = (6, 8) with two heads of 4: pre-norm,
/// q/k/v projections, heads by Reshape and Transpose, scaled dot-product scores, Softmax, the weighted values
/// transposed back, an output projection with a residual, a second LayerNorm, the mean over tokens, a head.</summary>
[Model]
public partial class TinyTransformer
{
    const int N = 6, D = 8, H = 2, Dh = D / H;
    readonly LayerNorm ln1 = new(D);
    readonly Linear q = new(D, D);
    readonly Linear k = new(D, D);
    readonly Linear v = new(D, D);
    readonly Linear o = new(D, D);
    readonly LayerNorm ln2 = new(D);
    readonly Linear head = new(D, 3);

    /// <summary>(N, D) to (H, N, Dh).</summary>
    Tensor Heads(Tensor t) => Transpose(Reshape(t, N, H, Dh), 0, 1);

    Tensor Forward([Shape(N, D)] Tensor x)
    {
        var h = ln1.Forward(x);
        var qh = Heads(q.Forward(h));
        var kh = Heads(k.Forward(h));
        var vh = Heads(v.Forward(h));
        var att = Softmax(MatMul(qh, kh, transposeB: true) * 0.5f);     // (H, N, N), 1 / sqrt(Dh)
        var ctx = Reshape(Transpose(MatMul(att, vh), 0, 1), N, D);       // (N, H, Dh) -> (N, D)
        var r = x + o.Forward(ctx);
        return head.Forward(Mean(ln2.Forward(r), 0));
    }
}
