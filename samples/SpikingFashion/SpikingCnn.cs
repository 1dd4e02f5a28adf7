// A convolutional spiking network after SpikingJelly's Fashion-MNIST tutorial (conv_fashion_mnist.CSNN): the image
// repeated over T = 4 steps (direct encoding), conv-BN-LIF blocks with max pooling, a spiking hidden layer and a
// linear readout averaged over the steps. Narrower than the tutorial's 128 channels so that an epoch fits a 2-core CPU.
using Authoring;
using static Authoring.Ops;

namespace SpikingFashion;

/// <summary>Conv-BN-LIF x2 (pooled), linear-LIF, linear readout, mean over T = 4 steps.</summary>
[Model]
public partial class SpikingCnn
{
    const int T = 4, C1 = 32, C2 = 64, Hidden = 128, Classes = 10;

    readonly Conv2d conv1 = new(1, C1, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn1 = new(C1);
    readonly LIFNode lif1 = new(tau: 2f, surrogate: Surrogate.ATan, detachReset: true);
    readonly Conv2d conv2 = new(C1, C2, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn2 = new(C2);
    readonly LIFNode lif2 = new(tau: 2f, surrogate: Surrogate.ATan, detachReset: true);
    readonly Linear fc = new(C2 * 7 * 7, Hidden, bias: false);
    readonly LIFNode lif3 = new(tau: 2f, surrogate: Surrogate.ATan, detachReset: true);
    readonly Linear head = new(Hidden, Classes);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        // conv1 and bn1 see the same image at every step: the generator runs them once per sample.
        var s = lif1.Forward(bn1.Forward(conv1.Forward(Repeat(x, T))));   // (T, C1, 28, 28) spikes
        s = MaxPool(s, 2);                                                  // (T, C1, 14, 14)
        s = lif2.Forward(bn2.Forward(conv2.Forward(s)));                   // (T, C2, 14, 14)
        s = MaxPool(s, 2);                                                  // (T, C2, 7, 7)
        var h = lif3.Forward(fc.Forward(Reshape(s, T, C2 * 7 * 7)));      // (T, Hidden)
        return MeanOverTime(head.Forward(h));                              // logits: the readout's mean over T
    }
}
