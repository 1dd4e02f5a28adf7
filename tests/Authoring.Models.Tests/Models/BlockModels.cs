// Small models around each composite block (Dsl/Blocks.cs). A bias-free 1x1 stem in front of every block makes
// the block's input gradient observable (it is the stem weight's gradient), and a pooled linear head gives
// logits. Odd channel counts exercise the Ghost slice and the kernels' scalar tails.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>GhostModule with an odd output (concat 6, slice 5), 3x3 primary conv.</summary>
[Model]
public partial class GhostModuleOdd
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostModule g1 = new(4, 5, kernel: 3);
    readonly Linear fc = new(5, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(g1.Forward(stem.Forward(x))));
}

/// <summary>GhostModule with ratio 3 (a grouped, not depthwise, cheap conv: 3 -> 6), stride 2, dwSize 5, no ReLU.</summary>
[Model]
public partial class GhostModuleRatio3
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostModule g1 = new(4, 7, ratio: 3, dwSize: 5, stride: 2, relu: false);
    readonly Linear fc = new(7, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(g1.Forward(stem.Forward(x))));
}

/// <summary>GhostNetV2's GhostModule with DFC attention: 7x7 pools to 3x3 and the gate is resized back to 7x7
/// (not an exact 2x); odd output (slice) and a 3x3 primary conv.</summary>
[Model]
public partial class GhostModuleAttention
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostModule g1 = new(4, 5, kernel: 3, attention: true);
    readonly Linear fc = new(5, 3);

    Tensor Forward([Shape(2, 7, 7)] Tensor x) => fc.Forward(GlobalAvgPool(g1.Forward(stem.Forward(x))));
}

/// <summary>GhostBottleneck whose ghost1 has DFC attention, with stride 2 and the conv shortcut.</summary>
[Model]
public partial class GhostBottleneckAttention
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostBottleneck b = new(4, 6, 5, stride: 2, attention: true);
    readonly Linear fc = new(5, 3);

    Tensor Forward([Shape(2, 6, 6)] Tensor x) => fc.Forward(GlobalAvgPool(b.Forward(stem.Forward(x))));
}

/// <summary>GhostBottleneck with stride 2 (conv_dw, bn_dw), squeeze-excite and the conv shortcut.</summary>
[Model]
public partial class GhostBottleneckSe
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostBottleneck b = new(4, 6, 5, stride: 2, seRatio: 0.5f);
    readonly Linear fc = new(5, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(b.Forward(stem.Forward(x))));
}

/// <summary>GhostBottleneck with the identity shortcut (in == out, stride 1) and an odd mid width.</summary>
[Model]
public partial class GhostBottleneckIdentity
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly GhostBottleneck b = new(4, 7, 4);
    readonly Linear fc = new(4, 3);

    Tensor Forward([Shape(2, 4, 4)] Tensor x) => fc.Forward(GlobalAvgPool(b.Forward(stem.Forward(x))));
}

/// <summary>RepVGG: a block with the identity BatchNorm, then a strided grouped one without it.</summary>
[Model]
public partial class RepVgg
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly RepVggBlock r1 = new(4, 4);
    readonly RepVggBlock r2 = new(4, 6, stride: 2, groups: 2);
    readonly Linear fc = new(6, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(r2.Forward(r1.Forward(stem.Forward(x)))));
}

/// <summary>The MobileOne paper's block: a depthwise MobileOneBlock (kernel 3, padding 1, groups = in: scale,
/// skip and two conv branches) followed by a pointwise one (kernel 1: skip and two conv branches).</summary>
[Model]
public partial class MobileOne
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly MobileOneBlock dw = new(4, 4, kernel: 3, padding: 1, groups: 4, branches: 2);
    readonly MobileOneBlock pw = new(4, 4, kernel: 1, branches: 2);
    readonly Linear fc = new(4, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(pw.Forward(dw.Forward(stem.Forward(x)))));
}

/// <summary>MobileOne with a stride (no skip branch) and a channel change.</summary>
[Model]
public partial class MobileOneStrided
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly MobileOneBlock m = new(4, 6, kernel: 3, stride: 2, padding: 1, groups: 2, branches: 3);
    readonly Linear fc = new(6, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(m.Forward(stem.Forward(x))));
}

/// <summary>RepGhost modules: one with ReLU, then a strided 3x3 one without.</summary>
[Model]
public partial class RepGhost
{
    readonly Conv2d stem = new(2, 4, kernel: 1, bias: false);
    readonly RepGhostModule m1 = new(4, 5);
    readonly RepGhostModule m2 = new(5, 4, kernel: 3, stride: 2, relu: false);
    readonly Linear fc = new(4, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x) => fc.Forward(GlobalAvgPool(m2.Forward(m1.Forward(stem.Forward(x)))));
}
