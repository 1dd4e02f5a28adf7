// Runs an analyzer with Microsoft.CodeAnalysis.Testing against the local .NET reference pack and the
// real Dsl assembly. The package's default reference assemblies are downloaded from NuGet at test time,
// which fails offline and costs time everywhere, so they are replaced with metadata references.
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace Authoring.Analyzers.Tests;

internal static class Verifier<TAnalyzer> where TAnalyzer : DiagnosticAnalyzer, new()
{
    public static DiagnosticResult Diagnostic(string id) => CSharpAnalyzerVerifier<TAnalyzer, DefaultVerifier>.Diagnostic(id);

    public static Test Create(string source, params DiagnosticResult[] expected)
    {
        var test = new Test { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        return test;
    }

    public static Task VerifyAsync(string source, params DiagnosticResult[] expected) => Create(source, expected).RunAsync();

    public sealed class Test : CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
    {
        public Test()
        {
            // No package: every reference comes from the machine's own .NET and the Dsl build output.
            ReferenceAssemblies = new ReferenceAssemblies("net10.0");
            TestState.AdditionalReferences.AddRange(References.Value);
        }
    }

    static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        LocalReferences.Framework().Add(MetadataReference.CreateFromFile(typeof(Authoring.ModelAttribute).Assembly.Location)));
}

internal static class LocalReferences
{
    /// <summary>The reference pack matching the running .NET (packs/Microsoft.NETCore.App.Ref/x.y.z/ref/netX.Y),
    /// or the runtime's own assemblies where no pack is installed.</summary>
    public static ImmutableArray<MetadataReference> Framework()
    {
        string runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
        string version = Path.GetFileName(runtimeDir);
        string tfm = $"net{Environment.Version.Major}.{Environment.Version.Minor}";
        string pack = Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref", version, "ref", tfm);
        string dir = Directory.Exists(pack) ? pack : runtimeDir;
        return Directory.GetFiles(dir, "*.dll")
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }
}
