// BatchNorm kernels against double-precision statistics and gradients. Tolerance 5e-5 absolute:
// normalisation multiplies the float rounding of x - mean by 1/std (about 2 here) and gamma (up
// to 3), and the pre-activations reach |8|; the backward sums ~12 such terms per channel.
using Authoring.Runtime.Cpu;
using ILGPU.Runtime;
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class BatchNormTests(GpuFixture fx)
{
    const double Atol = 5e-5, Rtol = 1e-5;
    const int N = 2, C = 3, HW = 6;
    const float Momentum = 0.1f, Eps = 1e-5f;

    [Theory, MemberData(nameof(Activations), MemberType = typeof(Reference))]
    public void TrainForwardAndBackwardEveryActivation(Type act) => Invoke(this, nameof(TrainOnDevice), act);

    void TrainOnDevice<TAct>() where TAct : struct, IActivation
    {
        var a = typeof(TAct);
        var rng = new Random(a.Name.Length * 31 + 5);
        using var x = fx.Batch(rng, N, C * HW, offset: 2, gap: 3, scale: 2);
        using var gamma = fx.Array(Random(rng, C, 3));
        using var beta = fx.Array(Random(rng, C, 2));
        var rm0 = Random(rng, C);
        var rv0 = Array.ConvertAll(Random(rng, C), v => 1 + v / 2);
        using var rm = fx.Array(rm0);
        using var rv = fx.Array(rv0);
        using var save = fx.Array(Random(rng, 2 * C));
        using var y = fx.Batch(rng, N, C * HW, offset: 0, gap: 1);

        fx.Kernels.BatchNormForwardTrain<TAct>(N, C, HW, x.View, gamma.View, beta.View, rm.View, rv.View, Momentum, Eps, save.View, y.View);

        int count = N * HW;
        using var dy = fx.Batch(rng, N, C * HW, offset: 1, gap: 2);
        var (mean, var, yRef, dxRef, sg, sgx) = Train(a, x.Values, ToDouble(gamma.Host), ToDouble(beta.Host), dy.Values);

        var saveRef = new double[2 * C];
        var rmRef = new double[C];
        var rvRef = new double[C];
        for (int c = 0; c < C; c++)
        {
            saveRef[c] = mean[c];
            saveRef[C + c] = 1 / Math.Sqrt(var[c] + Eps);
            rmRef[c] = (1 - Momentum) * rm0[c] + Momentum * mean[c];
            rvRef[c] = (1 - Momentum) * rv0[c] + Momentum * var[c] * count / (count - 1);
        }
        Close(saveRef, save.Read(), Atol, Rtol, "save");
        Close(rmRef, rm.Read(), Atol, Rtol, "running mean");
        Close(rvRef, rv.Read(), Atol, Rtol, "running var");
        Close(yRef, y.Read(), Atol, Rtol, "y");

        // Backward, from the saved statistics.
        var dGamma0 = Random(rng, C);
        var dBeta0 = Random(rng, C);
        using var dGamma = fx.Array(dGamma0);
        using var dBeta = fx.Array(dBeta0);
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, N, C * HW, offset: 3, gap: 1);
            fx.Kernels.BatchNormBackwardTrain<TAct>(N, C, HW, x.View, dy.View, gamma.View, beta.View, save.View, dx.View, accumulate,
                dGamma.View, dBeta.View);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
        // Two backward calls, each adding its sums.
        Close(Plus(ToDouble(dGamma0), Plus(sgx, sgx)), dGamma.Read(), Atol, Rtol, "dGamma (+= twice)");
        Close(Plus(ToDouble(dBeta0), Plus(sg, sg)), dBeta.Read(), Atol, Rtol, "dBeta (+= twice)");

        // Eval-mode affine with the same activation.
        using var scale = fx.Array(Random(rng, C, 4));
        using var shift = fx.Array(Random(rng, C, 3));
        using var ya = fx.Batch(rng, N, C * HW, offset: 4, gap: 2);
        fx.Kernels.BatchNormAffine<TAct>(N, C, HW, x.View, scale.View, shift.View, ya.View);
        var yaRef = new double[N * C * HW];
        for (int i = 0; i < yaRef.Length; i++) { int c = i % (C * HW) / HW; yaRef[i] = Apply(a, scale.Host[c] * x.Values[i] + shift.Host[c]); }
        Close(yaRef, ya.Read(), Atol, Rtol, "affine y");
    }

    /// <summary>The training forward and its analytic backward in double: batch mean and biased variance,
    /// y = act(gamma x_hat + beta), dx, and the sums that dBeta (sum g) and dGamma (sum g x_hat) accumulate.</summary>
    static (double[] mean, double[] var, double[] y, double[] dx, double[] sg, double[] sgx) Train(
        Type act, double[] x, double[] gamma, double[] beta, double[] dy)
    {
        int count = N * HW;
        var mean = new double[C];
        var var = new double[C];
        for (int i = 0; i < x.Length; i++) mean[i % (C * HW) / HW] += x[i] / count;
        for (int i = 0; i < x.Length; i++) var[i % (C * HW) / HW] += Math.Pow(x[i] - mean[i % (C * HW) / HW], 2) / count;
        var y = new double[x.Length];
        var g = new double[x.Length];
        var xhat = new double[x.Length];
        var sg = new double[C];
        var sgx = new double[C];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % (C * HW) / HW;
            xhat[i] = (x[i] - mean[c]) / Math.Sqrt(var[c] + Eps);
            double z = gamma[c] * xhat[i] + beta[c];
            y[i] = Apply(act, z);
            g[i] = dy[i] * Derivative(act, z);
            sg[c] += g[i];
            sgx[c] += g[i] * xhat[i];
        }
        var dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int c = i % (C * HW) / HW;
            dx[i] = gamma[c] / Math.Sqrt(var[c] + Eps) * (g[i] - sg[c] / count - xhat[i] * sgx[c] / count);
        }
        return (mean, var, y, dx, sg, sgx);
    }

    /// <summary>The reference backward (which the kernels are held to) must itself be the gradient of the reference
    /// forward: central differences of L = sum dy * y in double, on smooth activations (no kinks to straddle).</summary>
    [Theory]
    [InlineData(typeof(Identity))]
    [InlineData(typeof(Tanh))]
    [InlineData(typeof(Sigmoid))]
    public void ReferenceBackwardMatchesFiniteDifferences(Type act)
    {
        var rng = new Random(12);
        double[] R(int len, double scale) => Array.ConvertAll(Random(rng, len, scale), v => (double)v);
        double[] x = R(N * C * HW, 2), gamma = R(C, 3), beta = R(C, 2), dy = R(N * C * HW, 1);
        var (_, _, _, dx, sg, sgx) = Train(act, x, gamma, beta, dy);
        double Loss() { var y = Train(act, x, gamma, beta, dy).y; double l = 0; for (int i = 0; i < y.Length; i++) l += dy[i] * y[i]; return l; }
        double Numeric(double[] v, int i)
        {
            const double h = 1e-6;
            double keep = v[i];
            v[i] = keep + h; double up = Loss();
            v[i] = keep - h; double down = Loss();
            v[i] = keep;
            return (up - down) / (2 * h);
        }
        // Central differences in double: truncation ~h^2 and rounding ~1e-16/h, so 1e-6 absolute is ample.
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(Numeric(x, i) - dx[i]) < 1e-6, $"dx[{i}]");
        for (int c = 0; c < C; c++)
        {
            Assert.True(Math.Abs(Numeric(gamma, c) - sgx[c]) < 1e-6, $"dGamma[{c}]");
            Assert.True(Math.Abs(Numeric(beta, c) - sg[c]) < 1e-6, $"dBeta[{c}]");
        }
    }

    [Fact]
    public void ANonFiniteBatchLeavesTheRunningStatisticsAndSetsTheFlag()
    {
        // As the CPU kernel: one NaN or infinity in the last channel freezes every channel's running statistics;
        // the flag (shared by layers, so only ever set) says so, and a finite batch then updates as before.
        const int n = 2, c = 3, hw = 5;
        var rng = new Random(17);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var host = Random(rng, n * c * hw, 2);
            host[1 * c * hw + (c - 1) * hw + 3] = bad;
            using var x = fx.Array(host);
            var view = new GView(x.View, 0, c * hw);
            var rm0 = Random(rng, c);
            var rv0 = Array.ConvertAll(Random(rng, c), v => 1 + v / 2);
            using var rm = fx.Array(rm0);
            using var rv = fx.Array(rv0);
            using var save = fx.Array(new float[2 * c]);
            using var y = fx.Batch(rng, n, c * hw, offset: 0, gap: 1);
            using var flag = fx.Device.AllocateInt(1);

            fx.Kernels.BatchNormForwardTrain<Relu>(n, c, hw, view, default, default, rm.View, rv.View, Momentum, Eps, save.View, y.View, flag.View);
            Assert.Equal(rm0, rm.Read());
            Assert.Equal(rv0, rv.Read());
            var f = flag.GetAsArray1D();
            Assert.Equal(1, f[0]);

            // A finite batch: the statistics move (as TrainForwardAndBackwardEveryActivation checks in detail), the flag stays set.
            host[1 * c * hw + (c - 1) * hw + 3] = 0.5f;
            using var x2 = fx.Array(host);
            using var fresh = fx.Device.AllocateInt(1);
            fx.Kernels.BatchNormForwardTrain<Relu>(n, c, hw, new GView(x2.View, 0, c * hw), default, default, rm.View, rv.View, Momentum, Eps, save.View, y.View, flag.View);
            fx.Kernels.BatchNormForwardTrain<Relu>(n, c, hw, new GView(x2.View, 0, c * hw), default, default, default, default, Momentum, Eps, save.View, y.View, fresh.View);
            var rm1 = rm.Read();
            for (int ch = 0; ch < c; ch++) Assert.NotEqual(rm0[ch], rm1[ch]);
            f = flag.GetAsArray1D();
            Assert.Equal(1, f[0]);
            f = fresh.GetAsArray1D();
            Assert.Equal(0, f[0]);
        }
    }

    [Fact]
    public void StatisticsCombine256PartsStablyAndReproducibly()
    {
        // 2400 values per channel (256 partial sums each) around a mean of 100 with unit spread: the
        // one-pass E[x^2] - E[x]^2 would lose most of the variance's digits in float; the partial two-pass
        // plus ordered Chan combination keeps the relative error of the variance near 1e-5.
        const int n = 4, c = 2, hw = 600;
        var rng = new Random(11);
        using var x = fx.Batch(rng, n, c * hw, offset: 1, gap: 1, scale: 1);
        using var shifted = fx.Array(Array.ConvertAll(x.Values, v => (float)(v + 100)));
        var view = new GView(shifted.View, 0, c * hw);
        using var save = fx.Array(new float[2 * c]);
        using var y = fx.Batch(rng, n, c * hw, offset: 0, gap: 0);
        fx.Kernels.BatchNormForwardTrain<Identity>(n, c, hw, view, default, default, default, default, Momentum, Eps, save.View, y.View);
        var first = save.Read();
        var expected = new double[2 * c];
        for (int ch = 0; ch < c; ch++)
        {
            double mean = 0, var = 0;
            for (int b = 0; b < n; b++) for (int p = 0; p < hw; p++) mean += shifted.Host[b * c * hw + ch * hw + p];
            mean /= n * hw;
            for (int b = 0; b < n; b++) for (int p = 0; p < hw; p++) var += Math.Pow(shifted.Host[b * c * hw + ch * hw + p] - mean, 2);
            var /= n * hw;
            expected[ch] = mean;
            expected[c + ch] = 1 / Math.Sqrt(var + Eps);
        }
        Close(expected, first, 1e-5, 1e-4, "save");
        fx.Kernels.BatchNormForwardTrain<Identity>(n, c, hw, view, default, default, default, default, Momentum, Eps, save.View, y.View);
        Assert.Equal(first, save.Read()); // bitwise: no atomics, fixed order
    }

    [Fact]
    public void FoldEvalWithAndWithoutBias()
    {
        var rng = new Random(3);
        const int c = 5;
        using var gamma = fx.Array(Random(rng, c, 2));
        using var beta = fx.Array(Random(rng, c));
        using var mean = fx.Array(Random(rng, c));
        using var var = fx.Array(Array.ConvertAll(Random(rng, c), v => 1 + v / 2));
        using var bias = fx.Array(Random(rng, c));
        foreach (bool withBias in new[] { true, false })
        {
            using var scale = fx.Array(new float[c]);
            using var shift = fx.Array(new float[c]);
            fx.Kernels.BatchNormFoldEval(c, gamma.View, beta.View, mean.View, var.View, Eps, withBias ? bias.View : default, scale.View, shift.View);
            var sRef = new double[c];
            var tRef = new double[c];
            for (int i = 0; i < c; i++)
            {
                sRef[i] = gamma.Host[i] / Math.Sqrt(var.Host[i] + Eps);
                tRef[i] = beta.Host[i] + ((withBias ? bias.Host[i] : 0) - mean.Host[i]) * sRef[i];
            }
            Close(sRef, scale.Read(), 1e-5, 1e-5, "scale");
            Close(tRef, shift.Read(), 1e-5, 1e-5, "shift");
        }
    }
}
