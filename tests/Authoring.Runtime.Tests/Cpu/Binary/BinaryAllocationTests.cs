// Warm calls of the binary kernels allocate nothing on the caller or the pool's workers (same method as
// AllocationTests: warm past tier-up, then one clean round out of three).
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

[Collection(nameof(AllocationCollection))]
public class BinaryAllocationTests
{
    [Fact]
    public void WarmBinaryKernelsAllocateNothing()
    {
        var rng = new Random(3);
        int n = 4;
        var s = new Conv2dShape(64, 10, 10, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var s2 = new Conv2dShape(64, 10, 10, 128, 1, 1, 2, 2, 0, 0, 1, 1, 1);
        var x = TestUtil.Sliced(rng, n, s.InSize, 0, 0);
        var y = TestUtil.Sliced(rng, n, s.OutSize, 0, 0);
        var y2 = TestUtil.Sliced(rng, n, s2.OutSize, 0, 0);
        int words = BitPack.ActivationWords(64, 10, 10);
        var xb = new BitView(new ulong[n * words], 0, words);
        var yb = new BitView(new ulong[n * words], 0, words);
        var w = TestUtil.Random(rng, s.WeightSize);
        var pw = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, w, 0, pw, 0);
        var sums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, pw, 0, sums, 0);
        var pw2 = new ulong[BitPack.ConvWeightWords(s2)];
        BitPack.PackConvWeights(s2, TestUtil.Random(rng, s2.WeightSize), 0, pw2, 0);
        var sc = TestUtil.Random(rng, 128);
        var feat = new BitView(new ulong[n * 2], 0, 2);
        var lw = new ulong[BitPack.LinearWeightWords(128, 10)];
        var logits = TestUtil.Sliced(rng, n, 10, 0, 0);
        var p = TestUtil.Random(rng, 3 * 64);
        var g = new float[3 * 64];
        var wb = new float[s.WeightSize];
        var alpha = new float[64];
        var dw = new float[s.WeightSize];

        void Step()
        {
            BitPack.PackActivations(n, 64, 10, 10, x, sc, 0, xb);
            BinaryConvKernel.ForwardPacked<Relu>(s, n, xb, pw, 0, sums, 0, sc, 0, sc, 0, sc, 0, yb);
            BinaryConvKernel.Forward<Identity>(s, n, yb, pw, 0, sums, 0, sc, 0, sc, 0, y, x);
            BinaryConvKernel.Forward<Relu>(s2, n, yb, pw2, 0, null!, 0, sc, 0, null, 0, y2);
            BitPack.PackFeatures(n, 128, new View(y2.Data, 0, 128), null, 0, feat);
            BinaryConvKernel.LinearForward<Identity>(n, 128, 10, feat, lw, 0, null, 0, null, 0, logits);
            BinaryActivationKernel.SignForward(n, 64, 100, x, sc, 0, y);
            BinaryActivationKernel.SignBackward(n, 64, 100, new ApproxSign(), x, sc, 0, y, y, true, g, 0);
            BinaryActivationKernel.RPReluForward(n, 64, 100, x, p, 0, 64, 128, y);
            BinaryActivationKernel.RPReluBackward(n, 64, 100, x, y, p, 0, 64, 128, y, false, g, 0, 64, 128);
            BinaryWeightKernel.Forward(64, 576, w, 0, wb, 0, alpha, 0);
            BinaryWeightKernel.Backward(64, 576, WeightGradient.Full, 1f, w, 0, wb, 0, alpha, 0, dw, 0);
        }

        for (int i = 0; i < 40; i++) Step();
        var deltas = new List<long>();
        for (int attempt = 0; attempt < 3 && !deltas.Contains(0); attempt++)
        {
            long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
            Step();
            Step();
            deltas.Add(WorkerPool.AllocatedBytesOfPoolAndCaller() - before);
        }
        Assert.True(deltas.Contains(0), "binary kernels allocated, bytes per round: " + string.Join(", ", deltas));
    }
}
