// SGD against a double-precision transcription of torch.optim.SGD's update rule over several steps.
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Tests.Optim;

public class SgdTests
{
    const int Steps = 6;

    /// <summary>torch.optim.SGD (maximize = false), in double, one scalar at a time.</summary>
    static double[] Reference(double[] p0, double lr, double momentum, double dampening, double wd, bool nesterov)
    {
        var p = (double[])p0.Clone();
        var buf = new double[p.Length];
        for (int t = 0; t < Steps; t++)
        {
            for (int i = 0; i < p.Length; i++)
            {
                if (!OptimTestStores.IsTrainable(i)) continue;
                // The model computes gradients in float from float parameters, so the reference sees the same g.
                double g = (float)OptimTestStores.Grad((float)p[i], i, t);
                double d = g + wd * p[i];
                if (momentum != 0)
                {
                    buf[i] = t == 0 ? d : momentum * buf[i] + (1 - dampening) * d;
                    d = nesterov ? d + momentum * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            }
        }
        return p;
    }

    [Theory]
    [InlineData(0.1, 0.0, 0.0, 0.0, false)]   // plain SGD
    [InlineData(0.05, 0.9, 0.0, 0.0, false)]  // heavy-ball momentum
    [InlineData(0.05, 0.9, 0.0, 5e-4, true)]  // Nesterov with L2 decay (the usual CNN recipe)
    [InlineData(0.05, 0.8, 0.3, 1e-2, false)] // dampening: not applied on the first step
    public void MatchesPyTorchUpdateRuleOverSeveralSteps(double lr, double momentum, double dampening, double wd, bool nesterov)
    {
        var store = OptimTestStores.Make();
        double[] p0 = Array.ConvertAll(store.Values, v => (double)v);
        var opt = new Sgd((float)lr, momentum, wd, nesterov, dampening);
        for (int t = 0; t < Steps; t++)
        {
            OptimTestStores.FillGrads(store, t);
            opt.Step(store);
        }
        var expected = Reference(p0, lr, momentum, dampening, wd, nesterov);
        for (int i = 0; i < expected.Length; i++)
        {
            // Float arithmetic against a double reference over 6 steps: 1e-5 absolute on values of size ~1.
            Assert.True(Math.Abs(store.Values[i] - expected[i]) <= 1e-5,
                $"scalar {i}: got {store.Values[i]}, expected {expected[i]}");
            if (!OptimTestStores.IsTrainable(i)) Assert.Equal(1f, store.Values[i]); // running mean untouched
        }
        Assert.Equal(Steps, opt.StepCount);
    }

    [Fact]
    public void LeavesGradientsAsTheModelWroteThem()
    {
        var store = OptimTestStores.Make();
        OptimTestStores.FillGrads(store, 0);
        var grads = (float[])store.Grads.Clone();
        new Sgd(0.1f, 0.9f, 1e-3f, nesterov: true).Step(store);
        Assert.Equal(grads, store.Grads);
    }

    [Fact]
    public void StepAllocatesNothingAfterTheFirst()
    {
        var store = OptimTestStores.Make();
        var opt = new Sgd(0.1f, 0.9f, 1e-3f, nesterov: true);
        OptimTestStores.FillGrads(store, 0);
        opt.Step(store);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 50; t++) opt.Step(store);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void RejectsASecondStoreAndInvalidSettings()
    {
        var opt = new Sgd(0.1f, 0.9f);
        opt.Step(OptimTestStores.Make());
        var e = Assert.Throws<InvalidOperationException>(() => opt.Step(OptimTestStores.Make()));
        Assert.Contains("another ParameterStore", e.Message);
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f, momentum: 0f, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-1f));
    }
}
