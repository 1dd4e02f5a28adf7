// The SpikingFashion sample's training step against the same network in TorchSharp, written as SpikingJelly's
// convolutional tutorial runs it (multi-step mode: the static conv + BN once, the input repeated over T, per-step
// layers on [T*N, ...] as SeqToANNContainer does, the LIF layers as a Python-style loop over T). Both sides train on
// the same Fashion-MNIST batches of 128 with AdamW(3e-3, weight decay 5e-4): forward, cross-entropy, backward,
// optimizer step. The timing and the parity check are SampleEpoch's (SpikingTwin in Twins/).
//
//   Authoring.Benchmarks --spiking-epoch [rounds [steps per round]]     (bench/run.sh --spiking-epoch)
using Authoring.Oracle.Tests;
using Authoring.Runtime.Cpu.Spiking;
using Authoring.Runtime.Data;
using SpikingFashion;
using TorchSharp;
using TConv2d = TorchSharp.Modules.Conv2d;
using TBatchNorm2d = TorchSharp.Modules.BatchNorm2d;
using TMaxPool2d = TorchSharp.Modules.MaxPool2d;
using TLinear = TorchSharp.Modules.Linear;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>SpikingCnn (samples/SpikingFashion) in TorchSharp: same layers, same parameter count.</summary>
public sealed class TorchSpikingCnn : Module<TorchTensor, TorchTensor>
{
    const int T = 4, C1 = 32, C2 = 64, Hidden = 128, Classes = 10;
    readonly TConv2d conv1 = Conv2d(1, C1, 3, padding: 1, bias: false);
    readonly TBatchNorm2d bn1 = BatchNorm2d(C1);
    readonly TorchNeuron lif1 = Lif();
    readonly TMaxPool2d pool = MaxPool2d(2);
    readonly TConv2d conv2 = Conv2d(C1, C2, 3, padding: 1, bias: false);
    readonly TBatchNorm2d bn2 = BatchNorm2d(C2);
    readonly TorchNeuron lif2 = Lif();
    readonly TLinear fc = Linear(C2 * 7 * 7, Hidden, hasBias: false);
    readonly TorchNeuron lif3 = Lif();
    readonly TLinear head = Linear(Hidden, Classes);

    /// <summary>LIFNode(tau=2, surrogate ATan(alpha=2), detach_reset=True), as the sample.</summary>
    static TorchNeuron Lif() => new(NeuronDynamics.Lif(detachReset: true), "ATan", 2);

    /// <summary>Registers the layers.</summary>
    public TorchSpikingCnn() : base(nameof(TorchSpikingCnn)) => RegisterComponents();

    /// <summary>[N, 1, 28, 28] images to [N, 10] logits (the head's mean over T).</summary>
    public override TorchTensor forward(TorchTensor x)
    {
        long n = x.shape[0];
        var y = bn1.call(conv1.call(x));                                              // static: once per image
        var s = lif1.call(y.unsqueeze(0).repeat(T, 1, 1, 1, 1));                      // [T, N, C1, 28, 28]
        var z = bn2.call(conv2.call(pool.call(s.flatten(0, 1))));                     // [T*N, C2, 14, 14]
        s = lif2.call(z.view(T, n, C2, 14, 14));
        var f = fc.call(pool.call(s.flatten(0, 1)).flatten(1));                       // [T*N, Hidden]
        var h = lif3.call(f.view(T, n, Hidden));
        return head.call(h).mean(new long[] { 0 });
    }
}

/// <summary>The spiking sample's run of <see cref="SampleEpoch"/> (the harness began here, for this sample alone).</summary>
public static class SpikingEpoch
{
    /// <summary><paramref name="args"/>: [ROUNDS [STEPS]], as <see cref="SampleEpoch.Run"/> takes after the name.</summary>
    public static int Run(string[] args) => SampleEpoch.Run(["spiking", .. args]);
}
