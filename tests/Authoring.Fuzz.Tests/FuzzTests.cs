// The fuzz suite's place in the default test run: a seeded subset of 500 mutants through the generator
// and the analyzers (0 exceptions, 0 runs that ignore cancellation, every diagnostic located), plus checks
// that the mutants are reproducible and that the harness itself catches what it is meant to catch.
using Xunit.Abstractions;

namespace Authoring.Fuzz.Tests;

public sealed class FuzzTests(ITestOutputHelper output)
{
    /// <summary>The default subset: seed 1, mutants 0..499 (scripts/fuzz.sh runs any number).</summary>
    const int DefaultSeed = 1, DefaultCount = 500;

    [Fact]
    public void FiveHundredMutantsNeverCrashHangOrReportUnlocatedDiagnostics()
    {
        var session = FuzzSession.Run(DefaultSeed, DefaultCount, FuzzOptions.Default, parallel: Math.Clamp(Environment.ProcessorCount, 1, 4));
        output.WriteLine(session.Summary());
        foreach (var f in session.Reports) output.WriteLine(f);
        Assert.True(session.Failures.Count == 0,
            $"{session.Failures.Count} of {session.Count} mutants failed (reproduce one with scripts/fuzz.sh --seed {DefaultSeed} --first INDEX --count 1):\n" +
            session.Summary() + string.Join("\n\n", session.Reports.Take(5)));
        // The subset is worth running only if it reaches the generator's later stages and its diagnostics.
        Assert.True(session[Outcome.Clean] + session[Outcome.HardwareHints] >= 50, session.Summary());
        Assert.True(session[Outcome.ModelErrors] >= 50, session.Summary());
    }

    [Fact]
    public void EveryModelOfTheRepositoryIsASeed()
    {
        var names = Corpus.Seeds.Select(s => s.Name).ToList();
        Assert.Contains("samples/FashionCnn/SmallCnn.cs", names);
        Assert.Contains("samples/UnfriendlyModel/UnfriendlyNet.cs", names);
        Assert.Contains(names, n => n.StartsWith("tests/Authoring.Models.Tests/Models/OpModels.cs#", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("tests/Authoring.Generators.Tests/Harness/TestModels.cs#", StringComparison.Ordinal));
        // One [Model] per seed, and every seed compiles unmutated with no failure and no model error.
        foreach (var seed in Corpus.Seeds)
        {
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(seed.Text, @"\[Model[\](]"));
            var r = FuzzRunner.Run(new Mutant(0, 0, seed, [], seed.Text), FuzzOptions.Default);
            Assert.False(r.Failed, r.Report());
            Assert.True(r.Outcome is Outcome.Clean or Outcome.HardwareHints, $"{seed.Name}: {r.Outcome}");
        }
    }

    [Fact]
    public void MutantsAreAPureFunctionOfSeedAndIndex()
    {
        var a = Enumerable.Range(0, 40).Select(i => Mutator.Make(Corpus.Seeds, 7, i)).ToList();
        var b = Enumerable.Range(0, 40).Select(i => Mutator.Make(Corpus.Seeds, 7, i)).ToList();
        Assert.Equal(a.Select(m => m.Text), b.Select(m => m.Text));
        Assert.Equal(a.Select(m => m.Describe()), b.Select(m => m.Describe()));
        // Mutant 17 alone is mutant 17 of the run.
        Assert.Equal(a[17].Text, Mutator.Make(Corpus.Seeds, 7, 17).Text);
        Assert.NotEqual(a[17].Text, Mutator.Make(Corpus.Seeds, 8, 17).Text);
    }

    [Fact]
    public void EveryKindOfEditHappens()
    {
        var all = string.Join("\n", Enumerable.Range(0, 400).SelectMany(i => Mutator.Make(Corpus.Seeds, 3, i).Mutations));
        foreach (var word in new[] { "delete '", "swap '", "truncate at", "duplicate line", "-> int.MaxValue", "-> 2147483647", "-> int.MinValue",
                                     "-> 0", "-> -1", "-> float.NaN", "-> 3.4028235E+38f", "rename layer", "everywhere", "in its declaration only" })
            Assert.Contains(word, all);
    }

    [Fact]
    public void TheHarnessCatchesAnUnlocatedDiagnosticAndAHang()
    {
        // Mutation check of the harness: the location rule rejects a diagnostic outside the text, and the
        // watchdog turns a run that never checks its token into a failure instead of a hung test.
        var seed = Corpus.Seeds[0];
        var r = FuzzRunner.Run(new Mutant(0, 0, seed, [], seed.Text), FuzzOptions.Default);
        Assert.False(r.Failed);
        var stuck = FuzzRunner.WatchForTest(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(200), () => Thread.Sleep(5_000));
        Assert.Equal("Stuck", stuck);
        var stops = FuzzRunner.WatchForTest(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5), ct => ct.WaitHandle.WaitOne(5_000));
        Assert.Equal("Cancelled", stops);
        Assert.False(FuzzRunner.IsLocatedInside(Microsoft.CodeAnalysis.Location.None, 100));
    }
}
