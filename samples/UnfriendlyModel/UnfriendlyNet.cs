// A deliberately hardware-unfriendly model: it compiles and trains, but `dotnet build` shows the MDL
// analyzers' warnings on it (see docs/rules/README.md). Each comment names the rule it trips.
using Authoring;
using static Authoring.Ops;

namespace UnfriendlyModel;

[Model]
public partial class UnfriendlyNet
{
    readonly Conv2d stem = new(3, 30, kernel: 3, padding: 1);               // MDL0001: 30 channels
    readonly BatchNorm2d stemBn = new(30);
    readonly Linear squeeze = new(30, 8);
    readonly Linear excite = new(8, 30);                                     // MDL0001
    readonly Conv2d grouped = new(30, 40, kernel: 3, padding: 1, groups: 10); // MDL0003: 10 groups
    readonly BatchNorm2d bn = new(40);
    readonly DepthwiseConv2d dw = new(40, kernel: 9, padding: 4);           // MDL0012: 9x9 depthwise
    readonly Conv2d expand = new(40, 320, kernel: 1);                        // MDL0002: 1x1, 8x wider
    readonly Conv2d reduce = new(320, 40, kernel: 1);                        // MDL0002
    readonly Linear head = new(40 * 16 * 16, 10);

    Tensor Forward([Shape(3, 32, 32)] Tensor x)
    {
        var s = Relu(stemBn.Forward(stem.Forward(x)));
        var gate = Reshape(Sigmoid(excite.Forward(Relu(squeeze.Forward(GlobalAvgPool(s))))), 30, 1, 1); // MDL0010
        s = Mul(s, gate);                                                    // MDL0011: SE at 32x32
        var g = bn.Forward(Relu(grouped.Forward(s)));                        // MDL0007: BN after ReLU
        g = MaxPool(g, 3, 2, 1);                                             // MDL0016 on the gpu profile
        var d = Relu(dw.Forward(g));
        var e = reduce.Forward(Relu6(expand.Forward(d)));
        var t = HardSwish(Add(Mul(d, d), e));                                // MDL0009: 3 unfused element-wise ops
        return head.Forward(Flatten(Reshape(t, 40 * 16 * 16)));              // MDL0013: reshape chain
    }
}
