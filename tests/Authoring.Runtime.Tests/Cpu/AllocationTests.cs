// Warm kernel calls allocate nothing, on the calling thread or the pool's workers. Counted per
// thread (caller plus workers), because the process-wide counter also sees the test host's own
// background allocations; runs alone so the pool is not shared with other tests meanwhile.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public class AllocationCollection;

[Collection(nameof(AllocationCollection))]
public class AllocationTests
{
    [Fact]
    public void WarmTrainingStepKernelsAllocateNothing()
    {
        var rng = new Random(1);
        int n = 8;
        var conv = new Conv2dShape(8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var dw = new Conv2dShape(16, 12, 12, 16, 3, 3, 2, 2, 1, 1, 1, 1, 16);
        var pw = new Conv2dShape(16, 6, 6, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1);
        var pool = new Pool2dShape(24, 6, 6, 2, 2, 2, 2, 0, 0);
        var x = TestUtil.Sliced(rng, n, conv.InSize, 0, 0);
        var a = TestUtil.Sliced(rng, n, conv.OutSize, 0, 0);
        var b = TestUtil.Sliced(rng, n, dw.OutSize, 0, 0);
        var c = TestUtil.Sliced(rng, n, pw.OutSize, 0, 0);
        var d = TestUtil.Sliced(rng, n, pool.C * pool.Ho * pool.Wo, 0, 0);
        var g = TestUtil.Sliced(rng, n, 24, 0, 0);
        var logits = TestUtil.Sliced(rng, n, 10, 0, 0);
        var dlogits = TestUtil.Sliced(rng, n, 10, 0, 0);
        var mask = TestUtil.Sliced(rng, n, conv.OutSize, 0, 0);
        var w = TestUtil.Random(rng, 10_000);
        var grad = new float[10_000];
        var bnp = TestUtil.Random(rng, 64, 0.5f, 1.5f);
        var save = new float[64];
        var labels = new int[n];
        var m = TestUtil.Random(rng, 512 * 512);
        var mc = new float[512 * 512];
        var up = new UpsampleShape(24, 3, 3, 7, 7);
        var u = TestUtil.Sliced(rng, n, up.OutSize, 0, 0);

        void Step()
        {
            Conv2dKernel.Forward<Relu>(conv, n, x, w, 0, null, 0, w, 0, a);
            BatchNormKernel.ForwardTrain<Relu>(n, 16, 144, a, bnp, 0, 16, 32, 48, 0.1f, 1e-5f, save, 0, a);
            Conv2dKernel.Forward<Identity>(dw, n, a, w, 0, w, 0, w, 0, b);
            Conv2dKernel.Forward<HardSwish>(pw, n, b, w, 0, w, 0, w, 0, c);
            PoolKernel.MaxForward(pool, n, c, d);
            PoolKernel.GlobalAvgForward(n, 24, 9, d, g);
            UpsampleKernel.NearestForward(up, n, d, u);
            UpsampleKernel.NearestBackward(up, n, u, d, true);
            LinearKernel.Forward<Identity>(n, 24, 10, g, w, 0, null, 0, w, 0, logits);
            LossKernel.SoftmaxCrossEntropy(n, 10, logits, labels, dlogits);
            LinearKernel.BackwardWeights(n, 24, 10, g, dlogits, grad, 0);
            LinearKernel.BackwardData(n, 24, 10, dlogits, w, 0, g, false);
            ChannelKernel.BiasGrad(n, 10, 1, dlogits, grad, 0);
            PoolKernel.GlobalAvgBackward(n, 24, 9, g, d, false);
            PoolKernel.MaxBackward(pool, n, c, d, c, false);
            Conv2dKernel.BackwardWeights(pw, n, b, c, grad, 0);
            Conv2dKernel.BackwardData(pw, n, c, w, 0, b, false);
            Conv2dKernel.BackwardWeights(dw, n, a, b, grad, 0);
            Conv2dKernel.BackwardData(dw, n, b, w, 0, a, false);
            BatchNormKernel.BackwardTrain<Relu>(n, 16, 144, a, a, bnp, 0, 16, save, 0, a, false, grad, 0, 16);
            Conv2dKernel.BackwardWeights(conv, n, x, a, grad, 0);
            Conv2dKernel.BackwardData(conv, n, a, w, 0, x, true);
            DropoutKernel.Forward(n, conv.OutSize, 0.2f, 7, a, mask, a);
            ChannelKernel.Copy(n, conv.OutSize, a, mask, true);
            Gemm.Multiply(false, true, 512, 512, 512, 1f, m, 0, 512, m, 0, 512, 0f, mc, 0, 512);
        }

        // Warm up past the JIT's tiering thresholds (30 calls, then on-stack replacement of hot
        // loops): tier-up work can allocate a little on the thread that triggers it.
        for (int i = 0; i < 40; i++) Step();
        // A kernel that allocates does so on every call, so one clean round out of three shows
        // the kernels allocate nothing while tolerating a late tier-up in an earlier round.
        var deltas = new List<long>();
        for (int attempt = 0; attempt < 3 && !deltas.Contains(0); attempt++)
        {
            long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
            Step();
            Step();
            deltas.Add(WorkerPool.AllocatedBytesOfPoolAndCaller() - before);
        }
        Assert.True(deltas.Contains(0), "kernels allocated on the caller and worker threads, bytes per round: " + string.Join(", ", deltas));
    }

    [Fact]
    public void WarmTensorOpKernelsAllocateNothing()
    {
        // The kernels of token and attention models, at sizes that take the pool (and the GEMM path of MatMul).
        var rng = new Random(2);
        int n = 8, rows = 64, dim = 96;
        var x = TestUtil.Sliced(rng, n, rows * dim, 0, 0);
        var y = TestUtil.Sliced(rng, n, rows * dim, 0, 0);
        var dy = TestUtil.Sliced(rng, n, rows * dim, 0, 0);
        var stats = TestUtil.Sliced(rng, n, 2 * rows, 0, 0);
        var p = TestUtil.Random(rng, 2 * dim, 0.5f, 1.5f);
        var g = new float[2 * dim];
        var att = TestUtil.Sliced(rng, n, 2 * rows * rows, 0, 0);
        var small = TestUtil.Sliced(rng, n, 4 * 16 * 16, 0, 0);
        var red = TestUtil.Sliced(rng, n, dim, 0, 0);

        void Step()
        {
            LayerNormKernel.ForwardTrain(n, rows, dim, x, p, 0, dim, 1e-5f, y, stats);
            LayerNormKernel.BackwardData(n, rows, dim, x, dy, stats, p, 0, y, true);
            LayerNormKernel.BackwardParams(n, rows, dim, x, dy, stats, g, 0, dim);
            SoftmaxKernel.Forward(n, rows, dim, x, y);
            SoftmaxKernel.Backward(n, rows, dim, y, dy, y, false);
            MatMulKernel.Multiply(n, 2, rows, rows, dim / 2, false, true, x, dy, att, false);     // GEMM path
            MatMulKernel.Multiply(n, 2, rows, dim / 2, rows, false, false, att, x, y, true);
            MatMulKernel.Multiply(n, 4, 16, 16, 16, true, true, x, dy, small, false);            // direct path
            TransposeKernel.Swap(n, 1, rows, 1, dim, 1, x, y, false);
            TransposeKernel.Swap(n, 1, rows, 2, 3, dim / 6, x, y, true);
            ReduceKernel.Forward(n, 1, rows, dim, 1f / rows, x, red);
            ReduceKernel.Backward(n, 1, rows, dim, 1f / rows, red, y, true);
            AxisKernel.Copy(n, rows, dim / 2, x, dim, dim / 4, y, dim / 2, 0, false);
            AxisKernel.SliceBackward(n, rows, dim, dim / 4, dim / 2, x, y, false);
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
        Assert.True(deltas.Contains(0), "tensor-op kernels allocated on the caller and worker threads, bytes per round: " + string.Join(", ", deltas));
    }
}
