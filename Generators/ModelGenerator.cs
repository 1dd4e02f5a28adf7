// The incremental generator: [Model] classes -> ModelIr (value-equatable) -> plan -> C# for both backends.
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Parsing;
using Microsoft.CodeAnalysis;

namespace Authoring.Generators;

[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var models = context.SyntaxProvider.ForAttributeWithMetadataName(
                "Authoring.ModelAttribute",
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse((INamedTypeSymbol)ctx.TargetSymbol, ctx.SemanticModel.Compilation, ct).ForCache())
            .WithTrackingName(TrackingNames.Parse);

        // Whether the ILGPU backend can be emitted: the project references Authoring.Gpu.
        var hasGpu = context.CompilationProvider
            .Select(static (c, _) => c.GetTypeByMetadataName("Authoring.Gpu.GpuKernels") is not null)
            .WithTrackingName(TrackingNames.Backends);

        var sources = models.Combine(hasGpu)
            .Select(static (pair, ct) => ModelEmitter.Emit(pair.Left, pair.Right, ct))
            .WithTrackingName(TrackingNames.Emit);

        context.RegisterSourceOutput(sources, static (spc, output) =>
        {
            foreach (var d in output.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            foreach (var file in output.Files) spc.AddSource(file.Name, file.Text);
        });
    }
}

/// <summary>Names of the tracked pipeline steps, for incrementality tests.</summary>
public static class TrackingNames
{
    public const string Parse = "Parse";
    public const string Backends = "Backends";
    public const string Emit = "Emit";
}
