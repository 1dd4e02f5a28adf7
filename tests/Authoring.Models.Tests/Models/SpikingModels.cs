// Spiking models: every neuron (IF, LIF, PLIF), reset (hard, soft), detach_reset, decay_input and surrogate, the
// encoders (Repeat with and without the static-input rewrite, Poisson, a time-major input) and the readout. Tiny
// shapes: the oracle is a double-precision interpreter differentiated by central differences.
using Authoring;
using static Authoring.Ops;

namespace Authoring.Models.Tests.Models;

/// <summary>SpikingJelly's convolutional tutorial in miniature: Repeat, then conv + BN + LIF (rewritten to the static
/// input path: the conv and BN run once per sample), pool, a spiking linear layer (IF, soft reset), the mean over time
/// and a linear head.</summary>
[Model]
public partial class SpikingConv
{
    const int T = 4;
    readonly Conv2d conv = new(2, 3, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn = new(3);
    readonly LIFNode lif = new(tau: 2f, surrogate: Surrogate.ATan);
    readonly Linear fc = new(12, 5, bias: false);
    readonly IFNode sn = new(vThreshold: 0.5f, vReset: NeuronLayer.SoftReset);
    readonly Linear head = new(5, 3);

    Tensor Forward([Shape(2, 4, 4)] Tensor x)
    {
        var s = lif.Forward(bn.Forward(conv.Forward(Repeat(x, T))));   // (T, 3, 4, 4), static input
        var p = MaxPool(s, 2);                                          // (T, 3, 2, 2)
        var z = sn.Forward(fc.Forward(Reshape(p, T, 12)));              // (T, 5)
        return head.Forward(MeanOverTime(z));
    }
}

/// <summary>A time-major input (T, F) through a PLIF layer (learned tau, no input decay, soft reset with detach_reset,
/// triangular surrogate) and a LIF layer (hard reset to a negative value, sigmoid surrogate, no input decay).</summary>
[Model]
public partial class SpikingPlif
{
    readonly Linear fc1 = new(6, 7);
    readonly ParametricLIFNode plif = new(initTau: 3f, decayInput: false, vThreshold: 0.6f, vReset: NeuronLayer.SoftReset,
        surrogate: Surrogate.PiecewiseQuadratic, detachReset: true);
    readonly Linear fc2 = new(7, 4);
    readonly LIFNode lif = new(tau: 1.5f, decayInput: false, vThreshold: 0.3f, vReset: -0.2f, alpha: 3f);
    readonly Linear head = new(4, 3);

    Tensor Forward([Shape(5, 6)] Tensor x) => head.Forward(MeanOverTime(lif.Forward(fc2.Forward(plif.Forward(fc1.Forward(x))))));
}

/// <summary>Poisson encoding of an input of probabilities, an IF layer with the rectangular surrogate and
/// detach_reset, and a Repeat read twice: once through a per-step linear layer into a PLIF (the static path) and once
/// by MeanOverTime (the copies stay for it).</summary>
[Model]
public partial class SpikingEncoders
{
    const int T = 3;
    readonly Linear fc1 = new(5, 6, bias: false);
    readonly IFNode sn1 = new(vThreshold: 0.4f, surrogate: Surrogate.Rect, alpha: 0.8f, detachReset: true);
    readonly Linear fc2 = new(5, 6);
    readonly ParametricLIFNode plif = new(initTau: 2.5f, vThreshold: 0.5f);
    readonly Linear head = new(17, 3);

    Tensor Forward([Shape(5)] Tensor x)
    {
        var poisson = sn1.Forward(fc1.Forward(Poisson(Sigmoid(x * 3f), T)));   // (T, 6) spikes from random spikes
        var direct = Repeat(x, T);                                               // read twice: stays materialised
        var s = plif.Forward(fc2.Forward(direct));                               // (T, 6), static through fc2
        var rates = Concat(MeanOverTime(poisson), MeanOverTime(s), MeanOverTime(direct));
        return head.Forward(rates);
    }
}
