// One 4-block network written three ways: with a for loop over layer arrays and a helper taking a layer
// (LoopNet), with the same arrays indexed by hand (UnrolledNet), and with one field per layer (FieldsNet).
// The first two must have the same parameters, names included; all three must compute the same thing.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>Four RepVGG blocks (the third strided, the fourth grouped) applied in a for loop; after every second
/// block a 1x1 mixing conv from a second array, applied by a helper that takes the layer as a parameter.</summary>
[Model]
public partial class LoopNet
{
    readonly RepVggBlock[] stage = [new(3, 4), new(4, 4), new(4, 6, stride: 2), new(6, 6, groups: 2)];
    readonly Conv2d[] mix = [new(4, 4, kernel: 1), new(6, 6, kernel: 1)];
    readonly Linear head = new(6, 3);

    Tensor Mix(Conv2d conv, Tensor t, float scale) => t + Relu(conv.Forward(t)) * scale;

    Tensor Forward([Shape(3, 6, 6)] Tensor x)
    {
        var h = x;
        for (int i = 0; i < stage.Length; i++)
        {
            h = stage[i].Forward(h);
            if (i % 2 == 1) h = Mix(mix[i / 2], h, 0.5f);
        }
        return head.Forward(GlobalAvgPool(h));
    }
}

/// <summary>LoopNet with its loop and helper unrolled by hand (same arrays, literal indices).</summary>
[Model]
public partial class UnrolledNet
{
    readonly RepVggBlock[] stage = [new(3, 4), new(4, 4), new(4, 6, stride: 2), new(6, 6, groups: 2)];
    readonly Conv2d[] mix = [new(4, 4, kernel: 1), new(6, 6, kernel: 1)];
    readonly Linear head = new(6, 3);

    Tensor Forward([Shape(3, 6, 6)] Tensor x)
    {
        var h = stage[0].Forward(x);
        h = stage[1].Forward(h);
        h = h + Relu(mix[0].Forward(h)) * 0.5f;
        h = stage[2].Forward(h);
        h = stage[3].Forward(h);
        h = h + Relu(mix[1].Forward(h)) * 0.5f;
        return head.Forward(GlobalAvgPool(h));
    }
}

/// <summary>LoopNet with one field per layer: parameter names s0... and m0... instead of stage.0... and mix.0....</summary>
[Model]
public partial class FieldsNet
{
    readonly RepVggBlock s0 = new(3, 4), s1 = new(4, 4), s2 = new(4, 6, stride: 2), s3 = new(6, 6, groups: 2);
    readonly Conv2d m0 = new(4, 4, kernel: 1), m1 = new(6, 6, kernel: 1);
    readonly Linear head = new(6, 3);

    Tensor Forward([Shape(3, 6, 6)] Tensor x)
    {
        var h = s1.Forward(s0.Forward(x));
        h = h + Relu(m0.Forward(h)) * 0.5f;
        h = s3.Forward(s2.Forward(h));
        h = h + Relu(m1.Forward(h)) * 0.5f;
        return head.Forward(GlobalAvgPool(h));
    }
}
