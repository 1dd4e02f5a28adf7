// GhostNet-style classifier (Han et al., 2020; Tang et al., 2022) for 28x28 inputs: a 3x3 stem, five Ghost
// bottlenecks (two with GhostNetV2's DFC attention, two with squeeze-excite), a 1x1 head conv and a linear
// classifier. ToDeploy folds every conv+BN pair; the Ghost concats and slices cost no copies in either form.
using Authoring;
using static Authoring.Ops;

namespace GhostNetFashion;

[Model]
public partial class GhostNet
{
    readonly Conv2d stem = new(1, 16, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d stemBn = new(16);
    readonly GhostBottleneck b1 = new(16, 32, 16);                                          // 28x28
    readonly GhostBottleneck b2 = new(16, 48, 24, stride: 2);                               // 14x14
    readonly GhostBottleneck b3 = new(24, 72, 24, attention: true);                         // 14x14, DFC attention
    readonly GhostBottleneck b4 = new(24, 72, 40, dwKernel: 5, stride: 2, seRatio: 0.25f);  // 7x7
    readonly GhostBottleneck b5 = new(40, 120, 40, seRatio: 0.25f, attention: true);        // 7x7, DFC attention + SE
    readonly Conv2d head = new(40, 160, kernel: 1, bias: false);
    readonly BatchNorm2d headBn = new(160);
    readonly Dropout drop = new(0.2f);
    readonly Linear classifier = new(160, 10);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        var y = Relu(stemBn.Forward(stem.Forward(x)));
        y = b3.Forward(b2.Forward(b1.Forward(y)));
        y = b5.Forward(b4.Forward(y));
        y = Relu(headBn.Forward(head.Forward(y)));
        return classifier.Forward(drop.Forward(GlobalAvgPool(y)));
    }
}
