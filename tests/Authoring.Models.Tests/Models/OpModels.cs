// Small models that together exercise every op of the DSL, forward and backward. Shapes are tiny so the
// finite-difference oracle stays cheap; odd sizes exercise the kernels' scalar tails.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>Strided, padded conv with bias, ReLU, flatten, linear.</summary>
[Model]
public partial class ConvRelu
{
    readonly Conv2d conv = new(2, 4, kernel: 3, stride: 2, padding: 1);
    readonly Linear fc = new(36, 3);

    Tensor Forward([Shape(2, 6, 6)] Tensor x) => fc.Forward(Flatten(Relu(conv.Forward(x))));
}

/// <summary>Grouped, dilated conv without bias; ReLU6; average pooling with padding.</summary>
[Model]
public partial class GroupedDilated
{
    readonly Conv2d conv = new(4, 6, kernel: 3, padding: 2, dilation: 2, groups: 2, bias: false);
    readonly AvgPool2d pool = new(3, stride: 2, padding: 1);
    readonly Linear fc = new(54, 4);

    Tensor Forward([Shape(4, 5, 5)] Tensor x) => fc.Forward(Flatten(pool.Forward(Relu6(conv.Forward(x)))));
}

/// <summary>Depthwise stride-2 conv, BatchNorm2d, HardSwish, global pool.</summary>
[Model]
public partial class DepthwiseBn
{
    readonly DepthwiseConv2d dw = new(3, kernel: 3, stride: 2, padding: 1);
    readonly BatchNorm2d bn = new(3);
    readonly Linear fc = new(3, 3);

    Tensor Forward([Shape(3, 7, 7)] Tensor x) => fc.Forward(GlobalAvgPool(HardSwish(bn.Forward(dw.Forward(x)))));
}

/// <summary>Max pooling with padding, BatchNorm1d, Tanh, HardSigmoid.</summary>
[Model]
public partial class PoolNorm1d
{
    readonly Conv2d conv = new(1, 3, kernel: 3, padding: 1);
    readonly MaxPool2d pool = new(3, stride: 2, padding: 1);
    readonly Linear fc1 = new(27, 5);
    readonly BatchNorm1d bn = new(5);
    readonly Linear fc2 = new(5, 3);

    Tensor Forward([Shape(1, 5, 5)] Tensor x)
    {
        var h = Flatten(pool.Forward(conv.Forward(x)));
        var z = Tanh(bn.Forward(fc1.Forward(h)));
        return fc2.Forward(HardSigmoid(z));
    }
}

/// <summary>Squeeze-excite gate: a (C, 1, 1) sigmoid gate broadcast over channels, a residual Add.</summary>
[Model]
public partial class SqueezeExcite
{
    const int C = 4;
    readonly Conv2d conv = new(2, C, kernel: 3, padding: 1);
    readonly Linear squeeze = new(C, 2);
    readonly Linear excite = new(2, C);
    readonly Conv2d mix = new(C, C, kernel: 1);
    readonly Linear fc = new(C, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x)
    {
        var f = Relu(conv.Forward(x));
        var gate = Reshape(Sigmoid(excite.Forward(Relu(squeeze.Forward(GlobalAvgPool(f))))), C, 1, 1);
        var g = Mul(f, gate);
        var y = Add(mix.Forward(g), f) * gate;
        return fc.Forward(GlobalAvgPool(y));
    }
}

/// <summary>Ghost module: primary conv, cheap depthwise conv on its output, channel concat, slice.</summary>
[Model]
public partial class Ghost
{
    const int In = 3, Out = 5, Init = 3; // init = ceil(out / 2)
    readonly Conv2d primary = new(In, Init, kernel: 1, bias: false);
    readonly BatchNorm2d bn1 = new(Init);
    readonly DepthwiseConv2d cheap = new(Init, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn2 = new(Init);
    readonly Linear fc = new(Out * 16, 3);

    Tensor Forward([Shape(In, 4, 4)] Tensor x)
    {
        var a = Relu(bn1.Forward(primary.Forward(x)));
        var b = Relu(bn2.Forward(cheap.Forward(a)));
        return fc.Forward(Flatten(Slice(Concat(a, b), 0, Out)));
    }
}

/// <summary>Concat that needs copies (the same tensor twice, a slice view), dropout, a helper method.</summary>
[Model]
public partial class ConcatCopies
{
    readonly Conv2d conv = new(2, 3, kernel: 3, padding: 1);
    readonly Dropout drop = new(0.25f);
    readonly Linear fc = new(8 * 9, 3);

    Tensor Block(Tensor t) => Concat(t, t, Slice(t, 1, 2));

    Tensor Forward([Shape(2, 3, 3)] Tensor x) => fc.Forward(drop.Forward(Flatten(Block(Relu(conv.Forward(x))))));
}

/// <summary>An MLP: Linear + BatchNorm1d folds into the Linear epilogue at inference.</summary>
[Model]
public partial class Mlp
{
    readonly Linear fc1 = new(10, 7);
    readonly BatchNorm1d bn = new(7);
    readonly Linear fc2 = new(7, 4);

    Tensor Forward([Shape(10)] Tensor x) => fc2.Forward(Relu(bn.Forward(fc1.Forward(x))));
}

/// <summary>GhostNetV2's DFC attention in a 7x7 stage: 2x2 average pooling to 3x3, a 1x1 conv, a 1x5 then a 5x1
/// depthwise conv with (0, 2) and (2, 0) padding, each with BatchNorm, a sigmoid gate upsampled (nearest) back to
/// the odd 7x7, which is not an exact 2x, and multiplied into the features of a 1x1 conv.</summary>
[Model]
public partial class DfcAttention
{
    const int In = 3, C = 4;
    readonly Conv2d primary = new(In, C, kernel: 1);
    readonly Conv2d squeeze = new(In, C, kernel: 1, bias: false);
    readonly BatchNorm2d bn0 = new(C);
    readonly DepthwiseConv2d wide = new(C, kernel: 1, padding: 0, bias: false, kernelWidth: 5, paddingWidth: 2);
    readonly BatchNorm2d bn1 = new(C);
    readonly DepthwiseConv2d tall = new(C, kernel: 5, padding: 2, bias: false, kernelWidth: 1, paddingWidth: 0);
    readonly BatchNorm2d bn2 = new(C);
    readonly Linear fc = new(C, 3);

    Tensor Forward([Shape(In, 7, 7)] Tensor x)
    {
        var res = bn0.Forward(squeeze.Forward(AvgPool(x, 2)));
        res = bn1.Forward(wide.Forward(res));
        res = bn2.Forward(tall.Forward(res));
        var gate = UpsampleNearest(Sigmoid(res), 7, 7);
        return fc.Forward(GlobalAvgPool(Relu(primary.Forward(x)) * gate));
    }
}

/// <summary>Nearest resizing both ways, and dense band kernels: an exact 2x upsample, a 1x5 depthwise conv, a
/// downsample that skips rows and columns (they get no gradient), an upsample by 4/3 and 5/4 written into a concat
/// slice beside its own source (whose gradient then accumulates), and a dense 3x1 conv.</summary>
[Model]
public partial class Resize
{
    readonly Conv2d conv = new(2, 3, kernel: 3, padding: 1, kernelWidth: 1, paddingWidth: 0);
    readonly DepthwiseConv2d band = new(3, kernel: 1, kernelWidth: 5, paddingWidth: 2);
    readonly Linear fc = new(6 * 4 * 5, 3);

    Tensor Forward([Shape(2, 4, 5)] Tensor x)
    {
        var h = Tanh(conv.Forward(x));
        var up = band.Forward(UpsampleNearest(h, 8, 10));
        var back = UpsampleNearest(UpsampleNearest(up, 3, 4), 4, 5);
        return fc.Forward(Flatten(Concat(h, back)));
    }
}

/// <summary>Resizes where PyTorch's float source index differs from exact arithmetic: 26 rows to 22 (output row 11
/// reads input row 12, not 13) and 6 columns to 74 (output column 37 reads input column 2, not 3).</summary>
[Model]
public partial class ResizeRounding
{
    readonly DepthwiseConv2d dw = new(1, kernel: 3, padding: 1);
    readonly Linear fc = new(22 * 74, 3);

    Tensor Forward([Shape(1, 26, 6)] Tensor x) => fc.Forward(Flatten(UpsampleNearest(Relu(dw.Forward(x)), 22, 74)));
}
