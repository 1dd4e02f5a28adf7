// Models for the training fusions (a conv taking the next BatchNorm's batch statistics in its epilogue; a conv
// applying a BatchNorm and its activation as its input prologue), compared with the same models generated
// without them (TrainFusionTests). Odd channel counts, bias and none, groups, stride, dilation, every path of
// the fused conv kernel (direct, Winograd-eligible 3x3, im2col 1x1, depthwise), and BatchNorms the fusion must
// leave alone (two consumers, a consumer that is not a conv).
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>A chain of every case: statistics taken by a strided conv with bias, by a 3x3 conv with odd output channels
/// (which the Runtime serves through its separate passes), by a 1x1 and by a grouped dilated conv; BatchNorm + activation
/// applied as the prologue of the 3x3 and of the grouped conv; a depthwise conv that takes neither (its BatchNorm trains
/// on its own), and BatchNorms applied on their own before a depthwise conv, a 1x1 conv and the pool.</summary>
[Model]
public partial class FusedChain
{
    readonly Conv2d c1 = new(3, 8, kernel: 3, stride: 2, padding: 1);
    readonly BatchNorm2d b1 = new(8);
    readonly Conv2d c2 = new(8, 9, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d b2 = new(9);
    readonly DepthwiseConv2d d3 = new(9, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d b3 = new(9);
    readonly Conv2d p4 = new(9, 10, kernel: 1);
    readonly BatchNorm2d b4 = new(10);
    readonly Conv2d g5 = new(10, 18, kernel: 3, padding: 2, dilation: 2, groups: 2, bias: false);
    readonly BatchNorm2d b5 = new(18);
    readonly Linear fc = new(18, 4);

    Tensor Forward([Shape(3, 11, 9)] Tensor x)
    {
        x = Relu(b1.Forward(c1.Forward(x)));          // 8 x 6 x 5, applied in c2's prologue
        x = Silu(b2.Forward(c2.Forward(x)));          // 9 x 6 x 5, applied on its own (depthwise next)
        x = HardSwish(b3.Forward(d3.Forward(x)));     // the depthwise conv takes no statistics
        x = b4.Forward(p4.Forward(x));                // no activation: g5's prologue is the affine alone
        x = Relu6(b5.Forward(g5.Forward(x)));         // 18 x 6 x 5, applied on its own (pool next)
        return fc.Forward(GlobalAvgPool(x));
    }
}

/// <summary>The shapes of the SmallCnn sample at 12x12 with fewer channels: statistics before a max pool (which applies
/// the BatchNorm and ReLU as it reads), a BatchNorm read by two consumers (not fused into either), one before an add.</summary>
[Model]
public partial class FusedBranches
{
    readonly Conv2d stem = new(1, 8, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d stemBn = new(8);
    readonly Conv2d conv = new(8, 12, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d convBn = new(12);
    readonly DepthwiseConv2d dw = new(12, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d dwBn = new(12);
    readonly Conv2d pw = new(12, 16, kernel: 1, bias: false);
    readonly BatchNorm2d pwBn = new(16);
    readonly Conv2d side = new(12, 16, kernel: 1, stride: 1);
    readonly Linear head = new(16, 5);

    Tensor Forward([Shape(1, 12, 12)] Tensor x)
    {
        x = MaxPool(Relu(stemBn.Forward(stem.Forward(x))), 2);     // 8 x 6 x 6
        x = Relu(convBn.Forward(conv.Forward(x)));                  // 12 x 6 x 6, read by dw and side
        var y = Relu(dwBn.Forward(dw.Forward(x)));
        y = Relu(pwBn.Forward(pw.Forward(y)));
        return head.Forward(GlobalAvgPool(y + side.Forward(x)));
    }
}
