// Generated models (CPU SIMD backend) against PyTorch: each model's Forward is mirrored by hand as a
// torch graph over the same parameters, evaluated in float64 from our float32 values, and our float32 results
// are compared with that exact answer for
//   - eval-mode logits (running BatchNorm statistics, no dropout) at batch 3 and batch 1;
//   - two training steps (batch 3; batch 1 training is undefined for BatchNorm in PyTorch too):
//     mean softmax cross-entropy loss, arg-max hits, the gradient of every trainable tensor
//     (torch autograd) and the running mean / variance afterwards (momentum 0.1, unbiased variance).
// Dropout is not set aside: the torch side multiplies by the mask the generated code draws (same
// counter-based generator, same seed formula, the Dropout node's id counted by hand), so a wrong node
// id, step counter or keep scale fails the loss and every gradient upstream of it.
//
// Why float64 on the torch side: libtorch 2.10's float32 CPU convolution (oneDNN 3.7.1) returns wrong input
// gradients on AVX-512 machines whenever the output channels do not fill the 16-lane block and the batch is
// above 1 (with one thread it applies 2 of a 3x3 kernel's 9 taps; with two it drops taps at random and
// sometimes reads uninitialised memory, hence NaN); TorchOracleTests.ConvInputGradientOfTheReference
// pins this. Float64 runs through ATen's own convolution, and comparing with the exact answer leaves only our
// own round-off in the difference. Near a ReLU corner or a max-pool tie that round-off can still pick the other
// side, so a gradient mismatch is retried with those elements resolved the other way (KinkPoints).
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Optim;
using FashionCnn;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class ModelParityTests
{
    // Tolerance, relative to the largest magnitude of the expected tensor. We compute in float32 (unit
    // round-off 6e-8), the reference is exact to that, so each value is off by our own round-off: a few
    // ulps of the largest term times sqrt(terms), ~1e-6 of the scale for the sums of up to a few thousand
    // terms here (SmallCnn's stem BatchNorm reduces over 3 x 28 x 28). BatchNorm's backward subtracts batch
    // means and can cancel a digit more. Observed worst case: 2.5e-6 of the scale (SmallCnn BatchNorm weight
    // gradients; against float32 libtorch it was 4e-6). 1e-4 keeps a 25x margin over that, while a wrong
    // index, missing term, wrong mask or sign shows up as an O(1) error. No op needed more.
    const double Tol = 1e-4;
    // The loss is one well-conditioned scalar (log-sum-exp of O(1) logits): float32 round-off ~1e-7.
    const double LossTol = 1e-5;
    const ulong Seed = 0xC0FFEEUL;

    // ---- The op models (tests/Authoring.Models.Tests/Models/OpModels.cs) ----------------------

    [Fact]
    public void ConvRelu() => Check(new ConvRelu { DropoutSeed = Seed },
        (m, x) => m.Linear("fc", Flatten(Relu(m.Conv("conv", x, stride: 2, padding: 1)))));

    [Fact]
    public void GroupedDilatedConvRelu6AvgPool() => Check(new GroupedDilated { DropoutSeed = Seed },
        (m, x) => m.Linear("fc", Flatten(AvgPool2d(Relu6(m.Conv("conv", x, padding: 2, dilation: 2, groups: 2)), 3, stride: 2, padding: 1))));

    [Fact]
    public void DepthwiseBatchNormHardSwishGlobalPool() => Check(new DepthwiseBn { DropoutSeed = Seed },
        (m, x) => m.Linear("fc", TorchModel.GlobalAvgPool(Hardswish(m.BatchNorm("bn", m.Conv("dw", x, stride: 2, padding: 1, groups: 3))))),
        zeroGrads: new[] { "dw" });

    [Fact]
    public void MaxPoolBatchNorm1dTanhHardSigmoid() => Check(new PoolNorm1d { DropoutSeed = Seed }, (m, x) =>
    {
        var h = Flatten(MaxPool2d(m.Conv("conv", x, padding: 1), 3, stride: 2, padding: 1));
        var z = Tanh(m.BatchNorm("bn", m.Linear("fc1", h)));
        return m.Linear("fc2", Hardsigmoid(z));
    }, zeroGrads: new[] { "conv", "fc1" });   // conv.bias too: max pooling and fc1 carry its per-channel
                                              // shift to every sample alike, and bn removes it

    [Fact]
    public void SqueezeExciteBroadcastMulAddSigmoid() => Check(new SqueezeExcite { DropoutSeed = Seed }, (m, x) =>
    {
        var f = Relu(m.Conv("conv", x, padding: 1));
        var gate = Sigmoid(m.Linear("excite", Relu(m.Linear("squeeze", TorchModel.GlobalAvgPool(f)))));
        gate = gate.reshape(gate.shape[0], 4, 1, 1);                       // Reshape(.., C, 1, 1)
        var g = Mul(f, gate);
        var y = Mul(Add(m.Conv("mix", g), f), gate);
        return m.Linear("fc", TorchModel.GlobalAvgPool(y));
    });

    [Fact]
    public void GhostConcatSlice() => Check(new Ghost { DropoutSeed = Seed }, (m, x) =>
    {
        var a = Relu(m.BatchNorm("bn1", m.Conv("primary", x)));
        var b = Relu(m.BatchNorm("bn2", m.Conv("cheap", a, padding: 1, groups: 3)));
        return m.Linear("fc", Flatten(Narrow(Cat(1, a, b), 1, 0, 5)));
    });

    [Fact]
    public void ConcatCopiesDropoutHelperMethod() => Check(new ConcatCopies { DropoutSeed = Seed }, (m, x) =>
    {
        // Node ids in evaluation order: input 0, conv 1, Relu 2, then inside Block: Slice 3, Concat 4;
        // Flatten 5, Dropout 6, fc 7.
        var t = Relu(m.Conv("conv", x, padding: 1));
        var block = Cat(1, t, t, Narrow(t, 1, 1, 2));
        return m.Linear("fc", m.Dropout(Flatten(block), nodeId: 6, p: 0.25f));
    });

    [Fact]
    public void MlpBatchNorm1dFoldsIntoLinear() => Check(new Mlp { DropoutSeed = Seed },
        (m, x) => m.Linear("fc2", Relu(m.BatchNorm("bn", m.Linear("fc1", x)))), zeroGrads: new[] { "fc1" });

    [Fact]
    public void DfcAttentionBandKernelsUpsampleToOddSize() => Check(new DfcAttention { DropoutSeed = Seed }, (m, x) =>
    {
        var res = m.BatchNorm("bn0", m.Conv("squeeze", AvgPool2d(x, 2)));
        res = m.BatchNorm("bn1", m.Conv("wide", res, padding: (0, 2), groups: 4));      // 1x5
        res = m.BatchNorm("bn2", m.Conv("tall", res, padding: (2, 0), groups: 4));      // 5x1
        var gate = UpsampleNearest(Sigmoid(res), 7, 7);
        return m.Linear("fc", TorchModel.GlobalAvgPool(Mul(Relu(m.Conv("primary", x)), gate)));
    });

    [Fact]
    public void ResizeUpDownIntoConcatDenseBandKernel() => Check(new Resize { DropoutSeed = Seed }, (m, x) =>
    {
        var h = Tanh(m.Conv("conv", x, padding: (1, 0)));                               // 3x1
        var up = m.Conv("band", UpsampleNearest(h, 8, 10), padding: (0, 2), groups: 3); // 1x5
        var back = UpsampleNearest(UpsampleNearest(up, 3, 4), 4, 5);
        return m.Linear("fc", Flatten(Cat(1, h, back)));
    });

    [Fact]
    public void ResizeWherePyTorchsFloatIndexDiffersFromExact() => Check(new ResizeRounding { DropoutSeed = Seed },
        (m, x) => m.Linear("fc", Flatten(UpsampleNearest(Relu(m.Conv("dw", x, padding: 1)), 22, 74))));

    // ---- Whole model: the FashionCnn sample ---------------------------------------------------

    [Fact]
    public void SmallCnnFashionSample() => Check(new SmallCnn { DropoutSeed = Seed }, TorchSmallCnn);

    /// <summary>A short training run: three TrainStep + Sgd steps against forward, backward and
    /// torch.optim.SGD on the torch side, dropout masks included. Losses agree at every step; all
    /// parameters and running statistics after the run, and the eval logits they give, agree too.</summary>
    [Fact]
    public void SmallCnnThreeSgdStepsAndEval()
    {
        EnsureInitialized();
        using var scope = Scope();
        var model = new SmallCnn { DropoutSeed = Seed };
        var store = model.Parameters;
        Randomize(store, 21);
        const int n = 4;
        var ours = new Sgd(0.05f, momentum: 0.9, weightDecay: 5e-4);
        var torchModel = new TorchModel(store, train: true, Seed, dtype: torch.ScalarType.Float64);
        using var torchSgd = torch.optim.SGD(torchModel.Trainable.Select(t => t.Leaf), 0.05, momentum: 0.9, weight_decay: 5e-4);
        for (int step = 1; step <= 3; step++)
        {
            var x = Random(n * model.InputSize, 30 + step);
            var labels = Enumerable.Range(0, n).Select(i => (i * 7 + step) % model.OutputSize).ToArray();
            torchModel.Step = step;
            var loss = CrossEntropy(TorchSmallCnn(torchModel, Input(x, InputShape(model, n))), labels);
            torchSgd.zero_grad();
            loss.backward();
            torchSgd.step();

            var result = model.TrainStep(x, labels, n);
            ours.Step(store);
            float expectedLoss = Scalar(loss);
            Assert.True(Math.Abs(result.Loss - expectedLoss) <= LossTol * Math.Max(1, Math.Abs(expectedLoss)),
                $"step {step}: loss {result.Loss:R}, torch {expectedLoss:R}");
        }
        for (int i = 0; i < store.Infos.Count; i++)
            AssertClose(store.Value(i), ToArray(torchModel[store.Infos[i].Name]), Tol, "after 3 steps: " + store.Infos[i].Name);

        torchModel.Train = false;
        var xe = Random(n * model.InputSize, 40);
        var logits = new float[n * model.OutputSize];
        model.Infer(xe, n, logits);
        AssertClose(logits, ToArray(TorchSmallCnn(torchModel, Input(xe, InputShape(model, n)))), Tol, "eval logits after 3 steps");
    }

    internal static TorchTensor TorchSmallCnn(TorchModel m, TorchTensor x)
    {
        // Node ids: input 0; stem 1, stemBn 2, Relu 3, MaxPool 4; conv 5, convBn 6, Relu 7; dw1 8, dw1Bn 9,
        // Relu 10; pw1 11, pw1Bn 12, Relu 13; MaxPool 14; dw2 15, dw2Bn 16, Relu 17; pw2 18, pw2Bn 19,
        // Relu 20; GlobalAvgPool 21, Dropout 22, head 23.
        x = Relu(m.BatchNorm("stemBn", m.Conv("stem", x, padding: 1)));
        x = MaxPool2d(x, 2);
        x = Relu(m.BatchNorm("convBn", m.Conv("conv", x, padding: 1)));
        x = Relu(m.BatchNorm("dw1Bn", m.Conv("dw1", x, padding: 1, groups: 64)));
        x = Relu(m.BatchNorm("pw1Bn", m.Conv("pw1", x)));
        x = MaxPool2d(x, 2);
        x = Relu(m.BatchNorm("dw2Bn", m.Conv("dw2", x, padding: 1, groups: 128)));
        x = Relu(m.BatchNorm("pw2Bn", m.Conv("pw2", x)));
        return m.Linear("head", m.Dropout(TorchModel.GlobalAvgPool(x), nodeId: 22, p: 0.2f));
    }

    // ---- The check ----------------------------------------------------------------------------

    /// <summary>Our initializer for weights and biases, plus non-trivial BatchNorm state (as GradientTests),
    /// so eval-mode statistics and the running-statistics update are really exercised.</summary>
    internal static void Randomize(ParameterStore store, int seed)
    {
        store.Initialize(seed);
        var rng = new Random(seed + 1);
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var v = store.Value(i);
            switch (store.Infos[i].Role)
            {
                case ParameterRole.NormWeight: for (int j = 0; j < v.Length; j++) v[j] = 0.5f + (float)rng.NextDouble(); break;
                case ParameterRole.NormBias: for (int j = 0; j < v.Length; j++) v[j] = (float)rng.NextDouble() - 0.5f; break;
                case ParameterRole.RunningMean: for (int j = 0; j < v.Length; j++) v[j] = (float)rng.NextDouble() - 0.5f; break;
                case ParameterRole.RunningVar: for (int j = 0; j < v.Length; j++) v[j] = 0.5f + (float)rng.NextDouble(); break;
            }
        }
    }

    /// <summary>|actual - expected| &lt;= tol x scale elementwise; the scale is the expected tensor's largest
    /// magnitude (at least 1e-3) unless given.</summary>
    internal static void AssertClose(ReadOnlySpan<float> actual, float[] expected, double tol, string what, double? scaleOverride = null)
    {
        string? mismatch = Mismatch(actual, expected, tol, what, scaleOverride);
        Assert.True(mismatch is null, mismatch);
    }

    /// <summary>What <see cref="AssertClose"/> would fail with, or null.</summary>
    internal static string? Mismatch(ReadOnlySpan<float> actual, float[] expected, double tol, string what, double? scaleOverride = null)
    {
        if (actual.Length != expected.Length) return $"{what}: {actual.Length} values, expected {expected.Length}";
        double scale = 1e-3;
        foreach (float e in expected) scale = Math.Max(scale, Math.Abs(e));
        if (scaleOverride is double so) scale = so;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            if (!(err <= tol * scale))
                return $"{what}[{i}]: got {actual[i]:R}, torch {expected[i]:R} (|err| {err:E2} > {tol:E1} x scale {scale:E2})";
        }
        return null;
    }

    /// <summary>Model input for the reference: our float32 values, exactly, as float64.</summary>
    internal static TorchTensor Input(float[] x, long[] shape) => Constant(x, shape).to(torch.float64);

    static long[] InputShape(IModel model, int n)
    {
        var shape = new long[model.InputShape.Count + 1];
        shape[0] = n;
        for (int i = 0; i < model.InputShape.Count; i++) shape[i + 1] = model.InputShape[i];
        return shape;
    }

    /// <param name="zeroGrads">Layers whose bias only shifts all samples alike before a training-mode
    /// BatchNorm (directly, or through shift-equivariant ops such as max pooling and a linear layer): that
    /// bias's exact gradient is zero (the batch mean removes the shift), so both sides hold only round-off
    /// of a sum of O(|upstream gradient|) terms that cancel. Both are checked to be zero to Tol times the
    /// scale of the same layer's weight gradient (the natural size of those terms), not compared with each
    /// other at their own noise-sized scale.</param>
    /// <param name="adjust">Sets parameters <see cref="Randomize"/> leaves at their initial values (e.g. shifts that start at 0).</param>
    internal static void Check<T>(T model, Func<TorchModel, TorchTensor, TorchTensor> forward, string[]? zeroGrads = null,
        Action<ParameterStore>? adjust = null) where T : IModel
    {
        EnsureInitialized();
        var store = model.Parameters;
        Randomize(store, 11);
        adjust?.Invoke(store);
        const int n = 3;
        var x = Random(n * model.InputSize, 12);

        // Evaluation mode at batch 3 and batch 1.
        foreach (int b in new[] { n, 1 })
        {
            using var scope = Scope();
            var ours = new float[b * model.OutputSize];
            model.Infer(x.AsSpan(0, b * model.InputSize), b, ours);
            var torchModel = new TorchModel(store, train: false, dtype: torch.ScalarType.Float64);
            var logits = forward(torchModel, Input(x[..(b * model.InputSize)], InputShape(model, b)));
            AssertClose(ours, ToArray(logits), Tol, $"eval logits (batch {b})");
        }

        // Two training steps (no optimizer in between, so only the running statistics and the dropout
        // masks change), the second on another batch.
        for (int step = 1; step <= 2; step++)
        {
            var xs = step == 1 ? x : Random(n * model.InputSize, 12 + step);
            var labels = Enumerable.Range(0, n).Select(i => (i * 7 + step) % model.OutputSize).ToArray();
            var before = Enumerable.Range(0, store.Infos.Count).Select(i => store.Value(i).ToArray()).ToArray();

            // The reference step from the values before it, with the near-kink elements in flip resolved the
            // other way (none at first).
            (float Loss, float[] Logits, string[] Names, float[][] Grads, Dictionary<string, float[]> Stats, IReadOnlyList<Kink> Kinks) Reference(IReadOnlyList<Kink>? flip)
            {
                using var scope = Scope();
                using var watch = KinkPoints.Watch(flip);
                var torchModel = new TorchModel(store, train: true, Seed, step, torch.ScalarType.Float64, before);
                var logits = forward(torchModel, Input(xs, InputShape(model, n)));
                var loss = CrossEntropy(logits, labels);
                var leaves = torchModel.Trainable;
                var grads = Gradients(loss, leaves.Select(t => (TorchTensor)t.Leaf).ToArray());
                // torch updated its copies of the running statistics in place during the training-mode forward.
                var stats = store.Infos.Where(i => !i.Trainable).ToDictionary(i => i.Name, i => ToArray(torchModel[i.Name]));
                return (Scalar(loss), ToArray(logits), leaves.Select(t => t.Name).ToArray(), grads, stats, watch.Found.ToList());
            }

            var reference = Reference(null);
            var result = model.TrainStep(xs, labels, n);

            Assert.True(Math.Abs(result.Loss - reference.Loss) <= LossTol * Math.Max(1, Math.Abs(reference.Loss)),
                $"step {step}: loss {result.Loss:R}, torch {reference.Loss:R}");
            var l = reference.Logits;
            int correct = 0;
            for (int i = 0; i < n; i++)
            {
                int arg = 0;
                for (int c = 1; c < model.OutputSize; c++) if (l[i * model.OutputSize + c] > l[i * model.OutputSize + arg]) arg = c;
                if (arg == labels[i]) correct++;
            }
            Assert.Equal(correct, result.Correct);
            Assert.Equal(store.Infos.Count(i => i.Trainable), reference.Names.Length);

            KinkPoints.AssertSomeResolution(reference, reference.Kinks, Reference, r =>
            {
                for (int k = 0; k < r.Names.Length; k++)
                {
                    string name = r.Names[k];
                    var ours = store.Grad(store.IndexOf(name));
                    string? mismatch;
                    if (zeroGrads is not null && name.EndsWith(".bias", StringComparison.Ordinal) && zeroGrads.Contains(name[..^5]))
                    {
                        double scale = r.Grads[Array.IndexOf(r.Names, name[..^5] + ".weight")].Max(Math.Abs);
                        var zeros = new float[ours.Length];
                        mismatch = Mismatch(ours, zeros, Tol, $"step {step}: d loss / d {name} (exactly zero: a shift BatchNorm removes)", scale)
                            ?? Mismatch(r.Grads[k], zeros, Tol, $"step {step}: torch d loss / d {name} (exactly zero: a shift BatchNorm removes)", scale);
                    }
                    else mismatch = Mismatch(ours, r.Grads[k], Tol, $"step {step}: d loss / d {name}");
                    if (mismatch is not null) return mismatch;
                }
                return null;
            });

            foreach (var (name, expected) in reference.Stats)
                AssertClose(store.Value(name), expected, Tol, $"step {step}: {name}");
        }
    }
}
