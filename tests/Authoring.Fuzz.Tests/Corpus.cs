// The models the fuzzer starts from: every sample model (samples/*/), every test model
// (tests/Authoring.Models.Tests/Models/*.cs) and the generator tests' models (the [Model] string constants of
// tests/Authoring.Generators.Tests/Harness/TestModels.cs), read from the repository so the corpus follows
// them as they change. Files holding several models are split into one seed per model (the other [Model]
// classes removed), so a mutation lands in the model that is compiled and each run stays small.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Fuzz.Tests;

/// <summary>One starting model: where it came from and its source text.</summary>
/// <param name="Name">Repository path, plus the class name when the file holds several models.</param>
/// <param name="Text">The source, line endings normalised to '\n'.</param>
public sealed record Seed(string Name, string Text);

/// <summary>The seeds, in a fixed order (so a fuzz seed names the same mutants on every machine).</summary>
public static class Corpus
{
    static readonly Lazy<IReadOnlyList<Seed>> LazySeeds = new(Load);

    /// <summary>All seeds, loaded once.</summary>
    public static IReadOnlyList<Seed> Seeds => LazySeeds.Value;

    /// <summary>The repository root: the first ancestor of the test binaries holding Authoring.sln.</summary>
    public static string RepoRoot { get; } = FindRoot();

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Authoring.sln"))) return d.FullName;
        throw new InvalidOperationException("Repository root (Authoring.sln) not found above " + AppContext.BaseDirectory);
    }

    static IReadOnlyList<Seed> Load()
    {
        var seeds = new List<Seed>();
        var files = Directory.GetDirectories(Path.Combine(RepoRoot, "samples")).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.cs").OrderBy(f => f, StringComparer.Ordinal))
            .Concat(Directory.GetFiles(Path.Combine(RepoRoot, "tests", "Authoring.Models.Tests", "Models"), "*.cs").OrderBy(f => f, StringComparer.Ordinal));
        foreach (var file in files)
        {
            string text = File.ReadAllText(file).ReplaceLineEndings("\n");
            string rel = Path.GetRelativePath(RepoRoot, file).Replace('\\', '/');
            seeds.AddRange(SplitModels(rel, text));
        }
        string testModels = Path.Combine(RepoRoot, "tests", "Authoring.Generators.Tests", "Harness", "TestModels.cs");
        var root = CSharpSyntaxTree.ParseText(File.ReadAllText(testModels)).GetRoot();
        foreach (var v in root.DescendantNodes().OfType<VariableDeclaratorSyntax>())
        {
            // Raw string constants holding a model: their value (indentation removed by the compiler's rules) is the source.
            if (v.Initializer?.Value is LiteralExpressionSyntax { RawKind: (int)SyntaxKind.StringLiteralExpression } lit
                && System.Text.RegularExpressions.Regex.IsMatch(lit.Token.ValueText, @"\[Model[\](]"))
                seeds.AddRange(SplitModels("tests/Authoring.Generators.Tests/Harness/TestModels.cs#" + v.Identifier.Text,
                    lit.Token.ValueText.ReplaceLineEndings("\n")));
        }
        if (seeds.Count == 0) throw new InvalidOperationException("No models found under " + RepoRoot);
        return seeds;
    }

    /// <summary>One seed per [Model] class of <paramref name="text"/>; none when it has no model.</summary>
    internal static IEnumerable<Seed> SplitModels(string name, string text)
    {
        var root = CSharpSyntaxTree.ParseText(text).GetRoot();
        var models = root.DescendantNodes().OfType<ClassDeclarationSyntax>()
            .Where(c => c.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString() is "Model" or "ModelAttribute" or "Authoring.Model"))
            .ToList();
        if (models.Count == 1) yield return new Seed(name, text);
        else
        {
            foreach (var keep in models)
            {
                var others = models.Where(m => m != keep);
                string single = root.RemoveNodes(others, SyntaxRemoveOptions.KeepNoTrivia)!.ToFullString();
                yield return new Seed(name + "#" + keep.Identifier.Text, single);
            }
        }
    }
}
