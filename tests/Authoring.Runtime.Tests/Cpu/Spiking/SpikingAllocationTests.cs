// Warm spiking kernel calls allocate nothing on the caller or the pool's workers (see AllocationTests
// for the method), including PLIF's backward (pooled partials) and a sequence long enough to move the
// backward's h history off the stack.
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Tests.Cpu.Spiking;

[Collection(nameof(AllocationCollection))]
public class SpikingAllocationTests
{
    [Fact]
    public void WarmSpikingKernelsAllocateNothing()
    {
        var rng = new Random(1);
        var p = new[] { 0.2f };
        var g = new float[1];
        var lif = NeuronDynamics.Lif();
        var plif = NeuronDynamics.ParametricLif(vReset: null);
        // T = 1100: 16 features x 1100 steps of h history exceed the 64 KB stack budget of a backward task.
        var shapes = new[] { (n: 8, T: 4, F: 300), (n: 2, T: 1100, F: 20) };
        var views = shapes.Select(c => (c.n, c.T, c.F, xin: TestUtil.Sliced(rng, c.n, c.F, 0, 0), y: TestUtil.Sliced(rng, c.n, c.F, 0, 0),
            x: TestUtil.Sliced(rng, c.n, c.T * c.F, 0, 0), s: TestUtil.Sliced(rng, c.n, c.T * c.F, 0, 0),
            ds: TestUtil.Sliced(rng, c.n, c.T * c.F, 0, 0), dx: TestUtil.Sliced(rng, c.n, c.T * c.F, 0, 0))).ToArray();

        void Step()
        {
            foreach (var (n, T, F, xin, y, x, s, ds, dx) in views)
            {
                SpikeEncoding.RepeatForward(n, T, F, xin, x);
                SpikeEncoding.PoissonForward(n, T, F, 3, xin, x);
                NeuronKernel.Forward(lif, n, T, F, x, null, 0, s);
                NeuronKernel.Forward(plif, n, T, F, x, p, 0, s, dx);
                NeuronKernel.Backward(lif, new SigmoidSurrogate(4f), n, T, F, x, ds, null, 0, dx, false, null, 0);
                NeuronKernel.Backward(plif, new ATanSurrogate(2f), n, T, F, x, ds, p, 0, dx, true, g, 0);
                SpikeEncoding.MeanForward(n, T, F, s, y);
                SpikeEncoding.MeanBackward(n, T, F, y, ds, false);
                SpikeEncoding.RepeatBackward(n, T, F, ds, y, true);
            }
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
        Assert.True(deltas.Contains(0), "spiking kernels allocated, bytes per round: " + string.Join(", ", deltas));
    }
}
