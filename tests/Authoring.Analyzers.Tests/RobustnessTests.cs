// The analyzers never throw, whatever the input (half-typed code as the IDE sees it), and never
// repeat what the generator reports: models with AUTxxxx errors get no MDL diagnostics.
namespace Authoring.Analyzers.Tests;

public class RobustnessTests
{
    [Fact]
    public void SampleModelTripsManyRules()
    {
        var ids = Harness.Analyze(Harness.Compile(Harness.Sample)).Select(d => d.Id).Distinct().ToList();
        Assert.Superset(new HashSet<string> { "MDL0001", "MDL0002", "MDL0003", "MDL0007", "MDL0009", "MDL0010", "MDL0011", "MDL0012", "MDL0013" }, ids.ToHashSet());
    }

    [Fact]
    public void EveryPrefixOfAModelIsAnalyzedWithoutThrowing()
    {
        var source = Harness.Sample;
        int count = 0;
        for (int n = 0; n < source.Length; n += 7, count++)
            Harness.Analyze(Harness.Compile(source.Substring(0, n)));
        Assert.True(count > 100);
    }

    [Fact]
    public void EveryLineDeletionIsAnalyzedWithoutThrowing()
    {
        var lines = Harness.Sample.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            Harness.Analyze(Harness.Compile(string.Join("\n", lines.Where((_, j) => j != i))));
    }

    [Theory]
    [InlineData("(", "")]          // unbalanced calls
    [InlineData(",", "")]          // missing separators
    [InlineData("30", "-30")]      // negative widths
    [InlineData("3,", "0,")]       // zero sizes
    [InlineData("Forward(", "Forwad(")] // unknown members
    [InlineData("Tensor", "int")]  // wrong types
    [InlineData("readonly", "static readonly")]
    public void MalformedEditsAreAnalyzedWithoutThrowing(string find, string replace)
    {
        var source = Harness.Sample;
        for (int at = source.IndexOf(find, StringComparison.Ordinal); at >= 0; at = source.IndexOf(find, at + 1, StringComparison.Ordinal))
            Harness.Analyze(Harness.Compile(source.Substring(0, at) + replace + source.Substring(at + find.Length)));
    }

    [Fact]
    public void RandomTokenEditsAreAnalyzedWithoutThrowing()
    {
        // Seeded: deletions, insertions and substitutions of tokens taken from the same file (800 ran clean once; 80 here).
        var source = Harness.Sample;
        var tokens = Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source).GetRoot().DescendantTokens().ToList();
        var rng = new Random(1);
        for (int i = 0; i < 80; i++)
        {
            var t = tokens[rng.Next(tokens.Count)];
            var other = tokens[rng.Next(tokens.Count)].Text;
            string mutated = (i % 3) switch
            {
                0 => source.Remove(t.SpanStart, t.Span.Length),
                1 => source.Insert(t.SpanStart, other),
                _ => source.Substring(0, t.SpanStart) + other + source.Substring(t.Span.End),
            };
            Harness.Analyze(Harness.Compile(mutated));
        }
    }

    const string ShapeError = Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 12, kernel: 3, padding: 1);
            readonly Linear fc = new(13, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(Sigmoid(GlobalAvgPool(conv.Forward(x))));
        }
        """;

    [Fact]
    public void ModelWithAnAutErrorGetsNoMdlDiagnostics()
    {
        var compilation = Harness.Compile(ShapeError);
        var (generated, output) = Harness.Generate(compilation);
        Assert.Contains(generated, d => d.Id == "AUT0008");
        Assert.Empty(Harness.Analyze(output));
        // The same model without the error trips MDL0001 and MDL0010: the silence above is the AUT error's doing.
        var fixedModel = Harness.Compile(ShapeError.Replace("new(13, 10)", "new(12, 10)"));
        Assert.Equal(new[] { "MDL0001", "MDL0010" }, Harness.Analyze(fixedModel).Select(d => d.Id).OrderBy(i => i));
    }

    [Fact]
    public void GeneratorAndAnalyzersNeverReportTheSameProblem()
    {
        var compilation = Harness.Compile(Harness.Sample);
        var (generated, output) = Harness.Generate(compilation);
        Assert.DoesNotContain(generated, d => d.Id.StartsWith("MDL", StringComparison.Ordinal));
        Assert.Empty(generated.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        var analyzed = Harness.Analyze(output);
        Assert.NotEmpty(analyzed);
        Assert.All(analyzed, d => Assert.StartsWith("MDL", d.Id));
        // One diagnostic per location and rule.
        Assert.Equal(analyzed.Length, analyzed.Select(d => (d.Id, d.Location.SourceSpan)).Distinct().Count());
    }
}

public class RegistryTests
{
    static readonly string Repo = FindRepo();

    static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Authoring.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public void AtLeastFifteenRulesEachWithAHelpPageLinkedFromItsDescriptor()
    {
        var rules = Core.RuleRegistry.Rules;
        Assert.True(rules.Length >= 15, $"{rules.Length} rules");
        foreach (var rule in rules)
        {
            var d = rule.Descriptor;
            Assert.Equal($"https://github.com/authoring/authoring/blob/main/docs/rules/{d.Id}.md", d.HelpLinkUri);
            Assert.True(File.Exists(Path.Combine(Repo, "docs", "rules", d.Id + ".md")), d.Id + " has no help page");
            Assert.Contains(d.Id, File.ReadAllText(Path.Combine(Repo, "Analyzers", "AnalyzerReleases.Unshipped.md")));
            if (d.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
                // The warnings-not-as-errors list lives in the targets shared by the repository and the NuGet package.
                Assert.Contains(d.Id, File.ReadAllText(Path.Combine(Repo, "build", "Authoring.Common.targets")));
        }
    }

    [Fact]
    public void EveryRuleHasAPositiveMarkupTest()
    {
        var tests = string.Concat(Directory.GetFiles(Path.Combine(Repo, "tests", "Authoring.Analyzers.Tests"), "*.cs").Select(File.ReadAllText));
        foreach (var rule in Core.RuleRegistry.Rules)
            Assert.Contains("{|" + rule.Descriptor.Id + ":", tests);
    }
}

public class SuppressionTests
{
    [Fact]
    public Task SuppressMessageOnTheModelClass() => Verify.Analyzer(Refs.Usings + """
        [Model]
        [System.Diagnostics.CodeAnalysis.SuppressMessage("Authoring.Hardware", "MDL0001")]
        public partial class M
        {
            readonly Conv2d conv = new(3, 12, kernel: 3, padding: 1);
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """);

    [Fact]
    public Task PragmaAroundTheField() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
        #pragma warning disable MDL0001
            readonly Conv2d conv = new(3, 12, kernel: 3, padding: 1);
        #pragma warning restore MDL0001
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """);
}
