// The sample model: written once as a Forward method; the generator compiles it for CPU SIMD and ILGPU.
using Authoring;
using static Authoring.Ops;

namespace FashionCnn;

/// <summary>A 46K-parameter CNN for 28x28 grey images: conv-BN-ReLU, depthwise-separable blocks, pooling, a linear head.</summary>
[Model]
public partial class SmallCnn
{
    const int Classes = 10;

    readonly Conv2d stem = new(1, 32, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d stemBn = new(32);
    readonly Conv2d conv = new(32, 64, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d convBn = new(64);
    readonly DepthwiseConv2d dw1 = new(64, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d dw1Bn = new(64);
    readonly Conv2d pw1 = new(64, 128, kernel: 1, bias: false);
    readonly BatchNorm2d pw1Bn = new(128);
    readonly DepthwiseConv2d dw2 = new(128, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d dw2Bn = new(128);
    readonly Conv2d pw2 = new(128, 128, kernel: 1, bias: false);
    readonly BatchNorm2d pw2Bn = new(128);
    readonly Dropout drop = new(0.2f);
    readonly Linear head = new(128, Classes);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        x = Relu(stemBn.Forward(stem.Forward(x)));                 // 32 x 28 x 28
        x = MaxPool(x, 2);                                         // 32 x 14 x 14
        x = Relu(convBn.Forward(conv.Forward(x)));                 // 64 x 14 x 14
        x = Relu(dw1Bn.Forward(dw1.Forward(x)));
        x = Relu(pw1Bn.Forward(pw1.Forward(x)));                   // 128 x 14 x 14
        x = MaxPool(x, 2);                                         // 128 x 7 x 7
        x = Relu(dw2Bn.Forward(dw2.Forward(x)));
        x = Relu(pw2Bn.Forward(pw2.Forward(x)));
        return head.Forward(drop.Forward(GlobalAvgPool(x)));       // 10 logits
    }
}
