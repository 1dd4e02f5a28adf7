// Issue #10: a non-finite loss or gradient is reported with the op and layer that first produced it (the trainer
// traces the failed step again), and a batch with non-finite statistics leaves BatchNorm's running statistics as they
// were (the kernel test ConvFusionNonFiniteTests covers the statistics a convolution takes in its epilogue).
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Models.Tests;

public class NonFiniteTraceTests
{
    static (float[] X, int[] Labels) Batch(IModel m, int n, int seed)
    {
        var x = GradientTests.RandomInput(n * m.InputSize, seed);
        return (x, Enumerable.Range(0, n).Select(i => i % m.OutputSize).ToArray());
    }

    [Fact]
    public void TheTrainerNamesTheLayerWhoseOutputFirstOverflowed()
    {
        var model = new Overflowing();
        GradientTests.Randomize(model.Parameters, 3);
        // Finite weights whose products overflow float: the conv, BatchNorm and pool stay finite, the head does not. With
        // gamma = beta = 1 each pooled feature is the mean of relu(1 + z), z ~ N(0, 1): about 1.08 > 1, so four of them
        // times float.MaxValue overflow at the first step.
        model.Parameters.Value("bn.weight").Fill(1f);
        model.Parameters.Value("bn.bias").Fill(1f);
        model.Parameters.Value("fc.weight").Fill(float.MaxValue);
        var (x, labels) = Batch(model, 16, 4);
        var data = SampleSet.WithLabels(x, model.InputShape, labels, model.OutputSize);
        var before = model.Parameters.Values.ToArray();
        var e = Assert.Throws<NonFiniteException>(() =>
            new Trainer(model, new Sgd(0.01f), new TrainerOptions { Epochs = 1, BatchSize = 8, Log = TextWriter.Null, Progress = ProgressMode.None }).Fit(data));
        Assert.Equal(NonFiniteKind.Loss, e.Kind);
        Assert.Equal(("Linear", "fc"), (e.Op, e.Layer));
        Assert.Equal((1, 1), (e.Epoch, e.Step));
        Assert.Contains("from Linear layer 'fc' at epoch 1, step 1", e.Message);
        Assert.Contains("First non-finite value: forward step", e.Message);
        // The trace reran the step; what the failed step left (running statistics included) is what remains.
        var after = model.Parameters.Values;
        var bnMean = model.Parameters.IndexOf("bn.running_mean");
        Assert.Equal(before.AsSpan(0, model.Parameters.OffsetOf(bnMean)).ToArray(), after.AsSpan(0, model.Parameters.OffsetOf(bnMean)).ToArray());
        Assert.Equal(1UL, model.TrainSteps);
    }

    [Fact]
    public void ATraceOfAFiniteStepFindsNothingAndATraceOfANaNInputNamesTheInput()
    {
        IModel model = new Overflowing();
        GradientTests.Randomize(model.Parameters, 3);
        var (x, labels) = Batch(model, 4, 5);
        Assert.Null(model.TraceNonFinite(() => model.TrainStep(x, (ReadOnlySpan<int>)labels, 4)));
        x[7] = float.NaN;
        var origin = model.TraceNonFinite(() => model.TrainStep(x, (ReadOnlySpan<int>)labels, 4));
        Assert.Equal(new NonFiniteOrigin("Input", "", "the input batch"), origin);
    }

    [Fact]
    public void ANaNBatchLeavesEveryRunningStatisticAsItWas()
    {
        // SmallCnn has BatchNorm after convolutions and after depthwise convolutions.
        var model = new FashionCnn.SmallCnn();
        GradientTests.Randomize(model.Parameters, 1);
        var (x, labels) = Batch(model, 4, 6);
        model.TrainStep(x, labels, 4);
        var store = model.Parameters;
        var stats = Enumerable.Range(0, store.Infos.Count).Where(i => store.Infos[i].Role is ParameterRole.RunningMean or ParameterRole.RunningVar).ToArray();
        Assert.NotEmpty(stats);
        var kept = stats.Select(i => store.Value(i).ToArray()).ToArray();
        x[100] = float.NaN;
        var r = model.TrainStep(x, labels, 4);
        Assert.False(float.IsFinite(r.Loss));
        for (int k = 0; k < stats.Length; k++)
            Assert.True(kept[k].AsSpan().SequenceEqual(store.Value(stats[k])), $"{store.Infos[stats[k]].Name} changed after a NaN batch");
        // And a finite batch after it updates them again.
        x[100] = 0.5f;
        model.TrainStep(x, labels, 4);
        Assert.False(kept[0].AsSpan().SequenceEqual(store.Value(stats[0])));
    }
}
