// RepVGG-style classifier (Ding et al., 2021): a plain stack of RepVggBlocks. In training each block is
// relu(conv3x3+BN + conv1x1+BN + BN identity); ToDeploy folds each into a single 3x3 conv with bias, so the
// deployed network is a VGG-like chain of 3x3 convs and ReLUs.
using Authoring;
using static Authoring.Ops;

namespace RepVggFashion;

[Model]
public partial class RepVggNet
{
    readonly RepVggBlock stage0 = new(1, 16);              // 28x28 (no identity branch: channels change)
    readonly RepVggBlock stage1a = new(16, 32, stride: 2); // 14x14
    readonly RepVggBlock stage1b = new(32, 32);
    readonly RepVggBlock stage2a = new(32, 64, stride: 2); // 7x7
    readonly RepVggBlock stage2b = new(64, 64);
    readonly RepVggBlock stage2c = new(64, 64);
    readonly Dropout drop = new(0.1f);
    readonly Linear head = new(64, 10);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        var y = stage1b.Forward(stage1a.Forward(stage0.Forward(x)));
        y = stage2c.Forward(stage2b.Forward(stage2a.Forward(y)));
        return head.Forward(drop.Forward(GlobalAvgPool(y)));
    }
}
