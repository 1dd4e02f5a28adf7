// MDL0010: Sigmoid and Tanh in a model's forward pass. Reads the model with the generator's own parser
// (linked source), so it sees exactly the graph the generator compiles, helper methods inlined.
using System.Collections.Immutable;
using System.Linq;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Analyzers.Rules;

[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class CostlyActivationAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(RuleDescriptors.CostlyActivation);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var modelAttribute = start.Compilation.GetTypeByMetadataName("Authoring.ModelAttribute");
            if (modelAttribute is null) return; // the project does not use the DSL
            start.RegisterSymbolAction(c => AnalyzeType(c, modelAttribute), SymbolKind.NamedType);
        });
    }

    static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol modelAttribute)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        if (!type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, modelAttribute))) return;

        // The parser never throws for a bad model: half-typed code yields a partial graph or none.
        var model = ModelParser.Parse(type, context.Compilation, context.CancellationToken);
        foreach (var node in model.Nodes)
        {
            if (node.Op != OpKind.Activation) continue;
            var act = (ActKind)node.Ints[0];
            string? instead = act switch
            {
                ActKind.Sigmoid => "HardSigmoid (or ReLU where no gate in [0, 1] is needed)",
                ActKind.Tanh => "HardSwish or ReLU (or 2 * HardSigmoid(2x) - 1 where a bounded output is needed)",
                _ => null,
            };
            if (instead is null) continue;
            var location = ToSourceLocation(node.Location, context.Compilation);
            if (location is null) continue;
            context.ReportDiagnostic(Diagnostic.Create(RuleDescriptors.CostlyActivation, location, act.ToString(), instead));
        }
    }

    /// <summary>The IR keeps file path and span; diagnostics from an analyzer belong in a tree of the compilation.</summary>
    static Location? ToSourceLocation(LocationInfo? info, Compilation compilation)
    {
        if (info is null) return null;
        var tree = compilation.SyntaxTrees.FirstOrDefault(t => t.FilePath == info.FilePath);
        if (tree is null || info.Span.End > tree.Length) return null;
        return Location.Create(tree, info.Span);
    }
}
