// Runs the analyzer (and optionally the generator) over a plain compilation, collecting analyzer
// exceptions instead of letting the driver turn them into AD0001 warnings.
using System.Collections.Immutable;
using Authoring.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Analyzers.Tests;

internal static class Harness
{
    /// <summary>Compilations derived from one base share its bound references (binding ~160 reference assemblies per compilation would dominate).</summary>
    static readonly CSharpCompilation Base = CSharpCompilation.Create("T", Array.Empty<SyntaxTree>(), Refs.All,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static CSharpCompilation Compile(string source) =>
        Base.AddSyntaxTrees(CSharpSyntaxTree.ParseText(source, path: "/0/Model.cs"));

    /// <summary>Analyzer diagnostics; fails on any analyzer exception or internal-error diagnostic.</summary>
    public static ImmutableArray<Diagnostic> Analyze(Compilation compilation)
    {
        var exceptions = new List<Exception>();
        var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
            (ex, _, _) => exceptions.Add(ex), concurrentAnalysis: false, logAnalyzerExecutionTime: false);
        var diagnostics = compilation.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer()), options)
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        Assert.Empty(exceptions);
        Assert.DoesNotContain(diagnostics, d => d.Id is "MDL0999" or "AD0001");
        return diagnostics;
    }

    /// <summary>The generator's diagnostics and the compilation with its output added.</summary>
    public static (ImmutableArray<Diagnostic> Diagnostics, Compilation Output) Generate(Compilation compilation)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new ModelGenerator());
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return (diagnostics, output);
    }

    public static string Sample => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Samples", "UnfriendlyNet.cs"));
}
