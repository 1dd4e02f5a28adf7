// Re-parameterizable blocks written by hand in the DSL: the Deploy pass must find and fold them from
// the graph alone, exactly as it folds the library blocks.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>RepVGG: relu(conv3x3+BN + conv1x1+BN + BN(x)), then a stride-2 block without the identity branch.</summary>
[Model]
public partial class RepVggDsl
{
    const int C = 4;
    readonly Conv2d dense = new(C, C, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d denseBn = new(C);
    readonly Conv2d point = new(C, C, kernel: 1, bias: false);
    readonly BatchNorm2d pointBn = new(C);
    readonly BatchNorm2d identity = new(C);
    readonly Conv2d down = new(C, 6, kernel: 3, stride: 2, padding: 1, bias: false);
    readonly BatchNorm2d downBn = new(6);
    readonly Conv2d downPoint = new(C, 6, kernel: 1, stride: 2, bias: false);
    readonly BatchNorm2d downPointBn = new(6);
    readonly Linear fc = new(6, 3);

    Tensor Forward([Shape(C, 6, 6)] Tensor x)
    {
        var y = Relu(denseBn.Forward(dense.Forward(x)) + pointBn.Forward(point.Forward(x)) + identity.Forward(x));
        var z = Relu(downBn.Forward(down.Forward(y)) + downPointBn.Forward(downPoint.Forward(y)));
        return fc.Forward(GlobalAvgPool(z));
    }
}

/// <summary>MobileOne: a depthwise block (two 3x3 branches, a 1x1 scale branch, BN skip) and a pointwise
/// block (two 1x1 branches, BN skip), each followed by ReLU.</summary>
[Model]
public partial class MobileOneDsl
{
    const int C = 4;
    readonly Conv2d dw0 = new(C, C, kernel: 3, padding: 1, groups: C, bias: false);
    readonly BatchNorm2d dw0Bn = new(C);
    readonly Conv2d dw1 = new(C, C, kernel: 3, padding: 1, groups: C, bias: false);
    readonly BatchNorm2d dw1Bn = new(C);
    readonly Conv2d dwScale = new(C, C, kernel: 1, groups: C, bias: false);
    readonly BatchNorm2d dwScaleBn = new(C);
    readonly BatchNorm2d dwSkip = new(C);
    readonly Conv2d pw0 = new(C, C, kernel: 1, bias: false);
    readonly BatchNorm2d pw0Bn = new(C);
    readonly Conv2d pw1 = new(C, C, kernel: 1, bias: false);
    readonly BatchNorm2d pw1Bn = new(C);
    readonly BatchNorm2d pwSkip = new(C);
    readonly Linear fc = new(C, 3);

    Tensor Forward([Shape(C, 5, 5)] Tensor x)
    {
        var d = Relu(dwScaleBn.Forward(dwScale.Forward(x)) + dwSkip.Forward(x) + dw0Bn.Forward(dw0.Forward(x)) + dw1Bn.Forward(dw1.Forward(x)));
        var p = Relu(pwSkip.Forward(d) + pw0Bn.Forward(pw0.Forward(d)) + pw1Bn.Forward(pw1.Forward(d)));
        return fc.Forward(GlobalAvgPool(p));
    }
}

/// <summary>RepGhost: the cheap depthwise branch plus a BN of its input replace Ghost's concat.</summary>
[Model]
public partial class RepGhostDsl
{
    const int In = 3, C = 4;
    readonly Conv2d primary = new(In, C, kernel: 1, bias: false);
    readonly BatchNorm2d primaryBn = new(C);
    readonly DepthwiseConv2d cheap = new(C, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d cheapBn = new(C);
    readonly BatchNorm2d fusionBn = new(C);
    readonly Linear fc = new(C, 3);

    Tensor Forward([Shape(In, 5, 5)] Tensor x)
    {
        var x1 = Relu(primaryBn.Forward(primary.Forward(x)));
        var x2 = cheapBn.Forward(cheap.Forward(x1)) + fusionBn.Forward(x1);
        return fc.Forward(GlobalAvgPool(Relu(x2)));
    }
}

/// <summary>Folds that must not happen or must stay partial: a branch read twice, a raw identity, a BN after
/// a sum, a dilated conv, a linear with BatchNorm1d, a conv with its own bias.</summary>
[Model]
public partial class FoldEdges
{
    const int C = 4;
    readonly Conv2d a = new(C, C, kernel: 3, padding: 1, bias: true);
    readonly BatchNorm2d aBn = new(C);
    readonly Conv2d b = new(C, C, kernel: 1);
    readonly Conv2d dilated = new(C, C, kernel: 3, padding: 2, dilation: 2, bias: false);
    readonly BatchNorm2d dilatedBn = new(C);
    readonly BatchNorm2d sumBn = new(C);
    readonly Linear fc1 = new(C, 5, bias: false);
    readonly BatchNorm1d fcBn = new(5);
    readonly Linear fc2 = new(5, 3);

    Tensor Forward([Shape(C, 5, 5)] Tensor x)
    {
        var shared = aBn.Forward(a.Forward(x));            // read twice below: folds alone, not into the sum
        var s = sumBn.Forward(shared + b.Forward(shared) + shared * shared);
        var y = Relu(s + x);                                // raw identity over a non-affine value: no fold
        var d = Relu(dilatedBn.Forward(dilated.Forward(y)) + y);
        return fc2.Forward(Relu(fcBn.Forward(fc1.Forward(GlobalAvgPool(d)))));
    }
}

/// <summary>ACNet-style asymmetric branches: 3x3 + 1x3 + 3x1 convs with BN, summed, fold into one 3x3.</summary>
[Model]
public partial class AsymmetricDsl
{
    const int C = 3;
    readonly Conv2d square = new(C, 4, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d squareBn = new(4);
    readonly Conv2d horizontal = new(C, 4, kernel: 1, kernelWidth: 3, padding: 0, paddingWidth: 1, bias: false);
    readonly BatchNorm2d horizontalBn = new(4);
    readonly Conv2d vertical = new(C, 4, kernel: 3, kernelWidth: 1, padding: 1, paddingWidth: 0, bias: false);
    readonly BatchNorm2d verticalBn = new(4);
    readonly Linear fc = new(4 * 25, 3);

    Tensor Forward([Shape(C, 5, 5)] Tensor x) =>
        fc.Forward(Flatten(Relu(squareBn.Forward(square.Forward(x)) + horizontalBn.Forward(horizontal.Forward(x)) + verticalBn.Forward(vertical.Forward(x)))));
}
