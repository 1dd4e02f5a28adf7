// Each declared loss and the token input through generated models: the loss and every gradient against the
// double-precision reference (forward and the loss's definition) and central finite differences; the ILGPU
// backend against the CPU one; and for each kind of task a short training run whose loss must fall.
using Authoring.Models.Tests.Models;
using Authoring.Models.Tests.Oracle;
using Authoring.Runtime;
using Authoring.Runtime.Optim;

namespace Authoring.Models.Tests;

public class LossTests
{
    // As GradientTests: float32 kernels against double references, 10x margin over the observed round-off.
    const double ForwardTol = 1e-4, GradTol = 2e-4, Step = 1e-6;
    const int N = 3;

    [Fact] public void MseRegression() => Check(new Regressor());
    [Fact] public void L1Regression() => Check(new L1Regressor());
    [Fact] public void BceWithLogitsMultiLabel() => Check(new MultiLabel());
    [Fact] public void CrossEntropyWithLabelSmoothing() => Check(new SmoothedClassifier());
    [Fact] public void PerPositionCrossEntropyOverTokensWithAnIgnoredLabel() => Check(new TinyLm());

    /// <summary>Inputs and targets for a model: token ids or floats; labels (one per row, one ignored) or targets.</summary>
    internal static (float[] X, int[] Ids, int[] Labels, float[] Targets) Batch(IModel m, int n, int seed)
    {
        var rng = new Random(seed);
        var ids = m.InputKind == InputKind.Tokens ? Enumerable.Range(0, n * m.InputSize).Select(_ => rng.Next(11)).ToArray() : Array.Empty<int>();
        var x = m.InputKind == InputKind.Tokens ? ids.Select(i => (float)i).ToArray() : GradientTests.RandomInput(n * m.InputSize, seed);
        int classes = m.OutputShape[^1];
        var labels = m.Loss == Loss.CrossEntropy ? Enumerable.Range(0, n * m.TargetSize).Select(i => (i * 7 + 3) % classes).ToArray() : Array.Empty<int>();
        if (labels.Length > 4) labels[4] = -100;
        var targets = m.Loss == Loss.CrossEntropy ? Array.Empty<float>()
            : Enumerable.Range(0, n * m.TargetSize).Select(i => m.Loss == Loss.BceWithLogits ? (i % 5 == 0 ? 0.3f : i % 2) : (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return (x, ids, labels, targets);
    }

    internal static StepResult Train(IModel m, (float[] X, int[] Ids, int[] Labels, float[] Targets) b, int n) =>
        (m.InputKind, m.Loss == Loss.CrossEntropy) switch
        {
            (InputKind.Tokens, true) => m.TrainStep((ReadOnlySpan<int>)b.Ids, (ReadOnlySpan<int>)b.Labels, n),
            (InputKind.Tokens, false) => m.TrainStep((ReadOnlySpan<int>)b.Ids, (ReadOnlySpan<float>)b.Targets, n),
            (_, true) => m.TrainStep((ReadOnlySpan<float>)b.X, (ReadOnlySpan<int>)b.Labels, n),
            _ => m.TrainStep((ReadOnlySpan<float>)b.X, (ReadOnlySpan<float>)b.Targets, n),
        };

    internal static void Infer(IModel m, (float[] X, int[] Ids, int[] Labels, float[] Targets) b, int n, float[] output)
    {
        if (m.InputKind == InputKind.Tokens) m.Infer((ReadOnlySpan<int>)b.Ids, n, output);
        else m.Infer((ReadOnlySpan<float>)b.X, n, output);
    }

    static void Check<T>(T model) where T : IModel
    {
        var oracle = new ReferenceInterpreter(ModelSources.Ir<T>());
        GradientTests.Randomize(model.Parameters, 31);
        var batch = Batch(model, N, 32);
        var xd = batch.X.Select(f => (double)f).ToArray();
        var p = model.Parameters.Infos.Select((info, i) => (info.Name, model.Parameters.Value(i).ToArray().Select(f => (double)f).ToArray()))
            .ToDictionary(t => t.Name, t => t.Item2);

        var output = new float[N * model.OutputSize];
        Infer(model, batch, N, output);
        GradientTests.AssertClose(output, oracle.Forward(xd, N, p, train: false), ForwardTol, "eval output");

        var result = Train(model, batch, N);
        double refLoss = oracle.Loss(oracle.Forward(xd, N, p, train: true), N, batch.Labels, batch.Targets);
        Assert.True(Math.Abs(result.Loss - refLoss) <= 1e-5 * Math.Max(1, Math.Abs(refLoss)), $"loss {result.Loss} vs {refLoss}");

        var store = model.Parameters;
        for (int t = 0; t < store.Infos.Count; t++)
        {
            var info = store.Infos[t];
            if (!info.Trainable) continue;
            var tensor = p[info.Name];
            var fd = new double[tensor.Length];
            for (int j = 0; j < tensor.Length; j++)
            {
                double keep = tensor[j];
                tensor[j] = keep + Step;
                double up = oracle.Loss(oracle.Forward(xd, N, p, train: true), N, batch.Labels, batch.Targets);
                tensor[j] = keep - Step;
                double down = oracle.Loss(oracle.Forward(xd, N, p, train: true), N, batch.Labels, batch.Targets);
                tensor[j] = keep;
                fd[j] = (up - down) / (2 * Step);
            }
            GradientTests.AssertClose(store.Grad(t), fd, GradTol, "d loss / d " + info.Name);
        }
    }

    // ---- Each kind of task trains: the loss falls well below where it starts -------------------

    [Fact]
    public void RegressionLearnsASmoothFunction()
    {
        // y = sin(x0) + x1 * x2 on 256 fixed samples: a fitted network brings the MSE far below the target's variance.
        var model = new Regressor();
        model.Parameters.Initialize(1);
        var rng = new Random(2);
        const int n = 256;
        var x = new float[n * 5];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < 5; k++) x[i * 5 + k] = (float)(rng.NextDouble() * 2 - 1);
            y[i] = MathF.Sin(2 * x[i * 5]) + x[i * 5 + 1] * x[i * 5 + 2];
        }
        var first = model.TrainStep(x, (ReadOnlySpan<float>)y, n).Loss;
        var opt = new AdamW(1e-2f, weightDecay: 0f);
        float last = first;
        for (int step = 0; step < 300; step++)
        {
            opt.Step(model.Parameters);
            last = model.TrainStep(x, (ReadOnlySpan<float>)y, n).Loss;
        }
        Assert.True(last < 0.2f * first, $"MSE fell from {first} to only {last}");
    }

    [Fact]
    public void LanguageModelLearnsASequence()
    {
        // Next-token prediction on a fixed cycle of 11 tokens: each token determines the next one, so per-position
        // cross-entropy can fall from ln(11) = 2.4 towards 0.
        var model = new TinyLm();
        model.Parameters.Initialize(3);
        const int n = 16, seq = 7;
        var ids = new int[n * seq];
        var labels = new int[n * seq];
        for (int b = 0; b < n; b++)
            for (int t = 0; t < seq; t++)
            {
                ids[b * seq + t] = (b + t * 3) % 11;
                labels[b * seq + t] = (b + (t + 1) * 3) % 11;
            }
        var start = model.TrainStep((ReadOnlySpan<int>)ids, (ReadOnlySpan<int>)labels, n);
        Assert.Equal(n * seq, start.Total);
        var opt = new AdamW(3e-2f, weightDecay: 0f);
        StepResult last = start;
        for (int step = 0; step < 150; step++)
        {
            opt.Step(model.Parameters);
            last = model.TrainStep((ReadOnlySpan<int>)ids, (ReadOnlySpan<int>)labels, n);
        }
        Assert.True(last.Loss < 0.3f * start.Loss, $"cross-entropy fell from {start.Loss} to only {last.Loss}");
        Assert.True(last.Correct > 0.9 * n * seq, $"{last.Correct} of {n * seq} positions right");
    }

    [Fact]
    public void MultiLabelLearnsIndependentLabels()
    {
        // Four labels, each the sign of a different region's mean: BCE with logits must fall and most labels come out right.
        var model = new MultiLabel();
        model.Parameters.Initialize(4);
        var rng = new Random(5);
        const int n = 64;
        var x = new float[n * 32];
        var t = new float[n * 4];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < 32; k++) x[i * 32 + k] = (float)(rng.NextDouble() * 2 - 1);
            for (int l = 0; l < 4; l++) t[i * 4 + l] = x[i * 32 + l * 5] + x[i * 32 + 16 + l] > 0 ? 1f : 0f;
        }
        var start = model.TrainStep(x, (ReadOnlySpan<float>)t, n);
        var opt = new AdamW(3e-2f, weightDecay: 0f);
        StepResult last = start;
        for (int step = 0; step < 200; step++)
        {
            opt.Step(model.Parameters);
            last = model.TrainStep(x, (ReadOnlySpan<float>)t, n);
        }
        Assert.True(last.Loss < 0.8f * start.Loss, $"BCE fell from {start.Loss} to only {last.Loss}");
        Assert.Equal(n * 4, last.Total);
    }

    [Fact]
    public void WrongOverloadsSayWhichCallFits()
    {
        IModel lm = new TinyLm(), reg = new Regressor();
        var e1 = Assert.Throws<InvalidOperationException>(() => lm.Infer(new float[7], 1, new float[77]));
        Assert.Contains("token ids", e1.Message);
        var e2 = Assert.Throws<InvalidOperationException>(() => reg.TrainStep(new float[5], new int[1], 1));
        Assert.Contains("ReadOnlySpan<float> targets", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => lm.Infer((ReadOnlySpan<int>)new[] { 0, 1, 2, 3, 11, 5, 6 }, 1, new float[77]));
        Assert.Contains("position 4", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => reg.TrainStep(new float[5], (ReadOnlySpan<float>)new[] { float.NaN }, 1));
        Assert.Contains("finite", e4.Message);
    }
}
