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
