// Models for ops only spiking networks use, without the neurons that make those networks unexportable: the direct
// encoding Repeat (ONNX Tile) read by per-step layers, and the readout MeanOverTime (ReduceMean over the time axis).
using Authoring;
using static Authoring.Ops;

namespace Authoring.Onnx.Tests.Models;

/// <summary>An image repeated over 3 steps, a conv and BatchNorm over (T, C, H, W) (the time axis folded into the batch
/// around ONNX's 4-D Conv), a per-step linear layer on (T, F) (MatMul, not Gemm) and the mean over time; and a (C) vector repeated and averaged back.</summary>
[Model]
public partial class RepeatReadout
{
    const int T = 3;
    readonly Conv2d conv = new(2, 3, kernel: 3, padding: 1, bias: false);
    readonly BatchNorm2d bn = new(3);
    readonly Linear fc = new(3 * 4 * 4, 5);
    readonly Linear head = new(7, 4);

    Tensor Forward([Shape(2, 4, 4)] Tensor x)
    {
        var h = Tanh(bn.Forward(conv.Forward(Repeat(x, T))));   // (T, 3, 4, 4)
        var z = Sigmoid(fc.Forward(Reshape(h, T, 48)));         // (T, 5)
        var pooled = MeanOverTime(Repeat(GlobalAvgPool(x), T));     // (2): a vector repeated and read back
        return head.Forward(Concat(MeanOverTime(z), pooled));
    }
}

/// <summary>Poisson rate coding alone: 32 firing probabilities in, each feature's firing rate over 64 steps out (no
/// parameters), so ExportTests can compare the file's Bernoulli draws with ours in distribution.</summary>
[Model]
public partial class PoissonRates
{
    Tensor Forward([Shape(32)] Tensor x) => MeanOverTime(Poisson(x, 64));
}
