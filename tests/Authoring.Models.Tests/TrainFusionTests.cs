// The training fusions (a conv taking the next BatchNorm's batch statistics in its epilogue, a conv applying a
// BatchNorm and its activation as its input prologue) against the same model generated without them: the
// planner runs on the model's IR with trainEpilogues off, its CPU code is compiled here and loaded beside the
// fused model the build generated. Same parameters, same batch: eval logits, loss, every gradient and the
// running statistics after two steps (the second takes its sums shifted by a running mean that is no longer 0).
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using Authoring.Generators.Emit.Cpu;
using Authoring.Generators.Passes;
using Authoring.Models.Tests.Models;
using Authoring.Models.Tests.Oracle;
using Authoring.Runtime;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Authoring.Models.Tests;

public class TrainFusionTests
{
    // Tolerance. Both programs run the same conv, BatchNorm-backward and activation kernels on the same data; they
    // differ only in how the batch statistics are summed: fused, per channel in double over (y - running mean) and
    // its square in the conv's write-out; unfused, two passes of float vector partial sums accumulated in double.
    // Both round the mean and 1/std to float at the end, so they agree to a few float ulps (2^-24 = 6e-8 relative),
    // and the normalised values, |x_hat| < ~10 here, to ~1e-6 absolute. That perturbation passes linearly through the
    // few layers and the backward's sums over batch and positions: a few 1e-6 of each tensor's scale. 1e-4 of the
    // scale keeps a >10x margin (and equals GpuParityTests', whose kernels differ far more) while a missing prologue,
    // a wrong state offset or statistics of the wrong tensor give O(1) differences.
    const float Tol = 1e-4f;

    [Fact] public void ChainOfConvsWithAndWithoutBiasGroupsStrideDilationDepthwise() => Check<FusedChain>();
    [Fact] public void PoolAfterStatisticsBatchNormWithTwoConsumers() => Check<FusedBranches>();
    [Fact] public void SmallCnnSample() => Check<FashionCnn.SmallCnn>();

    [Fact]
    public void FusionIsPlannedWhereExpected()
    {
        // Guards the comparison above against comparing two unfused programs.
        var plan = Planner.Build(ModelSources.Ir<FusedChain>());
        var steps = plan.Train.Steps;
        Assert.Equal(4, steps.Count(s => s.Statistics is not null));            // c1, c2, p4, g5 (not the depthwise d3)
        Assert.Equal(2, steps.Count(s => s.Prologue is not null && s.Kernel.Name == "Conv"));   // c2, g5
        Assert.Equal(2, steps.Count(s => s.Prologue is not null && s.Kernel.Name == "ConvBackWeights"));
        Assert.Equal(2, steps.Count(s => s.Kernel.Name == "BnTaken"));          // b1, b4
        Assert.Equal(2, steps.Count(s => s.Kernel.Name == "BnApply"));          // b2, b5
        Assert.Equal(1, steps.Count(s => s.Kernel.Name == "BnTrain"));          // b3
        var branches = Planner.Build(ModelSources.Ir<FusedBranches>()).Train.Steps;
        // stem's BatchNorm + ReLU is the max pool's prologue; conv (two consumers) and pw (an add follows) are applied on
        // their own; dw trains its own.
        Assert.Equal(2, branches.Count(s => s.Kernel.Name == "MaxPool" || s.Kernel.Name == "MaxPoolBack" ? s.Prologue is not null : false));
        Assert.Equal(1, branches.Count(s => s.Kernel.Name == "BnTaken"));
        Assert.Equal(2, branches.Count(s => s.Kernel.Name == "BnApply"));
        Assert.Equal(1, branches.Count(s => s.Kernel.Name == "BnTrain"));
        var unfused = Planner.Build(ModelSources.Ir<FusedChain>(), trainEpilogues: false).Train.Steps;
        Assert.DoesNotContain(unfused, s => s.Statistics is not null || s.Prologue is not null);
    }

    static void Check<T>() where T : IModel, new()
    {
        var fused = new T();
        var plain = Unfused<T>();
        GradientTests.Randomize(fused.Parameters, 31);
        plain.Parameters.CopyFrom(fused.Parameters);
        const int n = 5;
        var x = GradientTests.RandomInput(n * fused.InputSize, 32);
        // An offset input: batch means far from the running mean 0, the case where shifted one-pass sums lose most.
        for (int i = 0; i < x.Length; i++) x[i] += 3f;
        var labels = Enumerable.Range(0, n).Select(i => (i * 3 + 1) % fused.OutputSize).ToArray();
        for (int step = 0; step < 2; step++)
        {
            var rf = fused.TrainStep(x, labels, n);
            var rp = plain.TrainStep(x, labels, n);
            Assert.Equal(rp.Correct, rf.Correct);
            Assert.True(Math.Abs(rf.Loss - rp.Loss) <= Tol * Math.Max(1, rp.Loss), $"step {step}: loss fused {rf.Loss} unfused {rp.Loss}");
            // A gradient that is zero in exact arithmetic (a conv bias before BatchNorm) is round-off whose size follows
            // the model's gradient scale: compared against 10% of the largest gradient, as GpuParityTests.
            float floor = Math.Max(1e-3f, 0.1f * plain.Parameters.Grads.Max(Math.Abs));
            for (int t = 0; t < plain.Parameters.Infos.Count; t++)
            {
                var info = plain.Parameters.Infos[t];
                if (info.Trainable) Close(fused.Parameters.Grad(t), plain.Parameters.Grad(t), $"step {step} grad {info.Name}", floor);
                else Close(fused.Parameters.Value(t), plain.Parameters.Value(t), $"step {step} {info.Name}");
            }
        }
        var a = new float[n * fused.OutputSize];
        var b = new float[n * fused.OutputSize];
        fused.Infer(x, n, a);
        plain.Infer(x, n, b);
        Close(a, b, "eval logits after training steps");
    }

    static void Close(ReadOnlySpan<float> fused, ReadOnlySpan<float> plain, string what, float floor = 1e-3f)
    {
        float scale = floor;
        foreach (float v in plain) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < plain.Length; i++)
            Assert.True(Math.Abs(fused[i] - plain[i]) <= Tol * scale, $"{what}[{i}]: fused {fused[i]:R} unfused {plain[i]:R} (scale {scale})");
    }

    static readonly ConcurrentDictionary<Type, Type> Compiled = new();

    /// <summary>A new instance of <typeparamref name="T"/> generated without the training fusions.</summary>
    static IModel Unfused<T>() where T : IModel
    {
        var type = Compiled.GetOrAdd(typeof(T), t =>
        {
            var ir = ModelSources.Ir<T>();
            string code = CpuEmitter.Emit(Planner.Build(ir, trainEpilogues: false));
            var dir = Path.Combine(AppContext.BaseDirectory, "Models");
            // Every model source (the model may use helpers from another file); only this one gets generated members.
            var trees = Directory.GetFiles(dir, "*.cs").Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), path: f))
                .Append(CSharpSyntaxTree.ParseText(code, path: "Unfused.g.cs")).ToList();
            var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
            var compilation = CSharpCompilation.Create("Unfused" + t.Name, trees, refs,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true));
            using var pe = new MemoryStream();
            var result = compilation.Emit(pe);
            Assert.True(result.Success, string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10)));
            pe.Position = 0;
            var asm = new AssemblyLoadContext("Unfused" + t.Name, isCollectible: false).LoadFromStream(pe);
            return asm.GetType(t.FullName!, throwOnError: true)!;
        });
        return (IModel)Activator.CreateInstance(type)!;
    }
}
