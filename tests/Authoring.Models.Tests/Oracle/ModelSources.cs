// Parses the test models' source files into the generator's IR, so the oracle interprets exactly the
// graph the generator compiled.
using System.Collections.Concurrent;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Authoring.Models.Tests.Oracle;

internal static class ModelSources
{
    static readonly Lazy<CSharpCompilation> Compilation = new(Build);
    static readonly ConcurrentDictionary<string, ModelIr> Cache = new();

    static CSharpCompilation Build()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Models");
        var trees = Directory.GetFiles(dir, "*.cs").Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), path: f)).ToList();
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(Authoring.ModelAttribute).Assembly.Location));
        return CSharpCompilation.Create("ModelSources", trees, refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
    }

    /// <summary>The IR of model class <typeparamref name="T"/>.</summary>
    public static ModelIr Ir<T>() => Cache.GetOrAdd(typeof(T).FullName!, name =>
    {
        var symbol = Compilation.Value.GetTypeByMetadataName(name) ?? throw new InvalidOperationException($"{name} not found in model sources.");
        var ir = ModelParser.Parse(symbol, Compilation.Value, CancellationToken.None);
        if (!ir.IsValid) throw new InvalidOperationException($"{name} has diagnostics: {string.Join("; ", ir.Diagnostics.Select(d => d.Id))}");
        return ir;
    });
}
