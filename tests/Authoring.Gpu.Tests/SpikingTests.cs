// The ILGPU spiking kernels against the CPU SIMD ones on tiny shapes (the CPU accelerator is a slow
// simulator): every neuron and reset, detach_reset both ways, each surrogate, T in {1, 4, 8}, odd
// feature counts, batch 1. Both backends run the same definitions in the same operation order, so
// spikes, membranes and counts must be identical, and so must gradients except where the sigmoid
// surrogate's exp differs (vector exp on the CPU, MathF.Exp here) or sums are ordered differently (dw).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class SpikingTests(GpuFixture fx)
{
    static readonly (string name, NeuronDynamics d, float w)[] Neurons =
    [
        ("IF hard", NeuronDynamics.If(), 0f),
        ("IF soft detach", NeuronDynamics.If(vReset: null, detachReset: true), 0f),
        ("LIF tau 2", NeuronDynamics.Lif(), 0f),
        ("LIF tau 3 soft detach", NeuronDynamics.Lif(3f, vReset: null, detachReset: true), 0f),
        ("LIF no decay_input, v_th 0.8, v_reset -0.2", NeuronDynamics.Lif(1.7f, decayInput: false, vThreshold: 0.8f, vReset: -0.2f), 0f),
        ("PLIF w 0.3", NeuronDynamics.ParametricLif(), 0.3f),
        ("PLIF no decay_input soft", NeuronDynamics.ParametricLif(decayInput: false, vReset: null), -0.4f),
        ("PLIF detach v_reset 0.1", NeuronDynamics.ParametricLif(vThreshold: 1.2f, vReset: 0.1f, detachReset: true), -0.7f),
    ];

    static readonly string[] Surrogates = ["Sigmoid", "ATan", "Rect", "PiecewiseQuadratic"];

    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 5 }, { 2, 4, 7 }, { 1, 8, 19 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NeuronsMatchTheCpuKernels(int n, int T, int F)
    {
        // Every neuron with detach_reset both ways (the list alone pairs detach with only some resets) and every
        // surrogate: detach_reset changes the backward's reset term, whose surrogate factor each surrogate shapes.
        for (int ci = 0; ci < Neurons.Length; ci++)
            foreach (bool detach in new[] { false, true })
                foreach (string sg in Surrogates)
                {
                    var (name, d, w) = Neurons[ci];
                    d = WithDetachReset(d, detach);
                    CheckNeuron($"{name}, detach_reset {detach}", d, w, sg, ci, n, T, F);
                }
    }

    static NeuronDynamics WithDetachReset(NeuronDynamics d, bool detach) => d.Model switch
    {
        NeuronModel.If => NeuronDynamics.If(d.VThreshold, d.VReset, detach),
        NeuronModel.Lif => NeuronDynamics.Lif(d.Tau, d.DecayInput, d.VThreshold, d.VReset, detach),
        _ => NeuronDynamics.ParametricLif(d.DecayInput, d.VThreshold, d.VReset, detach),
    };

    void CheckNeuron(string name, NeuronDynamics d, float w, string sg, int ci, int n, int T, int F)
    {
        int size = T * F;
        var rng = new Random(ci * 31 + T * 7 + F);
        // Inputs in +-1.5 v_th / (dh/dx): a single step can cross the threshold, so every neuron fires now and then.
        double dhdx = d.Model == NeuronModel.If || !d.DecayInput ? 1 : d.Model == NeuronModel.Lif ? 1 / d.Tau : 1 / (1 + Math.Exp(-w));
        double scale = 1.5 * d.VThreshold / dhdx;
        using var x = fx.Batch(rng, n, size, offset: 2, gap: 3, scale: scale);
        using var ds = fx.Batch(rng, n, size, offset: 1, gap: 2);
        using var s = fx.Batch(rng, n, size, offset: 3, gap: 1);
        using var v = fx.Batch(rng, n, size, offset: 0, gap: 4);
        using var wd = fx.Array([w]);
        using var count = fx.Device.Accelerator.Allocate1D(new long[] { 5 });

        var xh = Host(x.Values, n, size);
        var sh = Host(new double[n * size], n, size);
        var vh = Host(new double[n * size], n, size);
        long cpuCount = NeuronKernel.Forward(d, n, T, F, xh, [w], 0, sh, vh);
        fx.Kernels.NeuronForward(d, n, T, F, x.View, wd.View, s.View, v.View, count.View);
        Assert.Equal(Dense(sh, n, size), s.Read());
        var vg = v.Read();
        var vc = Dense(vh, n, size);
        for (int i = 0; i < vc.Length; i++) Assert.True(vc[i] == vg[i], $"{name}: v[{i}] cpu {vc[i]:R}, gpu {vg[i]:R}");
        var countRead = new long[1];
        fx.Device.Synchronize();
        count.View.CopyToCPU(countRead);
        Assert.Equal(5 + cpuCount, countRead[0]);

        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, size, offset: 4, gap: 2);
            using var dw = fx.Array([0.5f]);
            var dxh = Host(accumulate ? dx.Values : new double[n * size], n, size);
            var g = new[] { 0.5f };
            var dsh = Host(ds.Values, n, size);
            Backward(sg, d, n, T, F, xh, dsh, [w], dxh, accumulate, g, x, ds, wd, dx, dw);
            var cpu = Dense(dxh, n, size);
            var gpu = dx.Read();
            // Only the sigmoid's exp differs between the backends (a few ulp of g'); 1e-5 of the largest gradient
            // covers it through 8 steps, and everything else must agree to the bit.
            double tol = sg == "Sigmoid" ? 1e-5 * cpu.Max(Math.Abs) : 0;
            Close(ToDouble(cpu), gpu, tol, 0, $"{name}, {sg}, accumulate {accumulate}: dx");
            // dw: the same terms summed in another order (per task on the CPU, per thread then in parts here).
            double dwCpu = g[0] - 0.5;
            Close([0.5 + dwCpu], dw.Read(), 1e-5 * (1 + Math.Abs(dwCpu)), 0, $"{name}, {sg}: dw");
            if (d.Model != NeuronModel.ParametricLif) Assert.Equal(0.5f, dw.Read()[0]);
        }
    }

    [Fact]
    public void StaticInputMatchesTheCpu()
    {
        const int n = 2, T = 4, F = 7;
        for (int ci = 0; ci < Neurons.Length; ci += 2)
        {
            var (name, d, w) = Neurons[ci];
            var rng = new Random(ci);
            using var x = fx.Batch(rng, n, F, offset: 1, gap: 2, scale: 2.5);
            using var ds = fx.Batch(rng, n, T * F, offset: 2, gap: 1);
            using var s = fx.Batch(rng, n, T * F, offset: 0, gap: 3);
            using var wd = fx.Array([w]);
            var xh = Host(x.Values, n, F);
            var sh = Host(new double[n * T * F], n, T * F);
            NeuronKernel.Forward(d, n, T, F, xh, [w], 0, sh, staticInput: true);
            fx.Kernels.NeuronForward(d, n, T, F, x.View, wd.View, s.View, default, default, staticInput: true);
            Assert.Equal(Dense(sh, n, T * F), s.Read());
            foreach (bool accumulate in new[] { false, true })
            {
                using var dx = fx.Batch(rng, n, F, offset: 3, gap: 2);
                using var dw = fx.Array([0f]);
                var dxh = Host(accumulate ? dx.Values : new double[n * F], n, F);
                var g = new float[1];
                NeuronKernel.Backward(d, new RectSurrogate(1f), n, T, F, xh, Host(ds.Values, n, T * F), [w], 0, dxh, accumulate, g, 0, staticInput: true);
                fx.Kernels.NeuronBackward(d, new RectSurrogate(1f), n, T, F, x.View, ds.View, wd.View, dx.View, accumulate, dw.View, staticInput: true);
                // The same operations in the same order on both sides (no exp in Rect): identical.
                Close(ToDouble(Dense(dxh, n, F)), dx.Read(), 0, 0, $"{name}, accumulate {accumulate}: static dx");
                Close([g[0]], dw.Read(), 1e-5 * (1 + Math.Abs(g[0])), 0, $"{name}: dw");
            }
        }
    }

    [Fact]
    public void EncodersAndReadoutMatchTheCpu()
    {
        const int n = 2, T = 3, F = 9;
        var rng = new Random(9);
        using var x = fx.Batch(rng, n, F, offset: 1, gap: 2);
        using var seq = fx.Batch(rng, n, T * F, offset: 2, gap: 1);
        var xh = Host(x.Values, n, F);
        var seqh = Host(seq.Values, n, T * F);

        using var y = fx.Batch(rng, n, T * F, offset: 0, gap: 3);
        fx.Kernels.SpikeRepeatForward(n, T, F, x.View, y.View);
        var yh = Host(new double[n * T * F], n, T * F);
        SpikeEncoding.RepeatForward(n, T, F, xh, yh);
        Assert.Equal(Dense(yh, n, T * F), y.Read());

        // Sums of T = 3 terms in time order on both sides: identical.
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, F, offset: 2, gap: 2);
            var dxh = Host(accumulate ? dx.Values : new double[n * F], n, F);
            fx.Kernels.SpikeRepeatBackward(n, T, F, seq.View, dx.View, accumulate);
            SpikeEncoding.RepeatBackward(n, T, F, seqh, dxh, accumulate);
            Close(ToDouble(Dense(dxh, n, F)), dx.Read(), 0, 0, $"repeat backward, accumulate {accumulate}");
        }

        using var m = fx.Batch(rng, n, F, offset: 1, gap: 1);
        fx.Kernels.SpikeMeanForward(n, T, F, seq.View, m.View);
        var mh = Host(new double[n * F], n, F);
        SpikeEncoding.MeanForward(n, T, F, seqh, mh);
        Close(ToDouble(Dense(mh, n, F)), m.Read(), 0, 0, "mean");

        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, T * F, offset: 3, gap: 1);
            var dxh = Host(accumulate ? dx.Values : new double[n * T * F], n, T * F);
            fx.Kernels.SpikeMeanBackward(n, T, F, x.View, dx.View, accumulate);
            SpikeEncoding.MeanBackward(n, T, F, xh, dxh, accumulate);
            // Accumulating, the CPU adds dy * (1/T) and the GPU dy / T: one rounding apart.
            Close(ToDouble(Dense(dxh, n, T * F)), dx.Read(), accumulate ? 4e-7 : 0, accumulate ? 4e-7 : 0, $"mean backward, accumulate {accumulate}");
        }

        using var p = fx.Batch(rng, n, F, offset: 0, gap: 0);
        using var spikes = fx.Batch(rng, n, T * F, offset: 1, gap: 2);
        var probs = Host(p.Values, n, F);
        for (int i = 0; i < probs.Data.Length; i++) probs.Data[i] = Math.Abs(probs.Data[i]);
        using var pd = fx.Array(probs.Data);
        var pv = new GView(pd.View, 0, F);
        fx.Kernels.SpikePoissonForward(n, T, F, 77, pv, spikes.View);
        var sh = Host(new double[n * T * F], n, T * F);
        SpikeEncoding.PoissonForward(n, T, F, 77, probs, sh);
        Assert.Equal(Dense(sh, n, T * F), spikes.Read());
    }

    void Backward(string sg, NeuronDynamics d, int n, int T, int F, View x, View ds, float[] p, View dx, bool accumulate, float[] g,
        DeviceBatch xd, DeviceBatch dsd, DeviceArray wd, DeviceBatch dxd, DeviceArray dwd)
    {
        switch (sg)
        {
            case "Sigmoid": Run(new SigmoidSurrogate(4f)); break;
            case "ATan": Run(new ATanSurrogate(2f)); break;
            case "Rect": Run(new RectSurrogate(1f)); break;
            default: Run(new PiecewiseQuadraticSurrogate(1f)); break;
        }

        void Run<TS>(TS s) where TS : struct, ISurrogate
        {
            NeuronKernel.Backward(d, s, n, T, F, x, ds, p, 0, dx, accumulate, g, 0);
            fx.Kernels.NeuronBackward(d, s, n, T, F, xd.View, dsd.View, wd.View, dxd.View, accumulate, dwd.View);
        }
    }

    static View Host(double[] values, int n, int size)
    {
        var v = new View(new float[n * size], 0, size);
        for (int i = 0; i < values.Length; i++) v.Data[i] = (float)values[i];
        return v;
    }

    static float[] Dense(View v, int n, int size) => v.Data[..(n * size)];
}
