// AdamW against a double-precision transcription of torch.optim.AdamW's update rule over several steps,
// including a learning rate that changes between steps as a schedule would.
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Tests.Optim;

public class AdamWTests
{
    const int Steps = 8;

    static double LrAt(double lr, int t, bool varying) => varying ? lr * (1.0 - 0.1 * t) : lr;

    /// <summary>torch.optim.AdamW (amsgrad = false), in double.</summary>
    static double[] Reference(double[] p0, double lr, double b1, double b2, double eps, double wd, bool varyingLr)
    {
        var p = (double[])p0.Clone();
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (int t = 0; t < Steps; t++)
        {
            double lrT = (float)LrAt(lr, t, varyingLr);
            int step = t + 1;
            double bc1 = 1 - Math.Pow(b1, step), bc2 = 1 - Math.Pow(b2, step);
            for (int i = 0; i < p.Length; i++)
            {
                if (!OptimTestStores.IsTrainable(i)) continue;
                double g = (float)OptimTestStores.Grad((float)p[i], i, t);
                p[i] *= 1 - lrT * wd;                       // decoupled decay first
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double denom = Math.Sqrt(v[i]) / Math.Sqrt(bc2) + eps;   // eps outside the sqrt
                p[i] -= lrT / bc1 * m[i] / denom;
            }
        }
        return p;
    }

    [Theory]
    [InlineData(1e-3, 0.9, 0.999, 1e-8, 1e-2, false)] // PyTorch defaults
    [InlineData(3e-2, 0.8, 0.99, 1e-3, 0.1, true)]    // large eps and decay make both terms visible; lr changes per step
    [InlineData(1e-2, 0.9, 0.999, 1e-8, 0.0, false)]  // no decay: plain Adam
    public void MatchesPyTorchUpdateRuleOverSeveralSteps(double lr, double b1, double b2, double eps, double wd, bool varyingLr)
    {
        var store = OptimTestStores.Make();
        double[] p0 = Array.ConvertAll(store.Values, x => (double)x);
        var opt = new AdamW((float)lr, b1, b2, eps, wd);
        for (int t = 0; t < Steps; t++)
        {
            opt.LearningRate = (float)LrAt(lr, t, varyingLr);
            OptimTestStores.FillGrads(store, t);
            opt.Step(store);
        }
        var expected = Reference(p0, lr, b1, b2, eps, wd, varyingLr);
        for (int i = 0; i < expected.Length; i++)
        {
            // Each Adam step moves a scalar by about lr; float error after 8 steps stays far below 1e-6 absolute.
            Assert.True(Math.Abs(store.Values[i] - expected[i]) <= 1e-6,
                $"scalar {i}: got {store.Values[i]:R}, expected {expected[i]:R} (moved {expected[i] - p0[i]:G3})");
        }
        for (int i = 15; i < 19; i++) Assert.Equal(1f, store.Values[i]); // running mean untouched
    }

    [Fact]
    public void FirstStepMovesEachScalarByLearningRateTimesSignOfGradient()
    {
        // With bias correction, step 1 is m/sqrt(v) = g/|g|: every trainable scalar moves by exactly lr (eps, wd ~ 0).
        var store = OptimTestStores.Make();
        var before = (float[])store.Values.Clone();
        OptimTestStores.FillGrads(store, 0);
        new AdamW(learningRate: 0.01f, eps: 0f, weightDecay: 0f).Step(store);
        for (int i = 0; i < before.Length; i++)
        {
            double expected = OptimTestStores.IsTrainable(i) ? before[i] - 0.01 * Math.Sign(store.Grads[i]) : before[i];
            Assert.True(Math.Abs(store.Values[i] - expected) <= 1e-7, $"scalar {i}: got {store.Values[i]}, expected {expected}");
        }
    }

    [Fact]
    public void StepAllocatesNothingAfterTheFirst()
    {
        var store = OptimTestStores.Make();
        var opt = new AdamW();
        OptimTestStores.FillGrads(store, 0);
        opt.Step(store);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 50; t++) opt.Step(store);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void LargeStoreSpanningManyChunksMatchesTheSmallPath()
    {
        // 5000 scalars cross the 2048-float chunk boundary twice; each scalar must update as if alone.
        var big = new ParameterStore([new ParameterInfo("w", [5000], ParameterRole.Weight, InitKind.KaimingUniform, 10, 10)], seed: 1);
        var single = new ParameterStore([new ParameterInfo("w", [1], ParameterRole.Weight, InitKind.Zeros, 1, 1)]);
        var opt = new AdamW(0.01f);
        for (int i = 0; i < 5000; i++) big.Grads[i] = MathF.Sin(i);
        var p0 = (float[])big.Values.Clone();
        opt.Step(big);
        foreach (int i in new[] { 0, 2047, 2048, 4095, 4096, 4999 })
        {
            single.Values[0] = p0[i];
            single.Grads[0] = big.Grads[i];
            new AdamW(0.01f).Step(single);
            Assert.Equal(single.Values[0], big.Values[i]);
        }
    }

    [Fact]
    public void DecayFilterExemptsBiasesLikeASecondParamGroup()
    {
        // Zero gradients isolate the decay: a decayed weight shrinks by (1 - lr * wd), the exempt bias does not move.
        var store = OptimTestStores.Make();
        var before = (float[])store.Values.Clone();
        new AdamW(0.1f, weightDecay: 0.5, decayFilter: DecayFilters.WeightsOnly).Step(store);
        for (int i = 0; i < 15; i++) Assert.Equal(before[i] * 0.95f, store.Values[i], 6); // fc.weight, |w| < 0.5
        for (int i = 15; i < 22; i++) Assert.Equal(before[i], store.Values[i]);            // running mean, fc.bias

        var sgd = OptimTestStores.Make();
        new Sgd(0.1f, weightDecay: 0.5, decayFilter: DecayFilters.WeightsOnly).Step(sgd);
        for (int i = 0; i < 15; i++) Assert.Equal(before[i] * 0.95f, sgd.Values[i], 6);
        for (int i = 15; i < 22; i++) Assert.Equal(before[i], sgd.Values[i]);
    }
}
