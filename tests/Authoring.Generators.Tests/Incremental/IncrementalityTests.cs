// The generator's cache must hold across edits that do not change a model: the tracked steps
// (TrackingNames.Parse, Emit) and the source output report Cached or Unchanged, so no pass re-runs
// on unchanged IR and no file is re-added. An edit that changes the model must change the output.
using Authoring.Generators.Tests.Harness;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Authoring.Generators.Tests.Incremental;

public class IncrementalityTests
{
    const string OtherPath = "/src/Other.cs";
    const string Other = """
        namespace FashionCnn;

        static class Helpers
        {
            public static int Twice(int x) => 2 * x;
        }
        """;

    static (GeneratorRun First, GeneratorRun Second) RunTwice(string model, string editedModel, string other, string editedOther)
    {
        var compilation = GeneratorHarness.Compile((GeneratorHarness.ModelPath, model), (OtherPath, other));
        var first = GeneratorHarness.Run(compilation);
        Assert.True(first.Result.Exception is null, $"Generator threw: {first.Result.Exception}");

        // Edit the trees in place, as the IDE does: same paths, new text.
        var next = compilation;
        foreach (var (path, text) in new[] { (GeneratorHarness.ModelPath, editedModel), (OtherPath, editedOther) })
        {
            var old = next.SyntaxTrees.Single(t => t.FilePath == path);
            if (old.ToString() != text)
                next = next.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, path));
        }
        Assert.NotSame(compilation, next);
        var second = GeneratorHarness.Run(first.Driver, next);
        Assert.True(second.Result.Exception is null, $"Generator threw: {second.Result.Exception}");
        return (first, second);
    }

    static List<(string Step, IncrementalStepRunReason Reason)> Reasons(GeneratorRunResult result)
    {
        var list = new List<(string, IncrementalStepRunReason)>();
        foreach (var name in new[] { TrackingNames.Parse, TrackingNames.Emit })
        {
            Assert.True(result.TrackedSteps.TryGetValue(name, out var steps), $"Step '{name}' was not tracked");
            list.AddRange(steps.SelectMany(s => s.Outputs).Select(o => (name, o.Reason)));
        }
        foreach (var (name, steps) in result.TrackedOutputSteps)
            list.AddRange(steps.SelectMany(s => s.Outputs).Select(o => (name, o.Reason)));
        return list;
    }

    static void AssertNothingRegenerated(GeneratorRun first, GeneratorRun second)
    {
        var reasons = Reasons(second.Result);
        Assert.Contains(reasons, r => r.Step == TrackingNames.Parse);
        Assert.Contains(reasons, r => r.Step == TrackingNames.Emit);
        Assert.True(reasons.All(r => r.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged),
            "Steps that ran again: " + string.Join(", ", reasons.Select(r => $"{r.Step}={r.Reason}")));
        Assert.Equal(4, first.Sources.Count); // the model, its deploy twin, ToDeploy and ExportOnnx
        Assert.Equal(first.Sources, second.Sources);
    }

    [Fact]
    public void CommentInTheModelRegeneratesNothing()
    {
        string model = TestModels.SmallCnn;
        string edited = model.Replace("        return head.Forward(", "        // logits\n        return head.Forward(", StringComparison.Ordinal);
        Assert.NotEqual(model, edited);
        var (first, second) = RunTwice(model, edited, Other, Other);
        AssertNothingRegenerated(first, second);
    }

    [Fact]
    public void CommentAboveTheModelRegeneratesNothing()
    {
        // Shifts every position in the class: the cached IR must not depend on where the model sits.
        string model = TestModels.SmallCnn;
        var (first, second) = RunTwice(model, "// A comment added above everything.\n" + model, Other, Other);
        AssertNothingRegenerated(first, second);
        // Planning and emission did not even run again.
        Assert.All(second.Result.TrackedSteps[TrackingNames.Emit].SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void EditOfAnUnrelatedFileRegeneratesNothing()
    {
        string edited = Other.Replace("2 * x", "x + x", StringComparison.Ordinal);
        Assert.NotEqual(Other, edited);
        var (first, second) = RunTwice(TestModels.SmallCnn, TestModels.SmallCnn, Other, edited);
        // Parse re-runs (Unchanged): ForAttributeWithMetadataName re-runs its transform whenever the
        // compilation changes. What must hold is that nothing after it does.
        AssertNothingRegenerated(first, second);
        Assert.All(second.Result.TrackedSteps[TrackingNames.Emit].SelectMany(s => s.Outputs),
            o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void DiagnosticFollowsItsCodeWhenAModelWithAnErrorMoves()
    {
        // The cache drops positions only from valid models: an invalid one must re-report at the new place.
        string model = TestModels.SmallCnn.Replace("new(128, Classes)", "new(64, Classes)", StringComparison.Ordinal);
        string edited = "// moved down one line\n" + model;
        var (first, second) = RunTwice(model, edited, Other, Other);
        var before = first.AutDiagnostics.Single();
        var after = second.AutDiagnostics.Single();
        Assert.Equal("AUT0008", after.Id);
        Assert.Equal(before.Location.GetLineSpan().StartLinePosition.Line + 1, after.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal("head.Forward(drop.Forward(GlobalAvgPool(x)))", edited.Substring(after.Location.SourceSpan.Start, after.Location.SourceSpan.Length));
    }

    [Fact]
    public void ChangedHyperParameterRegenerates()
    {
        string model = TestModels.SmallCnn;
        string edited = model.Replace("const int Classes = 10;", "const int Classes = 12;", StringComparison.Ordinal);
        Assert.NotEqual(model, edited);
        var (first, second) = RunTwice(model, edited, Other, Other);
        var reasons = Reasons(second.Result);
        foreach (var step in new[] { TrackingNames.Parse, TrackingNames.Emit })
            Assert.Contains((step, IncrementalStepRunReason.Modified), reasons);
        Assert.Contains(reasons, r => r.Step != TrackingNames.Parse && r.Step != TrackingNames.Emit && r.Reason == IncrementalStepRunReason.Modified);
        string text = second.Sources["FashionCnn.SmallCnn.g.cs"];
        Assert.NotEqual(first.Sources["FashionCnn.SmallCnn.g.cs"], text);
        Assert.Contains("__OutputSize = 12", text);
    }
}
