// Binary-network models (Bi-Real Net / ReActNet style): real first and last layers, binary conv and linear layers
// reading Sign / RSign outputs, XNOR scaling with each weight-gradient definition, RPReLU and the real-valued Bi-Real
// shortcut. Shared with the TorchSharp parity tests (tests/Authoring.Oracle.Tests/BinaryModelParityTests.cs).
using Authoring;
using static Authoring.Ops;

// Test models stay tiny (8-16 channels, a strided binary conv without shortcut) to exercise odd sizes and every
// gradient path; the packing-width and Bi-Real-shortcut advice does not apply to them.
#pragma warning disable MDL0018, MDL0023

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
