// Asserts that a marked-up model yields exactly the marked AUT diagnostics: same ids, same spans,
// same file, nothing more. Failures print both lists with the text each span covers.
using Microsoft.CodeAnalysis;

namespace Authoring.Generators.Tests.Harness;

internal static class DiagnosticAssert
{
    /// <summary>Runs the generator on <paramref name="markup"/> and checks its diagnostics against the markers.
    /// The model must compile as C# on its own: AUT diagnostics are about valid C# the generator rejects.</summary>
    public static GeneratorRun Verify(string markup)
    {
        var (source, expected) = Markup.Parse(markup);
        var run = GeneratorHarness.Run(source);
        Assert.True(run.Result.Exception is null, $"Generator threw: {run.Result.Exception}");
        Assert.True(run.InputErrors.IsEmpty,
            "The test model has C# errors of its own, so it does not test the generator:\n" + string.Join("\n", run.InputErrors));

        var actual = run.AutDiagnostics
            .Select(d =>
            {
                // Generator diagnostics carry a file location (path + span), not a tree: the model keeps no trees.
                Assert.True(d.Location.Kind is LocationKind.SourceFile or LocationKind.ExternalFile, $"{d.Id} has no location: {d}");
                Assert.Equal(GeneratorHarness.ModelPath, d.Location.GetLineSpan().Path);
                return new ExpectedDiagnostic(d.Id, d.Location.SourceSpan);
            })
            .OrderBy(e => e.Span.Start).ThenBy(e => e.Id, StringComparer.Ordinal)
            .ToList();

        if (!expected.SequenceEqual(actual))
        {
            string Show(IEnumerable<ExpectedDiagnostic> ds) => string.Join("\n", ds.Select(d =>
                $"  {d.Id} {d.Span}: '{source.Substring(d.Span.Start, Math.Min(d.Span.Length, 80))}'"));
            Assert.Fail($"Expected diagnostics:\n{Show(expected)}\nActual:\n{Show(actual)}\nMessages:\n  " +
                string.Join("\n  ", run.AutDiagnostics.Select(d => d.ToString())));
        }
        // An invalid model gets stub members only (Emit/StubEmitter.cs), and they compile: its diagnostics are the
        // only errors of a project using it.
        if (expected.Count > 0)
            Assert.All(run.Result.GeneratedSources, s => Assert.Contains("was not compiled", s.SourceText.ToString()));
        var generated = run.Output.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error || d.Location.SourceTree is { } t && !run.Input.SyntaxTrees.Contains(t))
            .ToList();
        Assert.True(generated.Count == 0, "The generated code adds diagnostics:\n" + string.Join("\n", generated));
        return run;
    }

    /// <summary>The message of the only AUT diagnostic with <paramref name="id"/>.</summary>
    public static string Message(GeneratorRun run, string id) =>
        run.AutDiagnostics.Single(d => d.Id == id).GetMessage(System.Globalization.CultureInfo.InvariantCulture);
}
