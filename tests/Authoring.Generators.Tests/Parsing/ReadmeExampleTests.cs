// The README promises that its DSL examples compile as written: every ```csharp block of README.md that declares
// a model is compiled with the generator, and must give no diagnostic at all (no AUT error, no C# error or warning
// in the user's code or in what the generator wrote for it).
using System.Text.RegularExpressions;
using Authoring.Generators.Tests.Harness;
using Microsoft.CodeAnalysis;

namespace Authoring.Generators.Tests.Parsing;

public class ReadmeExampleTests
{
    static readonly Regex Block = new("```csharp\n(.*?)```", RegexOptions.Singleline);

    public static TheoryData<int> Examples()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < ModelBlocks().Count; i++) data.Add(i);
        return data;
    }

    static List<string> ModelBlocks()
    {
        string readme = File.ReadAllText(Path.Combine(TestModels.RepoRoot(), "README.md")).ReplaceLineEndings("\n");
        // Complete files only: fragments (a field or two) are shown in context elsewhere and cannot compile alone.
        return Block.Matches(readme).Select(m => m.Groups[1].Value)
            .Where(b => b.Contains("[Model", StringComparison.Ordinal) && b.Contains("using Authoring;", StringComparison.Ordinal))
            .ToList();
    }

    [Fact]
    public void TheReadmeShowsEveryKindOfModelItPromises()
    {
        var all = string.Join("\n", ModelBlocks());
        foreach (var needle in new[] { "Loss.Mse", "Loss.BceWithLogits", "Tokens ids", "for (int", "readonly LayerNorm[]", "* 0.1f", "Shape(4, 1, 28, 28)" })
            Assert.Contains(needle, all);
    }

    [Theory, MemberData(nameof(Examples))]
    public void ExampleCompilesAsWritten(int index)
    {
        string source = ModelBlocks()[index];
        var run = GeneratorHarness.Run(source);
        Assert.Empty(run.AutDiagnostics);
        var problems = run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error || d.Id.StartsWith("CS", StringComparison.Ordinal)).ToList();
        Assert.True(problems.Count == 0, $"README example {index}:\n{string.Join("\n", problems)}\n{source}");
    }
}
