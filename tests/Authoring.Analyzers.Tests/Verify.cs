// Test harness: the Roslyn analyzer/code-fix testing framework, configured to work offline (no
// reference-assembly package download): the running runtime's assemblies plus the Authoring DSL.
using System.Collections.Immutable;
using Authoring.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace Authoring.Analyzers.Tests;

internal static class Refs
{
    /// <summary>No package: an empty reference set, filled from the trusted platform assemblies below.</summary>
    public static readonly ReferenceAssemblies None = new("net10.0-local");

    public static readonly ImmutableArray<MetadataReference> All = Build();

    static ImmutableArray<MetadataReference> Build()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("System.", StringComparison.Ordinal) || f is "mscorlib.dll" or "netstandard.dll"))
            .ToList();
        paths.Add(typeof(Authoring.Tensor).Assembly.Location);
        return paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }

    public const string Usings = "using Authoring;\nusing static Authoring.Ops;\n\n";
}

internal static class Verify
{
    public const string Gpu = "gpu", Avx2 = "cpu-avx2", Avx512 = "cpu-avx512";

    /// <summary>Checks the diagnostics marked in <paramref name="source"/> (markup) under a profile, with no code fix.</summary>
    public static Task Analyzer(string source, string? profile = null, bool deploy = false, string? extraConfig = null, string? globalConfig = null)
    {
        var test = new Test<EmptyCodeFixProvider> { TestCode = source };
        Configure(test, profile, deploy, extraConfig);
        if (globalConfig is not null) test.TestState.AnalyzerConfigFiles.Add(("/.globalconfig", "is_global = true\n" + globalConfig));
        return test.RunAsync();
    }

    /// <summary>Checks the marked diagnostics and the exact source after applying <typeparamref name="TFix"/>.</summary>
    public static Task Fix<TFix>(string source, string fixedSource, string? profile = null, int iterations = 1)
        where TFix : CodeFixProvider, new()
    {
        var test = new Test<TFix> { TestCode = source, FixedCode = fixedSource, NumberOfFixAllIterations = iterations, NumberOfIncrementalIterations = iterations };
        Configure(test, profile, deploy: false, null);
        return test.RunAsync();
    }

    static void Configure<TFix>(Test<TFix> test, string? profile, bool deploy, string? extraConfig) where TFix : CodeFixProvider, new()
    {
        test.ReferenceAssemblies = Refs.None;
        test.TestState.AdditionalReferences.AddRange(Refs.All);
        test.FixedState.AdditionalReferences.AddRange(Refs.All);
        var config = "root = true\n\n[*]\n";
        if (profile is not null) config += $"authoring_target_profile = {profile}\n";
        if (deploy) config += "authoring_deploy = true\n";
        if (extraConfig is not null) config += extraConfig + "\n";
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", config));
        // Generated partial members do not exist in tests; the analyzer never needs them.
        test.CompilerDiagnostics = CompilerDiagnostics.Errors;
    }

    internal sealed class Test<TFix> : CSharpCodeFixTest<ModelAnalyzer, TFix, DefaultVerifier> where TFix : CodeFixProvider, new()
    {
    }
}
