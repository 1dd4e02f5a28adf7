// A small network built from the ready-made blocks: each field is one block of a published architecture,
// expanded at compile time into its reference layers (parameters named as the reference state_dict).
using Authoring;
using static Authoring.Ops;

namespace EfficientBlocks;

/// <summary>Stem, a GhostNet bottleneck with squeeze-excite and GhostNetV2 attention, a RepVGG block, a MobileOne depthwise + pointwise
/// pair, a RepGhost module and a linear head, for 28x28 grey images.</summary>
[Model]
public partial class BlockNet
{
    const int Classes = 10;

    readonly Conv2d stem = new(1, 16, kernel: 3, stride: 2, padding: 1, bias: false);
    readonly BatchNorm2d stemBn = new(16);
    readonly GhostBottleneck ghost = new(16, 48, 24, stride: 2, seRatio: 0.25f, attention: true);
    readonly RepVggBlock repvgg = new(24, 24);
    readonly MobileOneBlock depthwise = new(24, 24, kernel: 3, padding: 1, groups: 24, branches: 2);
    readonly MobileOneBlock pointwise = new(24, 32, kernel: 1, branches: 2);
    readonly RepGhostModule repghost = new(32, 32);
    readonly Linear head = new(32, Classes);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        x = Relu(stemBn.Forward(stem.Forward(x)));         // 16 x 14 x 14
        x = ghost.Forward(x);                              // 24 x 7 x 7
        x = repvgg.Forward(x);                             // 24 x 7 x 7
        x = pointwise.Forward(depthwise.Forward(x));       // 32 x 7 x 7: a MobileOne block of the paper
        x = repghost.Forward(x);                           // 32 x 7 x 7
        return head.Forward(GlobalAvgPool(x));
    }
}
