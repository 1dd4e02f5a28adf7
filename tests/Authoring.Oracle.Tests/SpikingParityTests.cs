// The fused neuron kernels against TorchNeuron, a TorchSharp step loop of SpikingJelly's definitions,
// with autograd for the gradients: every neuron, reset and detach_reset, each surrogate, T in {1, 4, 8},
// odd feature counts, batch 1. Spikes and membranes must be identical (both evaluate the same IEEE
// operations in the same order); gradients are each within the stated float32 bound of the double
// forward-mode reference (SpikingReference), so ours and PyTorch's are within twice that of each other.
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;
using Authoring.Runtime.Tests.Cpu.Spiking;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;

namespace Authoring.Oracle.Tests;

public class SpikingParityTests
{
    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 37 }, { 2, 4, 37 }, { 1, 8, 61 }, { 2, 8, 19 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void NeuronsMatchTheTorchStepLoop(int n, int T, int F)
    {
        EnsureInitialized();
        int size = T * F;
        foreach (var sg in SpikingReference.Surrogates)
            foreach (var c in SpikingReference.Cases())
            {
                using var scope = Scope();
                var (lo, hi) = SpikingReference.InputRange(c);
                var x = Random(n * size, n * 1000 + T * 100 + F + sg.Length, lo, hi);
                var ds = Random(n * size, n + T + F);
                var d = c.D;

                // Ours.
                var s = new float[n * size];
                var v = new float[n * size];
                long count = NeuronKernel.Forward(d, n, T, F, new View(x, 0, size), [c.W], 0, new View(s, 0, size), new View(v, 0, size));
                var dx = new float[n * size];
                var g = new float[1];
                Backward(sg, d, n, T, F, x, ds, c.W, dx, g);

                // PyTorch: [n, T, F] viewed time-major as SpikingJelly's [T, N, F].
                var xt = Leaf(x, n, T, F);
                using var neuron = new TorchNeuron(d, sg, SpikingReference.Alpha(sg), c.W) { StoreVSeq = true };
                var st = neuron.forward(xt.transpose(0, 1));
                var ts = ToArray(st.transpose(0, 1));
                var tv = ToArray(neuron.VSeq!.transpose(0, 1));
                var grads = c.D.Model == NeuronModel.ParametricLif
                    ? Gradients(st.transpose(0, 1), ds, xt, neuron.w!)
                    : Gradients(st.transpose(0, 1), ds, xt);

                string what = $"{c}, {sg}, n {n}, T {T}, F {F}";
                for (int i = 0; i < s.Length; i++)
                {
                    Assert.True(s[i] == ts[i], $"{what}: spike {i} is {s[i]}, PyTorch {ts[i]}");
                    // Tolerance 0: PyTorch and the kernel run the same float32 operations in the same order (the hard reset's
                    // select and PyTorch's s * v_reset + (1 - s) * h can only differ in the sign of a zero, which == ignores).
                    Assert.True(v[i] == tv[i], $"{what}: v {i} is {v[i]:R}, PyTorch {tv[i]:R}");
                }
                Assert.Equal((long)ts.Sum(), count);

                // Gradients: each side within the bound of the exact (double) value.
                var (rs, _, rh) = SpikingReference.Forward(d, c.W, n, T, F, x);
                var (ex, exTol, ew, ewTol) = SpikingReference.Gradients(d, c.W, sg, n, T, F, x, rh, rs, ds);
                for (int i = 0; i < ex.Length; i++)
                {
                    double tol = 2 * exTol[i] + 1e-30;
                    Assert.True(Math.Abs(dx[i] - grads[0][i]) <= tol, $"{what}: dx {i} is {dx[i]:R}, PyTorch {grads[0][i]:R} (tolerance {tol:E3})");
                }
                if (d.Model == NeuronModel.ParametricLif)
                {
                    double tol = 2 * ewTol + 1e-30;
                    Assert.True(Math.Abs(g[0] - grads[1][0]) <= tol, $"{what}: dw is {g[0]:R}, PyTorch {grads[1][0]:R} (tolerance {tol:E3})");
                }
            }
    }

    [Fact]
    public void PlifKeepsSpikingJellysStateDictName()
    {
        using var neuron = new TorchNeuron(NeuronDynamics.ParametricLif(), "Sigmoid", 4, NeuronDynamics.InitialW(2f));
        Assert.Equal(["w"], neuron.state_dict().Keys);
        Assert.Equal(0f, neuron.w!.item<float>());
        using var lif = new TorchNeuron(NeuronDynamics.Lif(), "Sigmoid", 4);
        Assert.Empty(lif.state_dict());
    }

    static void Backward(string sg, NeuronDynamics d, int n, int T, int F, float[] x, float[] ds, float w, float[] dx, float[] g)
    {
        int size = T * F;
        var xv = new View(x, 0, size);
        var dsv = new View(ds, 0, size);
        var dxv = new View(dx, 0, size);
        float a = SpikingReference.Alpha(sg);
        switch (sg)
        {
            case "Sigmoid": NeuronKernel.Backward(d, new SigmoidSurrogate(a), n, T, F, xv, dsv, [w], 0, dxv, false, g, 0); break;
            case "ATan": NeuronKernel.Backward(d, new ATanSurrogate(a), n, T, F, xv, dsv, [w], 0, dxv, false, g, 0); break;
            case "Rect": NeuronKernel.Backward(d, new RectSurrogate(a), n, T, F, xv, dsv, [w], 0, dxv, false, g, 0); break;
            default: NeuronKernel.Backward(d, new PiecewiseQuadraticSurrogate(a), n, T, F, xv, dsv, [w], 0, dxv, false, g, 0); break;
        }
    }
}
