// The one DiagnosticAnalyzer: for each [Model] class, parse it with the generator's own front end and,
// when the model is valid (the generator reports AUTxxxx errors otherwise), run every registered rule
// over its graph under the file's target profile. Never throws: a rule failure becomes MDL0999.
using System;
using System.Collections.Immutable;
using System.Linq;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Analyzers;

[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ModelAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => RuleRegistry.SupportedDiagnostics;

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var attribute = start.Compilation.GetTypeByMetadataName("Authoring.ModelAttribute");
            if (attribute is null) return;
            start.RegisterSymbolAction(ctx => AnalyzeType(ctx, attribute), SymbolKind.NamedType);
        });
    }

    static void AnalyzeType(SymbolAnalysisContext ctx, INamedTypeSymbol attribute)
    {
        if (ctx.Symbol is not INamedTypeSymbol type) return;
        if (!type.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute))) return;
        var tree = type.DeclaringSyntaxReferences.FirstOrDefault()?.SyntaxTree;
        if (tree is null) return;
        try
        {
            Analyze(type, tree, ctx.Compilation, ctx.Options.AnalyzerConfigOptionsProvider, ctx.ReportDiagnostic, ctx.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            ctx.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, type.Locations.FirstOrDefault(), type.Name,
                ex.GetType().Name + ": " + ex.Message));
        }
    }

    /// <summary>Analyzes one model class (also called by the benchmark).</summary>
    internal static void Analyze(INamedTypeSymbol type, SyntaxTree tree, Compilation compilation, AnalyzerConfigOptionsProvider options,
        Action<Diagnostic> report, System.Threading.CancellationToken ct)
    {
        var ir = ModelParser.Parse(type, compilation, ct);
        // Invalid models get the generator's AUTxxxx errors; half-typed code gets the compiler's. Either way: nothing from us.
        if (!ir.IsValid || ir.Output < 0 || ir.Output >= ir.Nodes.Count) return;
        var context = new RuleContext(new ModelGraph(ir), TargetProfile.From(options, tree), TargetProfile.IsDeploy(options, tree),
            type, compilation, report, ct);
        foreach (var rule in RuleRegistry.Rules)
        {
            ct.ThrowIfCancellationRequested();
            rule.Analyze(context);
        }
    }
}
