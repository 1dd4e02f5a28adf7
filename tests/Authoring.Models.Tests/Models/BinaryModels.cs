// Binary-network models (Bi-Real Net / ReActNet style): real first and last layers, binary conv and linear layers
// reading Sign / RSign outputs, XNOR scaling with each weight-gradient definition, RPReLU and the real-valued Bi-Real
// shortcut. Shared with the TorchSharp parity tests (tests/Authoring.Oracle.Tests/BinaryModelParityTests.cs).
using Authoring;
using static Authoring.Ops;

// Test models stay tiny (8-16 channels, a strided binary conv without shortcut) to exercise odd sizes and every
// gradient path; the packing-width and Bi-Real-shortcut advice does not apply to them.
#pragma warning disable MDL0018, MDL0023
// The packed-deploy models isolate one binary layer (first and last at once) on purpose.
#pragma warning disable MDL0019

namespace Authoring.Models.Tests.Models;

/// <summary>A Bi-Real / ReActNet block: RSign (ApproxSign), a padded XNOR-scaled binary conv (ReActNet's clip gradient),
/// BatchNorm, the real shortcut, RPReLU; then a strided binary conv with a bias and XNOR-Net's gradient through the scale
/// behind a plain STE Sign (no BatchNorm after it: a training-mode BatchNorm cancels any per-channel scale, so the
/// gradient through alpha would be exactly zero there).</summary>
[Model]
public partial class BiRealBlock
{
    readonly Conv2d stem = new(2, 8, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn0 = new(8);
    readonly RSign rsign = new(8, SignEstimator.ApproxSign);
    readonly BinaryConv2d bconv = new(8, 8, kernel: 3, padding: 1);
    readonly BatchNorm2d bn1 = new(8);
    readonly RPReLU act = new(8);
    readonly BinaryConv2d down = new(8, 6, kernel: 3, stride: 2, weightGradient: BinaryWeightGradient.Full, bias: true);
    readonly Linear fc = new(6, 3);

    Tensor Forward([Shape(2, 5, 5)] Tensor x)
    {
        var h = bn0.Forward(stem.Forward(x));
        var y = act.Forward(Add(bn1.Forward(bconv.Forward(rsign.Forward(h))), h));
        return fc.Forward(GlobalAvgPool(down.Forward(Sign(y))));
    }
}

/// <summary>Binary linear layers: Larq's magnitude-aware gradient with a BatchNorm1d and a shortcut, then an unscaled
/// one with a bias behind a Sign with a wider clip (1.5).</summary>
[Model]
public partial class BinaryMlp
{
    readonly Linear fc1 = new(7, 16);
    readonly BinaryLinear b1 = new(16, 16, weightGradient: BinaryWeightGradient.ScaledClip);
    readonly BatchNorm1d bn = new(16);
    readonly BinaryLinear b2 = new(16, 9, scaled: false, bias: true);
    readonly Linear fc2 = new(9, 4);

    Tensor Forward([Shape(7)] Tensor x)
    {
        var h = fc1.Forward(x);
        var z = Add(bn.Forward(b1.Forward(Sign(h))), h);
        return fc2.Forward(Relu(b2.Forward(Sign(z, clip: 1.5f))));
    }
}

/// <summary>The popcount alone: an unscaled binary conv without bias or BatchNorm (the deploy epilogue is the identity,
/// so the packed model must equal the latent one exactly), 70 input channels (two words, the second partly used),
/// stride 2 with padding (tap sums at the border).</summary>
[Model]
public partial class PackedDotConv
{
    readonly BinaryConv2d conv = new(70, 5, kernel: 3, stride: 2, padding: 1, scaled: false);

    Tensor Forward([Shape(70, 7, 7)] Tensor x) => Flatten(conv.Forward(Sign(x)));
}

/// <summary>The popcount of a binary linear layer alone (100 features: two words), identity epilogue.</summary>
[Model]
public partial class PackedDotLinear
{
    readonly BinaryLinear fc = new(100, 7, scaled: false);

    Tensor Forward([Shape(100)] Tensor x) => fc.Forward(Sign(x));
}

/// <summary>One Bi-Real block as the model's output: RSign, XNOR-scaled binary conv, BatchNorm and the real shortcut,
/// all in one packed epilogue; 70 channels.</summary>
[Model]
public partial class PackedResidual
{
    readonly RSign sign = new(70);
    readonly BinaryConv2d conv = new(70, 70, kernel: 3, padding: 1);
    readonly BatchNorm2d bn = new(70);

    Tensor Forward([Shape(70, 6, 6)] Tensor x) => Flatten(Add(bn.Forward(conv.Forward(sign.Forward(x))), x));
}

/// <summary>Two binary convs in a row: the first one's BatchNorm output feeds only the second one's RSign, so the deploy
/// model writes it as bits in the first one's epilogue (no float tensor between them); the second is strided, with a
/// bias, 70 -> 33 channels.</summary>
[Model]
public partial class PackedChain
{
    readonly Conv2d stem = new(3, 70, kernel: 3, padding: 1);
    readonly RSign s1 = new(70);
    readonly BinaryConv2d c1 = new(70, 70, kernel: 3, padding: 1);
    readonly BatchNorm2d b1 = new(70);
    readonly RSign s2 = new(70);
    readonly BinaryConv2d c2 = new(70, 33, kernel: 3, stride: 2, padding: 1, bias: true);
    readonly BatchNorm2d b2 = new(33);
    readonly Linear head = new(33 * 4 * 4, 5);

    Tensor Forward([Shape(3, 7, 7)] Tensor x)
    {
        var z = b1.Forward(c1.Forward(s1.Forward(stem.Forward(x))));
        return head.Forward(Flatten(b2.Forward(c2.Forward(s2.Forward(z)))));
    }
}

/// <summary>Binary linear layers in a row with packed features between them (BatchNorm1d, then the next Sign), and a
/// 128 -> 64 binary conv whose packed weights are exactly 32x smaller than fp32 (Cin a multiple of 64, Cout of 16).</summary>
[Model]
public partial class PackedWide
{
    readonly RSign s0 = new(128);
    readonly BinaryConv2d conv = new(128, 64, kernel: 3, padding: 1);
    readonly BatchNorm2d bn = new(64);
    readonly BinaryLinear l1 = new(64 * 4 * 4, 80);
    readonly BatchNorm1d b1 = new(80);
    readonly BinaryLinear l2 = new(80, 6, bias: true);

    Tensor Forward([Shape(128, 4, 4)] Tensor x)
    {
        var h = bn.Forward(conv.Forward(s0.Forward(x)));
        return l2.Forward(Sign(b1.Forward(l1.Forward(Sign(Flatten(h))))));
    }
}

/// <summary>Chained Bi-Real blocks at 70 channels (not a multiple of the packing width): blocks 1 and 2 end in RPReLU after
/// the shortcut and feed both the next shortcut (floats) and the next RSign (bits), so the deploy model writes both in one
/// epilogue; block 3 has its shortcut and no activation and feeds only the next RSign (bits alone); the strided block 4
/// (70 -> 40, no shortcut) ends in a ReLU run in its epilogue.</summary>
[Model]
public partial class BiRealChain
{
    readonly Conv2d stem = new(3, 70, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn0 = new(70);
    readonly RSign s1 = new(70);
    readonly BinaryConv2d c1 = new(70, 70, kernel: 3, padding: 1);
    readonly BatchNorm2d b1 = new(70);
    readonly RPReLU a1 = new(70);
    readonly RSign s2 = new(70);
    readonly BinaryConv2d c2 = new(70, 70, kernel: 3, padding: 1);
    readonly BatchNorm2d b2 = new(70);
    readonly RPReLU a2 = new(70);
    readonly RSign s3 = new(70);
    readonly BinaryConv2d c3 = new(70, 70, kernel: 3, padding: 1);
    readonly BatchNorm2d b3 = new(70);
    readonly RSign s4 = new(70);
    readonly BinaryConv2d c4 = new(70, 40, kernel: 3, stride: 2, padding: 1);
    readonly BatchNorm2d b4 = new(40);
    readonly Linear head = new(40 * 4 * 4, 5);

    Tensor Forward([Shape(3, 7, 7)] Tensor x)
    {
        var h = bn0.Forward(stem.Forward(x));
        h = a1.Forward(Add(b1.Forward(c1.Forward(s1.Forward(h))), h));
        h = a2.Forward(Add(b2.Forward(c2.Forward(s2.Forward(h))), h));
        h = Add(b3.Forward(c3.Forward(s3.Forward(h))), h);
        var g = Relu(b4.Forward(c4.Forward(s4.Forward(h))));
        return head.Forward(Flatten(g));
    }
}

/// <summary>Bi-Real blocks of binary linear layers (70 features): each block's RPReLU output feeds the next block's shortcut
/// and RSign.</summary>
[Model]
public partial class BiRealMlp
{
    readonly Linear fc1 = new(7, 70);
    readonly RSign s1 = new(70);
    readonly BinaryLinear l1 = new(70, 70);
    readonly BatchNorm1d n1 = new(70);
    readonly RPReLU a1 = new(70);
    readonly RSign s2 = new(70);
    readonly BinaryLinear l2 = new(70, 70);
    readonly BatchNorm1d n2 = new(70);
    readonly RPReLU a2 = new(70);
    readonly Linear fc2 = new(70, 4);

    Tensor Forward([Shape(7)] Tensor x)
    {
        var h = fc1.Forward(x);
        h = a1.Forward(Add(n1.Forward(l1.Forward(s1.Forward(h))), h));
        h = a2.Forward(Add(n2.Forward(l2.Forward(s2.Forward(h))), h));
        return fc2.Forward(h);
    }
}
