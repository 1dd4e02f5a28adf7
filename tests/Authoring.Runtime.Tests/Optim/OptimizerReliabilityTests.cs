// Both optimizers refuse a non-finite gradient before changing anything, naming the tensor, and carry
// their whole state through GetState/SetState so a resumed run steps exactly as an uninterrupted one.
using Authoring.Runtime;
using Authoring.Runtime.Optim;

namespace Authoring.Runtime.Tests.Optim;

public class OptimizerReliabilityTests
{
    public static TheoryData<string> Optimizers => new() { "adamw", "sgd", "sgd-nesterov" };

    static IOptimizer Make(string kind, bool check = true) => kind switch
    {
        "adamw" => new AdamW(0.01f, weightDecay: 0.1) { CheckFinite = check },
        "sgd" => new Sgd(0.05f, momentum: 0.9, weightDecay: 0.01, dampening: 0.1) { CheckFinite = check },
        _ => new Sgd(0.05f, momentum: 0.9, nesterov: true) { CheckFinite = check },
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ANonFiniteGradientIsRefusedBeforeAnythingChanges(string kind)
    {
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var store = OptimTestStores.Make();
            var opt = Make(kind);
            OptimTestStores.FillGrads(store, 0);
            opt.Step(store); // state exists (moments, momentum) before the failing step
            OptimTestStores.FillGrads(store, 1);
            store.Grads[20] = bad; // fc.bias[1]: the second trainable run, past the running mean
            var values = (float[])store.Values.Clone();
            var state = opt.GetState();

            var e = Assert.Throws<NonFiniteException>(() => opt.Step(store));
            Assert.Equal(NonFiniteKind.Gradient, e.Kind);
            Assert.Equal("fc.bias", e.Tensor);
            Assert.Equal(bad, e.Value);
            Assert.Contains("Non-finite gradient", e.Message);
            Assert.Contains("in tensor 'fc.bias' (element 1)", e.Message);
            Assert.Equal(values, store.Values);
            Assert.Equal(1, opt.StepCount);
            var after = opt.GetState();
            foreach (var (name, buffer) in state.Buffers) Assert.Equal(buffer, after.Buffers[name]);
        }
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void TheCheckCanBeTurnedOff(string kind)
    {
        var store = OptimTestStores.Make();
        var opt = Make(kind, check: false);
        OptimTestStores.FillGrads(store, 0);
        store.Grads[0] = float.NaN;
        opt.Step(store);
        Assert.True(float.IsNaN(store.Values[0]));
        Assert.False(float.IsNaN(store.Values[1]));
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void AStateRestoredIntoFreshObjectsStepsBitForBitAsTheOriginal(string kind)
    {
        // Five steps straight, against three steps, the state copied into a fresh optimizer and store, and two more.
        var a = OptimTestStores.Make();
        var optA = Make(kind);
        for (int t = 0; t < 5; t++) { OptimTestStores.FillGrads(a, t); optA.Step(a); }

        var b = OptimTestStores.Make();
        var optB = Make(kind);
        for (int t = 0; t < 3; t++) { OptimTestStores.FillGrads(b, t); optB.Step(b); }
        var state = optB.GetState();
        var c = OptimTestStores.Make();
        b.Values.CopyTo(c.Values, 0);
        var optC = Make(kind);
        optC.SetState(c, state);
        Assert.Equal(3, optC.StepCount);
        for (int t = 3; t < 5; t++) { OptimTestStores.FillGrads(c, t); optC.Step(c); }

        Assert.Equal(a.Values, c.Values);
        Assert.Equal(5, optC.StepCount);
        // The state is a copy: stepping the original afterwards does not change it.
        OptimTestStores.FillGrads(b, 3);
        optB.Step(b);
        Assert.Equal(3, state.StepCount);
        Assert.Equal(state.Buffers.Keys, optC.GetState().Buffers.Keys);
    }

    [Fact]
    public void StateNamesFollowTorchOptimAndForeignStatesAreRefused()
    {
        var store = OptimTestStores.Make();
        var adam = new AdamW();
        Assert.Empty(adam.GetState().Buffers); // nothing before the first step
        OptimTestStores.FillGrads(store, 0);
        adam.Step(store);
        Assert.Equal(["exp_avg", "exp_avg_sq"], adam.GetState().Buffers.Keys.Order());
        var sgd = new Sgd(0.1f, momentum: 0.5);
        sgd.Step(store);
        Assert.Equal(["momentum_buffer"], sgd.GetState().Buffers.Keys);
        Assert.Empty(new Sgd(0.1f).GetState().Buffers);

        Assert.Throws<ArgumentException>(() => new Sgd(0.1f).SetState(OptimTestStores.Make(), adam.GetState()));
        var wrongSize = adam.GetState() with { Buffers = new Dictionary<string, float[]> { ["exp_avg"] = new float[3], ["exp_avg_sq"] = new float[3] } };
        var e = Assert.Throws<ArgumentException>(() => new AdamW().SetState(OptimTestStores.Make(), wrongSize));
        Assert.Contains("holds 3 values; the store has 22", e.Message);
    }
}
