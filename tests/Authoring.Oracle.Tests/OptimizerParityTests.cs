// Our optimizers (Authoring.Runtime.Optim) against torch.optim.SGD / torch.optim.AdamW over three steps
// on a small ParameterStore. (TorchSharp's optimizers are C# ports of PyTorch's single-tensor
// implementations, step for step; they were so far only checked against hand-written formulas.)
// The store interleaves BatchNorm running statistics between trainable tensors and gives them
// non-zero "gradients": optimizers must skip them, leaving values untouched.
using Authoring.Runtime;
using Authoring.Runtime.Optim;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;

namespace Authoring.Oracle.Tests;

public class OptimizerParityTests
{
    // Each step is a handful of float32 element-wise operations on values of O(1); the two sides
    // round differently only where one fuses a multiply-add or orders a product differently, a few
    // ulps (6e-8 relative) per step. 2e-6 of the tensor's scale allows ~10 such roundings over three
    // steps, while still resolving the update itself (lr 1e-2 or more) to ~1e-4 of its size: a wrong
    // bias correction, missing momentum term or coupled/decoupled decay mix-up is caught.
    const double Tol = 2e-6;
    const int Steps = 3;

    static ParameterStore Store()
    {
        var infos = new List<ParameterInfo>
        {
            new("fc.weight", new[] { 3, 4 }, ParameterRole.Weight, InitKind.KaimingUniform, 4, 3),
            new("bn.running_mean", new[] { 3 }, ParameterRole.RunningMean, InitKind.Zeros, 0, 0),
            new("fc.bias", new[] { 3 }, ParameterRole.Bias, InitKind.BiasUniform, 4, 3),
            new("bn.weight", new[] { 3 }, ParameterRole.NormWeight, InitKind.Ones, 0, 0),
            new("bn.running_var", new[] { 3 }, ParameterRole.RunningVar, InitKind.Ones, 0, 0),
            new("bn.bias", new[] { 3 }, ParameterRole.NormBias, InitKind.Zeros, 0, 0),
            new("head.weight", new[] { 5, 7 }, ParameterRole.Weight, InitKind.XavierUniform, 7, 5),
        };
        var store = new ParameterStore(infos, seed: 3);
        // Every value non-trivial (ones and zeros would hide decay terms).
        var rng = new Random(4);
        for (int i = 0; i < store.Values.Length; i++) store.Values[i] = (float)(rng.NextDouble() * 2 - 1);
        return store;
    }

    /// <summary>Gradients for step <paramref name="step"/>: signs and magnitudes vary between steps (so
    /// the moments really mix); running statistics get values too, which must be ignored.</summary>
    static void FillGrads(ParameterStore store, int step)
    {
        var rng = new Random(100 + step);
        for (int i = 0; i < store.Grads.Length; i++) store.Grads[i] = (float)((rng.NextDouble() * 2 - 1) * (1 + step));
    }

    /// <param name="learningRates">When given, the learning rate of each step, set on both sides before it
    /// (as a schedule does); otherwise the constructor's.</param>
    static void Run(IOptimizer ours, Func<IEnumerable<Parameter>, torch.optim.Optimizer> makeTorch, float[]? learningRates = null)
    {
        TorchOracle.EnsureInitialized();
        using var scope = TorchOracle.Scope();
        var store = Store();
        var trainable = Enumerable.Range(0, store.Infos.Count).Where(i => store.Infos[i].Trainable).ToArray();
        var frozen = Enumerable.Range(0, store.Infos.Count).Where(i => !store.Infos[i].Trainable)
            .ToDictionary(i => i, i => store.Value(i).ToArray());
        var ps = trainable.Select(i => new Parameter(TorchOracle.Constant(store.Value(i).ToArray(),
            Array.ConvertAll(store.Infos[i].Shape, d => (long)d)))).ToArray();
        using var opt = makeTorch(ps);

        for (int step = 1; step <= Steps; step++)
        {
            FillGrads(store, step);
            if (learningRates is not null)
            {
                ours.LearningRate = learningRates[step - 1];
                foreach (var group in opt.ParamGroups) group.LearningRate = learningRates[step - 1];
            }
            // Give torch the same gradients: d/dp sum(p * g) = g.
            opt.zero_grad();
            var loss = torch.zeros(1);
            for (int k = 0; k < ps.Length; k++)
            {
                var g = TorchOracle.Constant(store.Grad(trainable[k]).ToArray(), ps[k].shape);
                loss = loss + (ps[k] * g).sum();
            }
            loss.backward();
            opt.step();
            ours.Step(store);

            Assert.Equal(step, ours.StepCount);
            for (int k = 0; k < ps.Length; k++)
                ModelParityTests.AssertClose(store.Value(trainable[k]), TorchOracle.ToArray(ps[k]), Tol,
                    $"step {step}: {store.Infos[trainable[k]].Name}");
            foreach (var (i, before) in frozen)
                Assert.Equal(before, store.Value(i).ToArray());
        }
    }

    [Fact]
    public void SgdMomentumWeightDecay() => Run(new Sgd(0.1f, momentum: 0.9, weightDecay: 1e-2),
        ps => torch.optim.SGD(ps, 0.1, momentum: 0.9, weight_decay: 1e-2));

    [Fact]
    public void SgdNesterov() => Run(new Sgd(0.05f, momentum: 0.8, weightDecay: 5e-2, nesterov: true),
        ps => torch.optim.SGD(ps, 0.05, momentum: 0.8, weight_decay: 5e-2, nesterov: true));

    [Fact]
    public void SgdDampening() => Run(new Sgd(0.1f, momentum: 0.9, dampening: 0.3),
        ps => torch.optim.SGD(ps, 0.1, momentum: 0.9, dampening: 0.3));

    [Fact]
    public void SgdPlain() => Run(new Sgd(0.2f), ps => torch.optim.SGD(ps, 0.2));

    [Fact]
    public void AdamWDefaults() => Run(new AdamW(1e-2f),
        ps => torch.optim.AdamW(ps, 1e-2, weight_decay: 1e-2));

    [Fact]
    public void SgdScheduledLearningRate() => Run(new Sgd(0.1f, momentum: 0.9, weightDecay: 1e-2),
        ps => torch.optim.SGD(ps, 0.1, momentum: 0.9, weight_decay: 1e-2), new[] { 0.1f, 0.05f, 0.02f });

    [Fact]
    public void AdamWScheduledLearningRate() => Run(new AdamW(1e-2f),
        ps => torch.optim.AdamW(ps, 1e-2, weight_decay: 1e-2), new[] { 1e-2f, 5e-3f, 2e-3f });

    [Fact]
    public void AdamWBetasEpsWeightDecay() => Run(new AdamW(3e-2f, beta1: 0.8, beta2: 0.95, eps: 1e-3, weightDecay: 0.1),
        ps => torch.optim.AdamW(ps, 3e-2, beta1: 0.8, beta2: 0.95, eps: 1e-3, weight_decay: 0.1));
}
