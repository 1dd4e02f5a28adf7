// A run over many mutants: counts per outcome, the failures in full, and a summary table that the test
// and the fuzz command print alike. A run that ignored cancellation leaves its thread running (nothing
// can stop a thread in .NET), so a session stops at the first such mutant: the test fails there, and the
// fuzz command restarts its worker process after it (Program.cs).
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Authoring.Fuzz.Tests;

/// <summary>What the counts need of one mutant; one line of text, so a worker process can report it.</summary>
public sealed record MutantSummary(int Index, Outcome Outcome, IReadOnlyList<Outcome> FailureKinds, bool CancelHit,
    double GeneratorMs, double AnalyzerMs, double OtherMs, double FullRunMs, string Description)
{
    /// <summary>The summary of a result.</summary>
    public static MutantSummary Of(MutantResult r) => new(r.Mutant.Index, r.Outcome, r.Failures.Select(f => f.Kind).Distinct().ToList(), r.CancelHit,
        r.Millis.Generator, r.Millis.Analyzers, r.Millis.Other, r.FullRunMs, $"{r.Mutant.Id}: {r.Mutant.Describe()}");

    /// <summary>Whether the run was left running (its thread could not be stopped).</summary>
    public bool Stuck => FailureKinds.Contains(Outcome.IgnoredCancellation) || FailureKinds.Contains(Outcome.Hang);

    const string Prefix = "#R ";

    /// <summary>One line: "#R index outcome kinds cancelHit gen ana other full description".</summary>
    public string ToLine() => string.Create(CultureInfo.InvariantCulture,
        $"{Prefix}{Index} {Outcome} {(FailureKinds.Count == 0 ? "-" : string.Join(",", FailureKinds))} {(CancelHit ? 1 : 0)} {GeneratorMs:0.#} {AnalyzerMs:0.#} {OtherMs:0.#} {FullRunMs:0.#} {Description}");

    /// <summary>Parses <see cref="ToLine"/>; null for any other line.</summary>
    public static MutantSummary? Parse(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var p = line.Substring(Prefix.Length).Split(' ', 9);
        double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        return new MutantSummary(int.Parse(p[0], CultureInfo.InvariantCulture), Enum.Parse<Outcome>(p[1]),
            p[2] == "-" ? [] : p[2].Split(',').Select(Enum.Parse<Outcome>).ToList(), p[3] == "1", D(p[4]), D(p[5]), D(p[6]), D(p[7]), p[8]);
    }
}

/// <summary>Counts and failures of a run of mutants.</summary>
public sealed class FuzzSession
{
    readonly Dictionary<Outcome, int> _outcomes = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0);
    readonly Dictionary<Outcome, int> _failureKinds = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0);
    double _generatorMs, _analyzerMs, _otherMs;

    /// <summary>Wall time of the run (set by whoever runs it).</summary>
    public TimeSpan Elapsed { get; set; }
    /// <summary>Mutants run.</summary>
    public int Count { get; private set; }
    /// <summary>Runs whose cancellation arrived before they finished (they then had to stop in time).</summary>
    public int CancelHits { get; private set; }
    /// <summary>Every failing mutant's summary, in index order.</summary>
    public List<MutantSummary> Failures { get; } = [];
    /// <summary>Full reports (seed, mutation, failures, source) of the failures this process ran.</summary>
    public List<string> Reports { get; } = [];
    /// <summary>The slowest complete generator run.</summary>
    public MutantSummary? Slowest { get; private set; }
    /// <summary>Set when the session stopped early at a run it could not stop.</summary>
    public MutantSummary? StoppedAt { get; private set; }

    /// <summary>Runs mutants <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1 of <paramref name="seed"/>.</summary>
    public static FuzzSession Run(int seed, int count, FuzzOptions options, int first = 0, Action<MutantResult>? onEach = null, int parallel = 1)
    {
        var corpus = Corpus.Seeds;
        return Run(k => Mutator.Make(corpus, seed, first + k), count, options, onEach, parallel);
    }

    /// <summary>Runs the given mutants (<paramref name="make"/> of 0 .. <paramref name="count"/> - 1), <paramref name="parallel"/>
    /// at a time, reporting them in index order; stops at the first one whose run could not be stopped.</summary>
    public static FuzzSession Run(Func<int, Mutant> make, int count, FuzzOptions options, Action<MutantResult>? onEach = null, int parallel = 1)
    {
        var s = new FuzzSession();
        var clock = Stopwatch.StartNew();
        var results = new MutantResult?[count];
        int next = 0, reported = 0;
        var gate = new object();
        void Worker()
        {
            for (int k; s.StoppedAt is null && (k = Interlocked.Increment(ref next) - 1) < count;)
            {
                results[k] = FuzzRunner.Run(make(k), options);
                lock (gate)
                    while (s.StoppedAt is null && reported < count && results[reported] is { } r)
                    {
                        var summary = s.Add(r);
                        onEach?.Invoke(r);
                        results[reported++] = null;
                        if (summary.Stuck) s.StoppedAt = summary;
                    }
            }
        }
        var threads = Enumerable.Range(0, Math.Max(1, parallel)).Select(_ => new Thread(Worker, 16 << 20)).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        s.Elapsed = clock.Elapsed;
        return s;
    }

    MutantSummary Add(MutantResult r)
    {
        var summary = MutantSummary.Of(r);
        Add(summary);
        if (r.Failed) Reports.Add(r.Report());
        return summary;
    }

    /// <summary>Counts one mutant (also from a worker process's line).</summary>
    public void Add(MutantSummary r)
    {
        Count++;
        if (r.FullRunMs > (Slowest?.FullRunMs ?? 0)) Slowest = r;
        _generatorMs += r.GeneratorMs;
        _analyzerMs += r.AnalyzerMs;
        _otherMs += r.OtherMs;
        if (r.CancelHit) CancelHits++;
        _outcomes[r.Outcome]++;
        foreach (var kind in r.FailureKinds) _failureKinds[kind]++;
        if (r.FailureKinds.Count > 0) Failures.Add(r);
    }

    /// <summary>Mutants whose primary outcome was <paramref name="o"/>.</summary>
    public int this[Outcome o] => _outcomes[o];

    /// <summary>The counts as a small table.</summary>
    public string Summary()
    {
        var b = new StringBuilder();
        b.AppendLine($"{Count} mutants of {Corpus.Seeds.Count} models in {Elapsed.TotalSeconds:0.0} s " +
                     $"({(Count == 0 ? 0 : Elapsed.TotalMilliseconds / Count):0} ms each); cancellation arrived mid-run in {CancelHits}");
        if (Count > 0)
            b.AppendLine($"  per mutant: generator {_generatorMs / Count:0} ms, analyzers {_analyzerMs / Count:0} ms, compiling and classifying {_otherMs / Count:0} ms; " +
                         $"slowest complete generator run {Slowest?.FullRunMs:0} ms ({Slowest?.Description})");
        foreach (var o in Enum.GetValues<Outcome>())
        {
            bool failure = o >= Outcome.GeneratorCrash;
            b.AppendLine($"  {o,-20} {_outcomes[o],7}{(failure && _failureKinds[o] != _outcomes[o] ? $"   (in {_failureKinds[o]} mutants counting secondary failures)" : "")}");
        }
        b.AppendLine($"  {"failures",-20} {Failures.Count,7}");
        if (StoppedAt is { } at) b.AppendLine($"  stopped early: {at.Description} could not be stopped");
        return b.ToString();
    }
}
