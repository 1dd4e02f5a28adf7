// SLAB's PRepBN mix (Generators/Ops/PRepBNMix.cs) on its own at VitFashion's token shape (49 tokens x 64 features):
// y = lambda LN(x) + (1 - lambda)(BN(x) + alpha x) from the three tensors the LayerNorm, the BatchNorm and the block
// hand it, forward and forward+backward (the three input gradients and alpha's), against the same expression in
// TorchSharp with autograd. The three inputs sit side by side in one [3, 49, 64] sample, which both sides read
// through views. The norms themselves are benchmarked as their own ops.
using Authoring.Runtime.Cpu;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>The PRepBN mix, 49 x 64 per sample (inputs LN(x), BN(x), x stacked as [3, 49, 64]).</summary>
public class PRepBNMixOpBenchmarks : OpBenchmark
{
    const int Size = 49 * 64;
    readonly float[] state = new float[1];
    /// <inheritdoc />
    protected override int InSize => 3 * Size;
    /// <inheritdoc />
    protected override int OutSize => Size;
    /// <inheritdoc />
    protected override long[] InShape => [3, 49, 64];
    /// <summary>alpha, warm, iter, total_step (the counters only pick lambda; the cost does not depend on it).</summary>
    protected override int ParamSize => 4;

    View In(int which) => new(X, which * Size, InSize);

    View Grad(int which) => new(Dx, which * Size, InSize);

    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor x, TorchTensor p)
    {
        const double lambda = 0.5;
        return lambda * x.select(1, 0) + (1 - lambda) * (x.select(1, 1) + p.narrow(0, 0, 1) * x.select(1, 2));
    }

    /// <inheritdoc />
    protected override void OursFwd() =>
        PRepBNKernel.ForwardTrain(Batch, Size, In(0), In(1), In(2), P, 0, 1, 2, 3, state, 0, new View(Y, 0, OutSize));

    /// <inheritdoc />
    protected override void OursBwd()
    {
        var dy = new View(Dy, 0, OutSize);
        for (int which = 0; which < 3; which++) PRepBNKernel.BackwardInput(Batch, Size, which, P, 0, state, 0, dy, Grad(which), false);
        PRepBNKernel.BackwardAlpha(Batch, Size, dy, In(2), state, 0, G, 0);
    }
}
