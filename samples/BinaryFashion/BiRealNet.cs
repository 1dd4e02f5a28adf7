// A Bi-Real Net / ReActNet-style binary network for Fashion-MNIST. The first layer (a real 3x3 conv) and the last
// (a real linear classifier) stay real, as in the papers; in between, three binary blocks
//   y = RPReLU(BN(BinaryConv3x3(RSign(x))) + x)
// each with the real-valued Bi-Real shortcut around its binary conv, 64 channels (one 64-bit word per position in
// the packed form), one at 14x14 and two at 7x7 (sized so that training fits a few minutes per epoch on two cores).
using Authoring;
using static Authoring.Ops;

namespace BinaryFashion;

[Model]
public partial class BiRealNet
{
    readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d stemBn = new(64);
    readonly MaxPool2d pool0 = new(2);

    readonly RSign s1 = new(64);
    readonly BinaryConv2d c1 = new(64, 64, kernel: 3, padding: 1);
    readonly BatchNorm2d b1 = new(64);
    readonly RPReLU a1 = new(64);

    readonly MaxPool2d pool1 = new(2);

    readonly RSign s2 = new(64);
    readonly BinaryConv2d c2 = new(64, 64, kernel: 3, padding: 1);
    readonly BatchNorm2d b2 = new(64);
    readonly RPReLU a2 = new(64);

    readonly RSign s3 = new(64);
    readonly BinaryConv2d c3 = new(64, 64, kernel: 3, padding: 1);
    readonly BatchNorm2d b3 = new(64);
    readonly RPReLU a3 = new(64);

    readonly Linear head = new(64 * 7 * 7, 10);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        var h = pool0.Forward(stemBn.Forward(stem.Forward(x)));                 // 64 x 14 x 14, real
        h = a1.Forward(Add(b1.Forward(c1.Forward(s1.Forward(h))), h));
        h = pool1.Forward(h);                                                   // 64 x 7 x 7
        h = a2.Forward(Add(b2.Forward(c2.Forward(s2.Forward(h))), h));
        h = a3.Forward(Add(b3.Forward(c3.Forward(s3.Forward(h))), h));
        return head.Forward(Flatten(h));
    }
}
