// Models over values of any rank, the new element-wise ops and PyTorch broadcasting: time-major images whose
// layers fold the time axis into the batch, token sequences through Linear and BatchNorm1d, scalar arithmetic,
// ELU / GELU / SiLU / Exp, and broadcasts that stretch both operands. Tiny shapes (finite differences).
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>(T, C, H, W): conv, BatchNorm2d, pools and global pooling applied to every time step at once; then
/// Linear and BatchNorm1d on (T, F); GELU on the BatchNorm (fused with it).</summary>
[Model]
public partial class TimeConv
{
    // No biases before the BatchNorms: batch statistics cancel them, so their gradients are exactly zero and
    // would only measure round-off.
    readonly Conv2d conv = new(2, 4, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn = new(4);
    readonly Linear fc = new(4, 5, bias: false);
    readonly BatchNorm1d bn1 = new(5);
    readonly Linear head = new(15, 3);

    Tensor Forward([Shape(3, 2, 5, 5)] Tensor x)
    {
        var h = Relu(bn.Forward(conv.Forward(x)));                 // (3, 4, 5, 5)
        h = AvgPool(MaxPool(h, 2, stride: 1), 2);                  // (3, 4, 2, 2)
        var t = GlobalAvgPool(h);                                  // (3, 4)
        var z = Gelu(bn1.Forward(fc.Forward(t)));                  // (3, 5)
        return head.Forward(Flatten(z));
    }
}

/// <summary>Token features (N, D): Linear on the last axis, SiLU fused into it in evaluation, scalar arithmetic
/// (x * c, x + c, x - c, c - x, x / c, c / x, -x), tensor Sub and Div, broadcasts of a (1, D) row and an (N, 1)
/// column over (N, D).</summary>
[Model]
public partial class TokenMlp
{
    readonly Linear up = new(6, 8);
    readonly Linear down = new(8, 6);
    readonly Linear gate = new(6, 1);
    readonly Linear head = new(30, 4);

    Tensor Forward([Shape(5, 6)] Tensor x)
    {
        var h = Silu(up.Forward(x)) * 0.5f + 1f;                   // (5, 8)
        var r = down.Forward(h) - 0.25f;                           // (5, 6)
        var row = Slice(x, 1, 1);                                  // (1, 6): token 1, broadcast over tokens
        var col = Tanh(gate.Forward(x));                           // (5, 1): one gate per token
        var y = (r + row) * col - x / 2f;
        var q = y / (col * col + 1.5f) + (1f - x) * -x;
        return head.Forward(Flatten(2f / (q * q + 1f) + Exp(q * 0.1f)));
    }
}

/// <summary>Every smooth activation, in element-wise trees and fused into conv/linear epilogues (evaluation) and
/// BatchNorm kernels (training): GELU exact and tanh, SiLU, Exp, ELU with its default and another alpha.</summary>
[Model]
public partial class SmoothActs
{
    readonly Conv2d conv = new(2, 3, kernel: 3, padding: 1);
    readonly BatchNorm2d bn = new(3);
    readonly Linear fc1 = new(48, 7);
    readonly Linear fc2 = new(7, 7);
    readonly Linear fc3 = new(7, 3);

    Tensor Forward([Shape(2, 4, 4)] Tensor x)
    {
        var h = Gelu(bn.Forward(conv.Forward(x)), approximate: "tanh");
        var f = Silu(fc1.Forward(Flatten(h)));
        var g = Elu(fc2.Forward(f)) + Elu(f, alpha: 0.5f) * Gelu(f);
        return fc3.Forward(g - Exp(-g * g));
    }
}

/// <summary>Broadcasts that stretch both operands ((C, 1, 1) times (1, H, W)), and one value read through two
/// placements in one tree: t (C) follows the channels against (C, H, W) but the last axis against (1, H, W).</summary>
[Model]
public partial class OuterBroadcast
{
    readonly Linear mix = new(3, 4);
    readonly Linear plane = new(48, 16);
    readonly Linear head = new(64, 3);

    Tensor Forward([Shape(3, 4, 4)] Tensor x)
    {
        var t = mix.Forward(GlobalAvgPool(x));                     // (4)
        var gate = Reshape(Sigmoid(t), 4, 1, 1);                   // (4, 1, 1)
        var p = Reshape(plane.Forward(Flatten(x)), 1, 4, 4);       // (1, 4, 4)
        var outer = gate * p;                                      // (4, 4, 4)
        var y = outer * t + (p + t);                               // t on the channels, then on the last axis
        return head.Forward(Flatten(y));
    }
}

/// <summary>A time slice feeding a conv that folds time into the batch: its input is a view inside a larger
/// buffer, so it is copied dense, and its gradient is written densely and added into the slice.</summary>
[Model]
public partial class SlicedTime
{
    readonly Conv2d first = new(2, 3, kernel: 1);
    readonly Conv2d second = new(3, 2, kernel: 3, padding: 1);
    readonly Linear head = new(4, 3);

    Tensor Forward([Shape(4, 2, 3, 3)] Tensor x)
    {
        var h = Tanh(first.Forward(x));                            // (4, 3, 3, 3)
        var mid = Slice(h, 1, 2);                                  // time steps 1 and 2: (2, 3, 3, 3)
        var y = GlobalAvgPool(second.Forward(mid));                // (2, 2)
        var all = GlobalAvgPool(h);                                // (4, 3): the rest of h's gradient
        return head.Forward(Flatten(y) + Slice(Flatten(all), 0, 4));
    }
}
