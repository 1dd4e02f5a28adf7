// Runs ModelGenerator the way the compiler does: a CSharpCompilation of test sources against the real
// Dsl and Runtime assemblies, driven by CSharpGeneratorDriver with step tracking on, so tests can read
// diagnostics, generated files, the output compilation's errors and each step's run reason.
using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Authoring.Generators.Tests.Harness;

/// <summary>What one generator run produced.</summary>
internal sealed record GeneratorRun(
    CSharpGeneratorDriver Driver,
    CSharpCompilation Input,
    Compilation Output,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    GeneratorRunResult Result)
{
    /// <summary>Diagnostics the generator reported (AUT ids) plus any driver-level failure.</summary>
    public ImmutableArray<Diagnostic> AutDiagnostics => GeneratorDiagnostics.Where(d => d.Id.StartsWith("AUT", StringComparison.Ordinal)).ToImmutableArray();

    /// <summary>Generated files by hint name.</summary>
    public IReadOnlyDictionary<string, string> Sources =>
        Result.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);

    /// <summary>Errors and warnings of compiling the input plus the generated files.</summary>
    public ImmutableArray<Diagnostic> OutputDiagnostics =>
        Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();

    /// <summary>The input's own compile errors (before generation).</summary>
    public ImmutableArray<Diagnostic> InputErrors =>
        Input.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
}

internal static class GeneratorHarness
{
    public const string ModelPath = "/src/Model.cs";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(LoadReferences);

    /// <summary>The framework, Dsl and Runtime, created once: metadata references are costly to read.</summary>
    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    // One compilation with no trees: AddSyntaxTrees on it reuses its bound reference set, which keeps
    // hundreds of fuzz runs cheap.
    static readonly Lazy<CSharpCompilation> Empty = new(() => CSharpCompilation.Create("Models",
        references: References,
        options: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable,
            // The SDK passes these by default: assembly-version unification notes, not problems.
            specificDiagnosticOptions: new Dictionary<string, ReportDiagnostic>
            {
                ["CS1701"] = ReportDiagnostic.Suppress,
                ["CS1702"] = ReportDiagnostic.Suppress,
            })));

    static ImmutableArray<MetadataReference> LoadReferences()
    {
        // Framework assemblies only (the trusted platform list also names this test's own dependencies,
        // Roslyn and xunit among them, which a model project would not see).
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        // Dsl, Runtime and what Runtime itself references outside the framework (System.Numerics.Tensors).
        var runtime = typeof(Authoring.Runtime.IModel).Assembly;
        paths.Add(typeof(Authoring.ModelAttribute).Assembly.Location);
        paths.Add(runtime.Location);
        foreach (var name in runtime.GetReferencedAssemblies())
            paths.Add(Assembly.Load(name).Location);
        return paths.OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }

    public static CSharpCompilation Compile(params (string Path, string Text)[] sources) =>
        Empty.Value.AddSyntaxTrees(sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)));

    public static CSharpGeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            new[] { new ModelGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator on one model file at <see cref="ModelPath"/>.</summary>
    public static GeneratorRun Run(string source) => Run(Compile((ModelPath, source)));

    public static GeneratorRun Run(CSharpCompilation compilation) => Run(CreateDriver(), compilation);

    /// <summary>Runs (or re-runs, for incrementality tests) a driver on a compilation.</summary>
    public static GeneratorRun Run(CSharpGeneratorDriver driver, CSharpCompilation compilation)
    {
        driver = (CSharpGeneratorDriver)driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var result = driver.GetRunResult().Results.Single();
        return new GeneratorRun(driver, compilation, output, diagnostics, result);
    }
}
