// The fuzz command (scripts/fuzz.sh): any number of mutants from a seed, counts per outcome, every
// failure written out in full (seed, index, mutation, what failed, the mutant's source).
//   dotnet Authoring.Fuzz.Tests.dll [--count N] [--seed S] [--first I] [--out DIR] [--list] [--sweep] [--parallel P]
// The mutants run in a worker process (this program with --worker): a generator run that ignores
// cancellation cannot be stopped, only abandoned, and keeps a core (and memory) busy, so after such a
// mutant the worker exits and a fresh one carries on from the next index. Exit code 0 when no mutant failed.
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
    // Runs its share and reports each mutant as one line; exits at once after a run it could not stop.
    var w = FuzzSession.Run(Make, count, options, r =>
    {
        Console.WriteLine(MutantSummary.Of(r).ToLine());
        if (r.Failed) Console.WriteLine("FAIL " + r.Report().Replace("\n", "\n     "));
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
int done = 0, restarts = 0;
string self = Environment.ProcessPath!, dll = typeof(FuzzSession).Assembly.Location;
while (done < count)
{
    var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
    if (!self.EndsWith("Authoring.Fuzz.Tests", StringComparison.Ordinal) && !self.EndsWith(".exe", StringComparison.Ordinal)) psi.ArgumentList.Add(dll);
    foreach (var a in new[] { "--worker", "--first", (first + done).ToString(CultureInfo.InvariantCulture), "--count", (count - done).ToString(CultureInfo.InvariantCulture),
                              "--seed", seed.ToString(CultureInfo.InvariantCulture), "--parallel", parallel.ToString(CultureInfo.InvariantCulture),
                              "--cancel-bound", options.CancelBound.TotalSeconds.ToString(CultureInfo.InvariantCulture),
                              "--watchdog", options.Watchdog.TotalSeconds.ToString(CultureInfo.InvariantCulture) })
        psi.ArgumentList.Add(a);
    if (sweep) psi.ArgumentList.Add("--sweep");
    using var p = Process.Start(psi)!;
    string? failure = null;
    for (string? line; (line = p.StandardOutput.ReadLine()) is not null;)
    {
        if (MutantSummary.Parse(line) is { } r)
        {
            if (failure is not null) { Report(failure); failure = null; }
            session.Add(r);
            done++;
            if (list) Console.WriteLine($"{r.Index,6} {r.Outcome,-20} {r.FullRunMs,6:0} ms  {r.Description}");
            if (done % 500 == 0) Console.WriteLine($"  {done}/{count}");
        }
        else if (line.StartsWith("FAIL ", StringComparison.Ordinal)) failure = line.Substring(5);
        else if (failure is not null) failure += "\n" + (line.StartsWith("     ", StringComparison.Ordinal) ? line.Substring(5) : line);
        else Console.WriteLine(line);
    }
    if (failure is not null) Report(failure);
    p.WaitForExit();
    if (p.ExitCode != 0 && p.ExitCode != 3) { Console.Error.WriteLine($"worker failed with exit code {p.ExitCode}"); return 2; }
    if (p.ExitCode == 3) restarts++;
}
session.Elapsed = clock.Elapsed;
Console.WriteLine(session.Summary().TrimEnd());
if (restarts > 0) Console.WriteLine($"  worker restarted {restarts} time(s) after runs it could not stop");
return session.Failures.Count == 0 ? 0 : 1;

void Report(string text)
{
    Console.WriteLine("FAIL " + text);
    if (outDir is null) return;
    // "mutant seed S, index I (...)": name the file after the index.
    int at = text.IndexOf("index ", StringComparison.Ordinal);
    string index = at < 0 ? Guid.NewGuid().ToString("N") : new string(text.Skip(at + 6).TakeWhile(char.IsDigit).ToArray());
    File.WriteAllText(Path.Combine(outDir, $"mutant-{(sweep ? "sweep" : seed.ToString(CultureInfo.InvariantCulture))}-{index}.txt"), text + "\n");
}
