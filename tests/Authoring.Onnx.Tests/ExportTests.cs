// The generated ExportOnnx, end to end: every [Model] class compiled into this assembly (the four samples, every
// model of Authoring.Models.Tests and Models/ here, which between them use every op of the DSL) is given random weights and non-trivial
// BatchNorm statistics, exported by its own generated method (the deploy form where the model folds), loaded in
// ONNX Runtime and run on batches of 3 and 1 from the one file; the outputs must match the exported graph's own Infer.
// Models whose graph holds an op without an ONNX mapping must fail the export, naming the op and the layer, and
// write nothing.
// Tolerance: |ort - ours| <= 1e-5 + 1e-5 |ours|. Both sides compute in float32 from the same weights; they differ only
// in summation order (ONNX Runtime's MLAS GEMM/conv blocking against our kernels' blocking) and in the libm-level
// approximations of exp/tanh/erf (a few ulp). Each layer adds relative error of order sqrt(K) u (K <= 1,440 terms
// here, u = 6e-8); measured over every model here (outputs of magnitude up to 4), the largest difference is 3.6e-7,
// so the bound leaves a margin of ~30 for other SIMD paths (AVX2 against AVX-512) and other ONNX Runtime builds. A
// mapping error moves outputs by far more: one source pixel picked differently by a resize (ResizeRounding, below)
// already moves a logit by 6e-2, a wrong weight layout, pad, stride, axis or broadcast by more.
using System.Reflection;
using Authoring.Runtime;
using Authoring.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;
using Authoring.Onnx.Tests.Models;

namespace Authoring.Onnx.Tests;

public class ExportTests
{
    const double Tol = 1e-5;

    /// <summary>Models whose output is random: Poisson encoding draws spikes from our seeded generator, which ONNX cannot
    /// reproduce; the file draws its own (RandomUniformLike) with the same rule. They are exported and run, and compared in
    /// distribution (PoissonSpikesInOnnxRuntimeHaveOurRates), not value by value.</summary>
    static readonly HashSet<string> RandomOutput = new(StringComparer.Ordinal) { "SpikingEncoders", "PoissonRates" };

    /// <summary>Sizes chosen to hit the rows and columns where ONNX Runtime's nearest resize picks a neighbouring source
    /// pixel (its float division rounds otherwise than PyTorch's float product, docs/onnx.md); OnnxOpTests pins exactly
    /// which pixels differ (ResizeRoundingDiffersFromPyTorchOnlyWhereTheirFloatRulesDo).</summary>
    static readonly HashSet<string> ResizeRounding = new(StringComparer.Ordinal) { "ResizeRounding" };

    static readonly Type[] ModelTypes = typeof(ExportTests).Assembly.GetTypes()
        .Where(t => t.GetCustomAttribute<ModelAttribute>() is not null)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    /// <summary>Input ranges and weight gains for the spiking models: with the seeded weights and inputs in [-1, 1], no
    /// neuron reaches its threshold (no spike anywhere, so the export's membrane and reset would go unchecked); with these,
    /// every neuron layer fires in part (ComparedSpikingModelsFireSomewhereButNotEverywhere checks it).</summary>
    static readonly Dictionary<string, (float Range, float Gain)> Drive = new(StringComparer.Ordinal)
    {
        ["SpikingConv"] = (8f, 1f),
        ["SpikingPlif"] = (8f, 2f),
        ["SpikingCnn"] = (8f, 3f), // the SpikingFashion sample
    };

    static float[] RandomInput(string name, int seed, int count)
    {
        float r = Drive.TryGetValue(name, out var d) ? d.Range : 1f;
        return Ort.Random(seed, count, -r, r);
    }

    static Type TypeOf(string name) => ModelTypes.Single(t => t.Name == name);

    public static TheoryData<string, int> Exportable()
    {
        var data = new TheoryData<string, int>();
        foreach (var t in ModelTypes.Where(t => !RandomOutput.Contains(t.Name) && !ResizeRounding.Contains(t.Name)))
            foreach (int opset in new[] { OnnxGraphBuilder.DefaultOpset, OnnxGraphBuilder.MaxOpset })
                data.Add(t.Name, opset);
        return data;
    }


    /// <summary>The model with seeded weights and BatchNorm statistics far from the (0, 1) defaults, so that a
    /// BatchNorm exported wrongly (or folded with the wrong statistics) cannot pass.</summary>
    static IModel Trained(string name, int seed)
    {
        var model = (IModel)Activator.CreateInstance(TypeOf(name))!;
        model.Parameters.Initialize(seed);
        var rng = new Random(seed + 1);
        float gain = Drive.TryGetValue(name, out var drive) ? drive.Gain : 1f;
        foreach (var info in model.Parameters.Infos)
        {
            var v = model.Parameters.Value(info.Name);
            for (int i = 0; i < v.Length; i++)
                v[i] = info.Role switch
                {
                    ParameterRole.RunningVar or ParameterRole.NormWeight => 0.5f + rng.NextSingle(),
                    ParameterRole.RunningMean or ParameterRole.NormBias => 0.2f * (rng.NextSingle() - 0.5f),
                    ParameterRole.Weight => gain * v[i],
                    _ => v[i],
                };
        }
        return model;
    }

    /// <summary>What ExportOnnx writes: the deploy twin where the model has one (its ToDeploy()), else the model.</summary>
    static IModel Exported(IModel model) =>
        model.GetType().GetMethod("ToDeploy", Type.EmptyTypes) is { } toDeploy ? (IModel)toDeploy.Invoke(model, null)! : model;

    static byte[] Export(object model, int opset)
    {
        string path = Path.Combine(Path.GetTempPath(), $"authoring-export-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        try
        {
            Invoke(model, "ExportOnnx", [typeof(string), typeof(int)], path, opset);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    static void Invoke(object target, string method, Type[] types, params object[] args)
    {
        var m = target.GetType().GetMethod(method, types) ?? throw new InvalidOperationException($"{target.GetType().Name} has no generated {method}");
        try
        {
            m.Invoke(target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
    }

    /// <summary>ONNX Runtime's output and our Infer's on the same random batch.</summary>
    static (float[] Ort, float[] Ours) RunBoth(string name, byte[] file, IModel reference, int batch, int seed)
    {
        var shape = new long[] { batch }.Concat(reference.InputShape.Select(d => (long)d)).ToArray();
        var want = new float[batch * reference.OutputSize];
        float[] got;
        long[] outShape;
        if (reference.InputKind == InputKind.Tokens)
        {
            // Ids anywhere in the smallest embedding's vocabulary.
            int vocab = reference.Parameters.Infos.Where(i => i.Init == InitKind.StandardNormal).Min(i => i.Shape[0]);
            var rng = new Random(seed);
            var ids = Enumerable.Range(0, batch * reference.InputSize).Select(_ => rng.Next(vocab)).ToArray();
            reference.Infer(ids, batch, want);
            got = Ort.Run(file, "input", ids.Select(i => (long)i).ToArray(), shape, out outShape);
        }
        else
        {
            var x = RandomInput(name, seed, batch * reference.InputSize);
            reference.Infer(x, batch, want);
            got = Ort.Run(file, "input", x, shape, out outShape);
        }
        Assert.Equal(new long[] { batch }.Concat(reference.OutputShape.Select(d => (long)d)), outShape);
        return (got, want);
    }

    [Theory]
    [MemberData(nameof(Exportable))]
    public void ExportedFileRunsInOnnxRuntimeAsInfer(string name, int opset)
    {
        var model = Trained(name, 11);
        byte[] file = Export(model, opset);
        var reference = Exported(model);
        foreach (int batch in new[] { 3, 1 })   // one file, two batch sizes: the batch is symbolic
        {
            var (got, want) = RunBoth(name, file, reference, batch, 100 + batch);
            Ort.Close(got, want, Tol, Tol, $"{name} (opset {opset}, batch {batch})");
        }
    }

    [Fact]
    public void ARandomModelExportsAndRunsInOnnxRuntime()
    {
        var reference = Exported(Trained("SpikingEncoders", 3));
        byte[] file = Export(reference, OnnxGraphBuilder.DefaultOpset);
        var (got, want) = RunBoth("SpikingEncoders", file, reference, 3, 103);
        Assert.Equal(want.Length, got.Length);
        Assert.All(got, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void PoissonSpikesInOnnxRuntimeHaveOurRates()
    {
        // Rates below 0, 0, above 1, 1 and 0.3 (spikes where u <= x, u uniform in [0, 1)), over 64 steps: the file's output is each feature's
        // firing rate, a multiple of 1/64. Features at 0 or 1 are exact on both sides; the 0.3 ones, 8 samples x 16
        // features x 64 steps = 8,192 Bernoulli draws each side, have a mean within 5 standard deviations
        // (sqrt(0.21 / 8192) = 0.0051) of 0.3 unless the mapping is wrong: +-0.0253.
        IModel model = new PoissonRates();
        const int Batch = 8, F = 32, T = 64;
        var x = new float[Batch * F];
        for (int b = 0; b < Batch; b++)
            for (int f = 0; f < F; f++)
                x[b * F + f] = f < 4 ? -0.5f : f < 8 ? 0f : f < 12 ? 1.5f : f < 16 ? 1f : 0.3f;
        byte[] file = Export(model, OnnxGraphBuilder.DefaultOpset);
        var got = Ort.Run(file, "input", x, [Batch, F], out var shape);
        Assert.Equal(new long[] { Batch, F }, shape);
        var ours = new float[Batch * F];
        model.Infer(x, Batch, ours);
        foreach (var (y, who) in new[] { (got, "ONNX Runtime"), (ours, "ours") })
        {
            double sum = 0;
            for (int b = 0; b < Batch; b++)
                for (int f = 0; f < F; f++)
                {
                    float v = y[b * F + f];
                    Assert.True(Math.Abs(v * T - Math.Round(v * T)) < 1e-4, $"{who}: {v} is not a count of {T} steps");
                    if (f < 8) Assert.True(v == 0f, $"{who}: feature {f} (x = {x[b * F + f]}) fired at rate {v}");
                    else if (f < 16) Assert.True(v == 1f, $"{who}: feature {f} (x = {x[b * F + f]}) fired at rate {v}");
                    else sum += v;
                }
            Assert.InRange(sum / (Batch * 16), 0.3 - 0.0253, 0.3 + 0.0253);
        }
    }

    /// <summary>The spiking models compared above compare spikes only if their neurons both fire and stay silent on the
    /// compared batches: a layer that never (or always) fired would match an export that got the membrane wrong.</summary>
    [Theory]
    [InlineData("SpikingConv")]
    [InlineData("SpikingPlif")]
    [InlineData("SpikingCnn")]
    public void ComparedSpikingModelsFireSomewhereButNotEverywhere(string name)
    {
        var model = Exported(Trained(name, 11));
        foreach (int batch in new[] { 3, 1 })
        {
            model.ResetFiringRates();
            var x = RandomInput(name, 100 + batch, batch * model.InputSize);
            model.Infer(x, batch, new float[batch * model.OutputSize]);
            Assert.NotEmpty(model.FiringRates);
            Assert.All(model.FiringRates, r => Assert.True(r.Spikes > 0 && r.Spikes < r.Slots, $"{name} {r.Layer} (batch {batch}): {r.Spikes} spikes in {r.Slots} slots"));
        }
    }

    [Fact]
    public void PathStreamAndDeployExportsAreTheSameFile()
    {
        var model = (FashionCnn.SmallCnn)Trained("SmallCnn", 7);
        byte[] viaPath = Export(model, OnnxGraphBuilder.DefaultOpset);
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        Assert.Equal(viaPath, stream.ToArray());
        Assert.Equal(viaPath, Export(model.ToDeploy(), OnnxGraphBuilder.DefaultOpset));
    }

    [Fact]
    public void FileDeclaresInputOutputOpsetAndStateDictInitializers()
    {
        var model = (GhostNetFashion.GhostNet)Trained("GhostNet", 7);
        byte[] file = Export(model, 20);
        using var session = new InferenceSession(file);
        var input = session.InputMetadata["input"];
        Assert.Equal([-1, 1, 28, 28], input.Dimensions);
        Assert.Equal(OnnxGraphBuilder.BatchDimension, input.SymbolicDimensions[0]);
        Assert.Equal(["output"], session.OutputNames);
        Assert.Equal([-1, 10], session.OutputMetadata["output"].Dimensions);
        Assert.Equal("GhostNetDeploy", session.ModelMetadata.GraphName);
        // Every tensor of the deploy model is an initializer under its state_dict name (field 8 of a TensorProto).
        var deploy = model.ToDeploy();
        foreach (var info in deploy.Parameters.Infos)
        {
            byte[] name = System.Text.Encoding.UTF8.GetBytes(info.Name);
            byte[] field = [0x42, (byte)name.Length, .. name];
            Assert.True(file.AsSpan().IndexOf(field) >= 0, $"no initializer named '{info.Name}'");
        }
    }

    [Fact]
    public void TokenModelTakesInt64Ids()
    {
        var model = Trained("TinyLm", 5);
        byte[] file = Export(model, OnnxGraphBuilder.DefaultOpset);
        using var session = new InferenceSession(file);
        Assert.Equal(typeof(long), session.InputMetadata["input"].ElementType);
    }

    [Fact]
    public void EveryModelIsCovered()
    {
        // The discovery above must see the samples and the test models, or the theory would pass on nothing.
        Assert.Contains(ModelTypes, t => t.Name == "SmallCnn");
        Assert.Contains(ModelTypes, t => t.Name == "BlockNet");
        Assert.Contains(ModelTypes, t => t.Name == "TinyTransformer");
        Assert.Contains(ModelTypes, t => t.Name == "RepeatReadout");
        Assert.True(ModelTypes.Length >= 40, $"only {ModelTypes.Length} models found");
        Assert.All(RandomOutput, n => Assert.Contains(ModelTypes, t => t.Name == n));
    }
}
