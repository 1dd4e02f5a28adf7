// The device optimizers against the host ones (Runtime/Optim, themselves checked against PyTorch's
// formulas and TorchSharp): the same store, the same gradients each step, a learning rate changed
// between steps, weight decay on weights only. On ILGPU's CPU accelerator the kernels run the host's
// float operations in the host's order, so the values must agree to the bit; on CUDA (ptxas may fuse
// a multiply and an add, sqrt and division may round differently) a few float roundings per step
// are allowed: 1e-6 relative to the value plus the step size.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime;
using Authoring.Runtime.Optim;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class OptimizerTests(GpuFixture fx)
{
    /// <summary>weight [4, 7] (decayed), running mean [5] (frozen), bias [4], BN weight [3], running var [3].</summary>
    static ParameterStore Store() => new(
    [
        new ParameterInfo("fc.weight", [4, 7], ParameterRole.Weight, InitKind.KaimingUniform, 7, 4),
        new ParameterInfo("bn.running_mean", [5], ParameterRole.RunningMean, InitKind.Zeros, 0, 0),
        new ParameterInfo("fc.bias", [4], ParameterRole.Bias, InitKind.BiasUniform, 7, 4),
        new ParameterInfo("bn.weight", [3], ParameterRole.NormWeight, InitKind.Ones, 0, 0),
        new ParameterInfo("bn.running_var", [3], ParameterRole.RunningVar, InitKind.Ones, 0, 0),
    ], seed: 5);

    /// <summary>Gradients of step t: depend on the value (like a loss would), vary in sign and scale.</summary>
    static void FillGrads(ParameterStore s, int t)
    {
        for (int i = 0; i < s.Values.Length; i++) s.Grads[i] = (float)(0.6 * s.Values[i] + Math.Sin(1.7 * i + 0.8 * t) * (1 + 0.05 * i));
    }

    void Check(Func<IOptimizer> host, Func<IDeviceOptimizer> device, string what)
    {
        var hs = Store();
        var ds = Store();
        using var dp = new DeviceParameters(fx.Device, ds);
        var ho = host();
        using var dopt = device();
        for (int t = 0; t < 4; t++)
        {
            if (t == 2) { ho.LearningRate *= 0.5f; dopt.LearningRate *= 0.5f; }
            FillGrads(hs, t);
            hs.Grads.CopyTo(ds.Grads, 0);
            dp.Grads.CopyFromCPU(ds.Grads.AsSpan()); // the generated step writes these on the device
            ho.Step(hs);
            dopt.Step(dp);
            Assert.Equal(ho.StepCount, dopt.StepCount);
            // The host copy moves only when asked.
            var before = (float[])ds.Values.Clone();
            var got = new float[ds.Values.Length];
            fx.Device.CopyToHost(dp.Values, got);
            Assert.Equal(before, ds.Values);
            for (int i = 0; i < got.Length; i++)
            {
                bool exact = !fx.Device.IsCuda;
                double tol = exact ? 0 : 1e-6 * (Math.Abs(hs.Values[i]) + ho.LearningRate);
                double err = Math.Abs(got[i] - hs.Values[i]);
                Assert.True(err <= tol, $"{what} step {t}: scalar {i} is {got[i]:R}, host {hs.Values[i]:R} (error {err:E3})");
            }
        }
        dp.DownloadValues(ds);
        Assert.Equal(hs.Values, ds.Values);
        // Running statistics are never touched.
        var fresh = Store();
        for (int i = 28; i < 33; i++) Assert.Equal(fresh.Values[i], ds.Values[i]);
        for (int i = 40; i < 43; i++) Assert.Equal(fresh.Values[i], ds.Values[i]);
    }

    [Fact]
    public void AdamWMatchesHost() =>
        Check(() => new AdamW(3e-2f, weightDecay: 0.05), () => new DeviceAdamW(3e-2f, weightDecay: 0.05), "AdamW");

    [Fact]
    public void AdamWWeightsOnlyDecayMatchesHost() =>
        Check(() => new AdamW(1e-2f, 0.8, 0.99, 1e-6, 0.1, DecayFilters.WeightsOnly),
            () => new DeviceAdamW(new AdamW(1e-2f, 0.8, 0.99, 1e-6, 0.1, DecayFilters.WeightsOnly)), "AdamW weights-only");

    [Fact]
    public void AdamWWithoutDecayMatchesHost() =>
        Check(() => new AdamW(2e-3f, weightDecay: 0), () => new DeviceAdamW(2e-3f, weightDecay: 0), "AdamW no decay");

    [Fact]
    public void PlainSgdMatchesHost() => Check(() => new Sgd(0.1f), () => new DeviceSgd(0.1f), "SGD");

    [Fact]
    public void SgdMomentumDampeningDecayMatchesHost() =>
        Check(() => new Sgd(0.05f, momentum: 0.9, weightDecay: 1e-2, dampening: 0.3, decayFilter: DecayFilters.WeightsOnly),
            () => new DeviceSgd(0.05f, momentum: 0.9, weightDecay: 1e-2, dampening: 0.3, decayFilter: DecayFilters.WeightsOnly), "SGD momentum");

    [Fact]
    public void SgdNesterovMatchesHost() =>
        Check(() => new Sgd(0.05f, momentum: 0.8, weightDecay: 5e-3, nesterov: true),
            () => new DeviceSgd(new Sgd(0.05f, momentum: 0.8, weightDecay: 5e-3, nesterov: true)), "SGD Nesterov");

    [Fact]
    public void OptimizerRefusesASecondStore()
    {
        using var a = new DeviceParameters(fx.Device, Store());
        using var b = new DeviceParameters(fx.Device, Store());
        using var opt = new DeviceSgd(0.1f);
        opt.Step(a);
        Assert.Throws<InvalidOperationException>(() => opt.Step(b));
    }

    [Fact]
    public void UploadValuesLeavesGradsAlone()
    {
        var s = Store();
        FillGrads(s, 0);
        using var dp = new DeviceParameters(fx.Device, s);
        var grads = (float[])s.Grads.Clone();
        for (int i = 0; i < s.Values.Length; i++) { s.Values[i] += 1f; s.Grads[i] = -7f; }
        dp.UploadValues(s);
        var back = Store();
        dp.DownloadValues(back);
        Assert.Equal(s.Values, back.Values);
        dp.DownloadGrads(back);
        Assert.Equal(grads, back.Grads);
    }
}
