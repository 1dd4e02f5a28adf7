// A model that cannot be compiled still gets its members (Emit/StubEmitter.cs): a project using it compiles with
// exactly the model's AUT diagnostics (or the C# errors the parser stopped on), not one CS1061 per use, and the
// members throw an InvalidOperationException naming the model and its first diagnostic if anything runs them.
using System.Reflection;
using System.Runtime.Loader;
using Authoring.Generators.Tests.Harness;
using Microsoft.CodeAnalysis;

namespace Authoring.Generators.Tests.Emit;

public class StubTests
{
    const string InvalidModel = """
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        [Model]
        public partial class Net
        {
            readonly Conv2d conv = new(3, 8, kernel: 3);
            readonly Linear head = new(8, 2);
            Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(conv.Forward(x)));
        }
        """;

    /// <summary>Every way a program reaches a model: construction, IModel members, the class's own members, the
    /// deploy twin, the ILGPU twin, and an IModel-typed use.</summary>
    const string Program = """
        using System;
        using Authoring.Runtime;
        using Test;

        public static class Program
        {
            public static string Run()
            {
                var images = new float[64];
                var labels = new int[1];
                var logits = new float[2];
                var model = new Net();
                model.Parameters.Initialize(seed: 1);
                var step = model.TrainStep(images, labels, 1);
                model.Infer(images, 1, logits);
                model.DropoutSeed = 3;
                Console.WriteLine($"{step.Loss} {model.InputSize} {model.OutputShape.Count} {Net.ParameterInfos.Count} {Net.ArenaFloatsPerSample}");
                NetDeploy deploy = model.ToDeploy();
                deploy.Infer(images, 1, logits);
                model.ExportOnnx("net.onnx");
                deploy.ExportOnnx(new System.IO.MemoryStream(), opset: 20);
                using var device = new Authoring.Gpu.GpuDevice();
                using var gpu = new Net.Gpu(device, model.Parameters);
                gpu.Infer(images, 1, logits);
                IModel any = model;
                return any.Name;
            }
        }
        """;

    static IEnumerable<MetadataReference> GpuReferences()
    {
        var gpu = typeof(Authoring.Gpu.GpuKernels).Assembly;
        return new[] { gpu }.Concat(gpu.GetReferencedAssemblies().Select(Assembly.Load))
            .Select(a => (MetadataReference)MetadataReference.CreateFromFile(a.Location));
    }

    static GeneratorRun Run(string model, bool gpu = true)
    {
        var compilation = GeneratorHarness.Compile((GeneratorHarness.ModelPath, model), ("/src/Program.cs", Program));
        return GeneratorHarness.Run(gpu ? compilation.AddReferences(GpuReferences()) : compilation);
    }

    [Fact]
    public void AProjectUsingAnInvalidModelHasOnlyTheAutError()
    {
        var run = Run(InvalidModel);
        Assert.Equal(new[] { "AUT0008" }, run.GeneratorDiagnostics.Select(d => d.Id));
        // Without the stub: CS1061 for Parameters, TrainStep, Infer..., CS0246 for NetDeploy and Net.Gpu.
        Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
        Assert.Equal(new[] { "Test.Net.g.cs" }, run.Sources.Keys);
    }

    [Fact]
    public void WithoutAuthoringGpuTheStubHasNoGpuTwin()
    {
        // The ILGPU twin exists only when Authoring.Gpu is referenced, as for a valid model.
        var run = GeneratorHarness.Run(GeneratorHarness.Compile((GeneratorHarness.ModelPath, InvalidModel)));
        Assert.Equal(new[] { "AUT0008" }, run.GeneratorDiagnostics.Select(d => d.Id));
        Assert.DoesNotContain("class Gpu", run.Sources.Values.Single());
        Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
    }

    [Fact]
    public void StubMembersThrowNamingTheModelAndItsDiagnostic()
    {
        var run = Run(InvalidModel);
        var context = new AssemblyLoadContext("stub", isCollectible: true);
        try
        {
            using var image = new MemoryStream();
            var emitted = run.Output.Emit(image);
            Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var net = assembly.GetType("Test.Net")!;
            var model = (Authoring.Runtime.IModel)Activator.CreateInstance(net)!;
            var e = Assert.Throws<InvalidOperationException>(() => model.Parameters);
            var at = run.GeneratorDiagnostics.Single().Location.GetLineSpan().StartLinePosition;
            Assert.StartsWith($"Model 'Net' was not compiled: AUT0008 at Model.cs({at.Line + 1},{at.Character + 1}): conv (Conv2d): expects 3 input channels, got 1", e.Message);
            Assert.Throws<InvalidOperationException>(() => model.TrainStep(new float[64], new int[1], 1));
            // The program stops at its first use of the model, with that message.
            var thrown = Assert.Throws<TargetInvocationException>(() => assembly.GetType("Program")!.GetMethod("Run")!.Invoke(null, null));
            Assert.Equal(e.Message, thrown.InnerException!.Message);
        }
        finally
        {
            context.Unload();
        }
    }

    [Fact]
    public void SeveralDiagnosticsAreCountedInTheMessage()
    {
        var run = Run(InvalidModel.Replace("readonly Linear head = new(8, 2);", "readonly Linear head = new(8, 2);\n    static int K = 2;\n    readonly MaxPool2d pool = new(K);", StringComparison.Ordinal));
        Assert.Equal(2, run.AutDiagnostics.Length);
        Assert.Contains("(and 1 more)", run.Sources["Test.Net.g.cs"]);
        Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
    }

    [Fact]
    public void CSharpErrorsInTheModelAreTheOnlyErrors()
    {
        // The parser stops quietly on C# errors (the compiler reports them); the program using the model adds none.
        var model = InvalidModel.Replace("conv.Forward(x)", "conv.Forward(x, 2)", StringComparison.Ordinal);
        var run = Run(model);
        Assert.Empty(run.GeneratorDiagnostics);
        var errors = run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id).ToList();
        Assert.Equal(run.InputErrors.Where(d => d.Location.GetLineSpan().Path == GeneratorHarness.ModelPath).Select(d => d.Id), errors);
        Assert.Contains("its source has C# errors", run.Sources["Test.Net.g.cs"]);
    }

    [Fact]
    public void AModelStoppedByAnUnfinishedLineGetsItsStubToo()
    {
        // Being typed: a syntax error in Forward. The uses of the model elsewhere stay quiet meanwhile.
        var model = InvalidModel.Replace("GlobalAvgPool(conv.Forward(x)));", "GlobalAvgPool(conv.Forward(x)", StringComparison.Ordinal);
        var run = Run(model);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.All(run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error),
            d => Assert.Equal(GeneratorHarness.ModelPath, d.Location.GetLineSpan().Path));
    }

    [Fact]
    public void AClassThatCannotTakeMembersGetsNone()
    {
        // Not partial (AUT0001): a generated part would be a second error (CS0260), so nothing is generated.
        var run = Run(InvalidModel.Replace("public partial class Net", "public class Net", StringComparison.Ordinal));
        Assert.Equal(new[] { "AUT0001" }, run.GeneratorDiagnostics.Select(d => d.Id));
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void AUserTypeNamedLikeTheDeployTwinIsLeftAlone()
    {
        var run = Run(InvalidModel + "\npublic sealed class NetDeploy : Authoring.Runtime.IModel { " +
            "public string Name => \"\"; public System.Collections.Generic.IReadOnlyList<int> InputShape => new int[0]; public int InputSize => 0; public int OutputSize => 0; " +
            "public Authoring.Runtime.ParameterStore Parameters => null!; public ulong TrainSteps { get; set; } public void Infer(System.ReadOnlySpan<float> i, int b, System.Span<float> o) { } " +
            "public Authoring.Runtime.StepResult TrainStep(System.ReadOnlySpan<float> i, System.ReadOnlySpan<int> l, int b) => default; }\n");
        Assert.Equal(new[] { "AUT0008" }, run.GeneratorDiagnostics.Select(d => d.Id));
        Assert.DoesNotContain("class NetDeploy", run.Sources["Test.Net.g.cs"]);
        // Only the program's ToDeploy use fails (the user's NetDeploy has no such factory): the model's stub is fine.
        Assert.All(run.OutputDiagnostics, d => Assert.Equal("/src/Program.cs", d.Location.GetLineSpan().Path));
    }
}
