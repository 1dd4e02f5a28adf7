// The fuzz command (scripts/fuzz.sh): any number of mutants from a seed, counts per outcome, every
// failure written out in full (seed, index, mutation, what failed, the mutant's source).
//   dotnet Authoring.Fuzz.Tests.dll [--count N] [--seed S] [--first I] [--out DIR] [--list] [--sweep] [--parallel P]
// The mutants run in a worker process (this program with --worker): a generator run that ignores
// cancellation cannot be stopped, only abandoned, and keeps a core (and memory) busy, so after such a
// mutant the worker exits, the mutant runs once more alone in a fresh worker to confirm (a run starved
// by a loaded machine is not a hang), and a fresh worker carries on. Exit code 0 when no mutant failed.
using System.Diagnostics;
using System.Globalization;
using Authoring.Fuzz.Tests;

int count = 10_000, seed = 1, first = 0;
string? outDir = null;
bool list = false, sweep = false, worker = false, countGiven = false;
int parallel = Math.Clamp(Environment.ProcessorCount, 1, 4);
var options = FuzzOptions.Default;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--count": count = int.Parse(Next(), CultureInfo.InvariantCulture); countGiven = true; break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--first": first = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--out": outDir = Next(); break;
        case "--list": list = true; break;
        case "--sweep": sweep = true; break;
        case "--worker": worker = true; break;
        case "--confirm": options = options with { FullRunFirst = true }; break;
        case "--parallel": parallel = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--cancel-bound": options = options with { CancelBound = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) }; break;
        case "--watchdog": options = options with { Watchdog = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) }; break;
        case "-h" or "--help":
            Console.WriteLine("fuzz [--count N (10000)] [--seed S (1)] [--first I (0)] [--out DIR] [--list] [--parallel P (cores, at most 4)]\n" +
                              "     [--sweep: every number of every model to each extreme, instead of random mutants]\n" +
                              "     [--cancel-bound SECONDS (5)] [--watchdog SECONDS (60)]");
            return 0;
        default: Console.Error.WriteLine($"unknown argument {args[i]} (try --help)"); return 2;
    }
}

var swept = sweep ? Mutator.NumberSweep(Corpus.Seeds).ToList() : null;
if (swept is not null) count = Math.Min(countGiven ? count : int.MaxValue, swept.Count - first);
Mutant Make(int k) => swept is not null ? swept[first + k] : Mutator.Make(Corpus.Seeds, seed, first + k);

if (worker)
{
    // Runs its share, reporting each mutant as its failure report (if any) then one summary line; exits at once
    // after a run it could not stop.
    var w = FuzzSession.Run(Make, count, options, r =>
    {
        if (r.Failed) Console.WriteLine("FAIL " + r.Report().Replace("\n", "\n     "));
        Console.WriteLine(MutantSummary.Of(r).ToLine());
        Console.Out.Flush();
    }, parallel);
    Console.Out.Flush();
    Environment.Exit(w.StoppedAt is null ? 0 : 3);
}

Console.WriteLine(swept is not null
    ? $"sweeping every number of {Corpus.Seeds.Count} models to each extreme: {count} mutants, {parallel} at a time"
    : $"fuzzing the generator and the analyzers: {count} mutants, seed {seed}, from index {first}, {Corpus.Seeds.Count} models, {parallel} at a time");
if (outDir is not null) Directory.CreateDirectory(outDir);
var session = new FuzzSession();
var clock = Stopwatch.StartNew();
int done = 0, confirmed = 0, cleared = 0;
string self = Environment.ProcessPath!, dll = typeof(FuzzSession).Assembly.Location;
while (done < count)
{
    var (stuck, stuckReport, exit) = RunWorker(first + done, count - done, confirm: false);
    if (stuck is null)
    {
        if (exit != 0) { Console.Error.WriteLine($"worker failed with exit code {exit}"); return 2; }
        continue;
    }
    // The mutant alone again, in a fresh worker, its full run first so that the JIT has compiled its paths.
    var (again, againReport, _) = RunWorker(stuck.Index, 1, confirm: true);
    if (again is null) { cleared++; Console.WriteLine($"  mutant {stuck.Index} did not stop in time once, but did when run again alone"); }
    else { confirmed++; Take(again, againReport); }
}
session.Elapsed = clock.Elapsed;
Console.WriteLine(session.Summary().TrimEnd());
if (confirmed + cleared > 0)
    Console.WriteLine($"  runs that did not stop in time: {confirmed} confirmed by a second run alone, {cleared} stopped the second time (not counted as failures)");
return session.Failures.Count == 0 ? 0 : 1;

void Take(MutantSummary r, string? report)
{
    session.Add(r);
    done++;
    if (report is not null) Report(report);
    if (list) Console.WriteLine($"{r.Index,6} {r.Outcome,-20} {r.FullRunMs,6:0} ms  {r.Description}");
    if (done % 500 == 0) Console.WriteLine($"  {done}/{count}");
}

// Runs a worker over [from, from + n), taking each result as it comes; returns the stuck mutant it stopped at, if any
// (not taken: the caller confirms it).
(MutantSummary? Stuck, string? Report, int Exit) RunWorker(int from, int n, bool confirm)
{
    var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
    if (!self.EndsWith("Authoring.Fuzz.Tests", StringComparison.Ordinal) && !self.EndsWith(".exe", StringComparison.Ordinal)) psi.ArgumentList.Add(dll);
    foreach (var a in new[] { "--worker", "--first", from.ToString(CultureInfo.InvariantCulture), "--count", n.ToString(CultureInfo.InvariantCulture),
                              "--seed", seed.ToString(CultureInfo.InvariantCulture), "--parallel", parallel.ToString(CultureInfo.InvariantCulture),
                              "--cancel-bound", options.CancelBound.TotalSeconds.ToString(CultureInfo.InvariantCulture),
                              "--watchdog", options.Watchdog.TotalSeconds.ToString(CultureInfo.InvariantCulture) })
        psi.ArgumentList.Add(a);
    if (sweep) psi.ArgumentList.Add("--sweep");
    if (confirm) psi.ArgumentList.Add("--confirm");
    using var p = Process.Start(psi)!;
    string? failure = null;
    MutantSummary? stuck = null;
    string? stuckReport = null;
    for (string? line; (line = p.StandardOutput.ReadLine()) is not null;)
    {
        if (MutantSummary.Parse(line) is { } r)
        {
            if (r.Stuck) { stuck = r; stuckReport = failure; }
            else Take(r, failure);
            failure = null;
        }
        else if (line.StartsWith("FAIL ", StringComparison.Ordinal)) failure = line.Substring(5);
        else if (failure is not null) failure += "\n" + (line.StartsWith("     ", StringComparison.Ordinal) ? line.Substring(5) : line);
        else Console.WriteLine(line);
    }
    p.WaitForExit();
    return (stuck, stuckReport, p.ExitCode);
}

void Report(string text)
{
    Console.WriteLine("FAIL " + text);
    if (outDir is null) return;
    // "mutant seed S, index I (...)": name the file after the index.
    int at = text.IndexOf("index ", StringComparison.Ordinal);
    string index = at < 0 ? Guid.NewGuid().ToString("N") : new string(text.Skip(at + 6).TakeWhile(char.IsDigit).ToArray());
    File.WriteAllText(Path.Combine(outDir, $"mutant-{(sweep ? "sweep" : seed.ToString(CultureInfo.InvariantCulture))}-{index}.txt"), text + "\n");
}
