// Runs one mutant through the generator (CSharpGeneratorDriver, as the compiler does) and the analyzers
// (CompilationWithAnalyzers, as the IDE does), in-process, and classifies what happened. Each run is on
// a worker thread under a watchdog, so a run that hangs or ignores cancellation becomes a failure of
// this mutant instead of a hung test. A failure records the stack where the generator first threw
// (a first-chance exception on the run's thread), so it can be attributed to a stage of the generator.
using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using Authoring.Analyzers;
using Authoring.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Fuzz.Tests;

/// <summary>What a mutant did. The first four are fine; the rest are failures.</summary>
public enum Outcome
{
    /// <summary>Valid model: code generated, no AUT or MDL diagnostic.</summary>
    Clean,
    /// <summary>Valid model with hardware hints (MDL warnings) only.</summary>
    HardwareHints,
    /// <summary>The generator reported model errors (AUTxxxx), each located in the source.</summary>
    ModelErrors,
    /// <summary>The source has C# errors of its own; the generator and analyzers stayed quiet or located what they said.</summary>
    CompilerErrors,
    /// <summary>Failure: the generator threw (CS8785, or the driver's exception).</summary>
    GeneratorCrash,
    /// <summary>Failure: the generator reported AUT0099, its internal error.</summary>
    InternalError,
    /// <summary>Failure: an analyzer threw (AD0001, the exception callback) or reported MDL0999.</summary>
    AnalyzerCrash,
    /// <summary>Failure: a diagnostic of the generator or the analyzers is not located inside the source.</summary>
    Unlocated,
    /// <summary>Failure: cancelled, the run did not stop within the bound.</summary>
    IgnoredCancellation,
    /// <summary>Failure: not cancelled, the run did not finish within the watchdog's limit.</summary>
    Hang,
}

/// <summary>Settings of a fuzz run.</summary>
/// <param name="CancelBound">How long a cancelled run may take to stop.</param>
/// <param name="Watchdog">How long an uncancelled run (generator or analyzers) may take.</param>
/// <param name="MaxCancelDelayMs">The cancellation run cancels after a delay drawn from [0, this] ms.</param>
/// <param name="SlowRunMs">A full generator run slower than this is run again and cancelled half-way through.</param>
public sealed record FuzzOptions(TimeSpan CancelBound, TimeSpan Watchdog, int MaxCancelDelayMs = 40, double SlowRunMs = 1000)
{
    /// <summary>Bounds for this 2-core machine under load: generous, since a real hang never ends.</summary>
    public static FuzzOptions Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
}

/// <summary>The result of one mutant.</summary>
public sealed record MutantResult(Mutant Mutant, Outcome Outcome, IReadOnlyList<(Outcome Kind, string Detail)> Failures, bool CancelHit)
{
    /// <summary>Milliseconds in the generator runs, the analyzers and the rest (compiling, classifying).</summary>
    public (double Generator, double Analyzers, double Other) Millis { get; init; }

    /// <summary>Milliseconds of the complete (uncancelled) generator run.</summary>
    public double FullRunMs { get; init; }

    /// <summary>Whether anything went wrong.</summary>
    public bool Failed => Failures.Count > 0;

    /// <summary>Everything needed to reproduce and understand a failure: seed, mutation, what failed, the source.</summary>
    public string Report() =>
        $"mutant {Mutant.Id} ({Mutant.Describe()}):\n" +
        string.Concat(Failures.Select(f => $"  {f.Kind}: {f.Detail}\n")) +
        "--- mutant source ---\n" + Mutant.Text + "\n--- end ---";
}

/// <summary>Runs mutants.</summary>
public static class FuzzRunner
{
    /// <summary>Where a mutant's file lives in the compilation; locations must point here.</summary>
    public const string SourcePath = "/fuzz/Model.cs";

    static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    static readonly Lazy<CSharpCompilation> Empty = new(() => CSharpCompilation.Create("FuzzModels",
        references: LoadReferences(),
        options: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable,
            specificDiagnosticOptions: new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress })));

    /// <summary>The framework plus Dsl, Runtime, Gpu and what they reference: what a model project compiles against.</summary>
    static ImmutableArray<MetadataReference> LoadReferences()
    {
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var asm in new[] { typeof(ModelAttribute).Assembly, typeof(Runtime.IModel).Assembly, typeof(Gpu.GpuKernels).Assembly })
        {
            paths.Add(asm.Location);
            foreach (var name in asm.GetReferencedAssemblies())
            {
                var loaded = Assembly.Load(name);
                if (!string.IsNullOrEmpty(loaded.Location)) paths.Add(loaded.Location);
            }
        }
        return paths.OrderBy(p => p, StringComparer.Ordinal).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }

    /// <summary>The compilation of a source at <see cref="SourcePath"/>.</summary>
    public static CSharpCompilation Compile(string source) =>
        Empty.Value.AddSyntaxTrees(CSharpSyntaxTree.ParseText(source, ParseOptions, SourcePath));

    [ThreadStatic] static List<string>? t_thrown;

    static FuzzRunner()
    {
        // Records, on the run's own thread only, where the generator or an analyzer first threw: AUT0099
        // carries only the exception's message, and the stack says which stage to fix.
        AppDomain.CurrentDomain.FirstChanceException += (_, e) =>
        {
            if (t_thrown is { } list && list.Count < 4 && e.Exception is not OperationCanceledException)
                list.Add($"{e.Exception.GetType().Name}: {e.Exception.Message}\n{OurFrames(new StackTrace(1, false))}");
        };
    }

    /// <summary>The frames of the generator and the analyzers (the rest is Roslyn's driver and the test).</summary>
    static string OurFrames(StackTrace trace)
    {
        var ours = trace.GetFrames().Select(f => f.GetMethod()).Where(m => m?.DeclaringType?.FullName is { } n
            && (n.StartsWith("Authoring.Generators", StringComparison.Ordinal) || n.StartsWith("Authoring.Analyzers", StringComparison.Ordinal)))
            .Select(m => $"    at {m!.DeclaringType!.FullName}.{m.Name}").Take(8);
        return string.Join("\n", ours);
    }

    /// <summary>Runs <paramref name="mutant"/>: a generator run cancelled after a random delay, a full generator run
    /// when that one was cut short, and the analyzers on the result.</summary>
    public static MutantResult Run(Mutant mutant, FuzzOptions options)
    {
        var clock = Stopwatch.StartNew();
        double generator = 0, analyzers = 0;
        var failures = new List<(Outcome Kind, string Detail)>();
        bool cancelHit = false;
        double fullMs = 0;
        MutantResult Done(Outcome? outcome) => new(mutant, outcome ?? failures[0].Kind, failures, cancelHit)
        {
            Millis = (generator, analyzers, clock.Elapsed.TotalMilliseconds - generator - analyzers),
            FullRunMs = fullMs,
        };

        var compilation = Compile(mutant.Text);
        var rng = new Random(mutant.Index ^ mutant.FuzzSeed);

        // 1. Cancelled after a short delay: the run must stop (or finish) within the bound.
        int delay = rng.Next(options.MaxCancelDelayMs + 1);
        long t0 = Stopwatch.GetTimestamp();
        var cancelled = RunGenerator(compilation, TimeSpan.FromMilliseconds(delay), options.CancelBound);
        cancelHit = cancelled.State != RunState.Completed;
        double generatorFirst = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (cancelled.State == RunState.Stuck)
        {
            failures.Add((Outcome.IgnoredCancellation, $"cancelled after {delay} ms, still running {options.CancelBound.TotalSeconds:0.#} s later{Thrown(cancelled)}"));
            return Done(null);
        }

        // 2. A full run (unless the first already completed): it must finish within the watchdog.
        var full = cancelled.State == RunState.Completed ? cancelled : RunGenerator(compilation, options.Watchdog, options.CancelBound);
        generator = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (full.State is RunState.Stuck or RunState.Cancelled)
        {
            failures.Add((full.State == RunState.Stuck ? Outcome.IgnoredCancellation : Outcome.Hang,
                $"an uncancelled run took over {options.Watchdog.TotalSeconds:0} s" +
                (full.State == RunState.Stuck ? $" and then ignored cancellation for {options.CancelBound.TotalSeconds:0.#} s" : "") + Thrown(full)));
            return Done(null);
        }
        fullMs = full == cancelled ? generator : Stopwatch.GetElapsedTime(t0).TotalMilliseconds - generatorFirst;
        // A slow run is where ignoring cancellation would freeze an editor: cancel a second one half-way through.
        if (fullMs > options.SlowRunMs)
        {
            var halfway = RunGenerator(compilation, TimeSpan.FromMilliseconds(fullMs / 2), options.CancelBound);
            generator = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (halfway.State == RunState.Stuck)
            {
                failures.Add((Outcome.IgnoredCancellation, $"a full run took {fullMs:0} ms; cancelled after {fullMs / 2:0} ms, a second run was still running {options.CancelBound.TotalSeconds:0.#} s later{Thrown(halfway)}"));
                return Done(null);
            }
        }
        if (full.Exception is { } ex)
            failures.Add((Outcome.GeneratorCrash, $"the driver threw {ex.GetType().Name}: {ex.Message}{Thrown(full)}"));

        var diagnostics = full.Diagnostics;
        foreach (var d in diagnostics)
        {
            if (d.Id == "CS8785" || d.Id == "CS8784") failures.Add((Outcome.GeneratorCrash, d.ToString() + Thrown(full)));
            else if (d.Id == "AUT0099") failures.Add((Outcome.InternalError, d.ToString() + Thrown(full)));
        }

        // 3. The analyzers. They read only the [Model] class through the generator's front end, so the input
        // compilation gives what the IDE shows; binding the generated code as well would triple the cost.
        long t1 = Stopwatch.GetTimestamp();
        var analyzed = RunAnalyzers(compilation, options.Watchdog);
        analyzers = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        if (analyzed.State != RunState.Completed)
            failures.Add((analyzed.State == RunState.Stuck ? Outcome.IgnoredCancellation : Outcome.Hang, $"the analyzers did not finish within {options.Watchdog.TotalSeconds:0} s{Thrown(analyzed)}"));
        foreach (var e in analyzed.AnalyzerExceptions) failures.Add((Outcome.AnalyzerCrash, e));
        foreach (var d in analyzed.Diagnostics)
            if (d.Id is "AD0001" or "MDL0999") failures.Add((Outcome.AnalyzerCrash, d.ToString() + Thrown(analyzed)));

        // 4. Every diagnostic of ours points into the mutant's text.
        var ours = diagnostics.Where(d => d.Id.StartsWith("AUT", StringComparison.Ordinal)).Concat(analyzed.Diagnostics.Where(d => d.Id.StartsWith("MDL", StringComparison.Ordinal))).ToList();
        foreach (var d in ours)
            if (!IsLocatedInside(d.Location, mutant.Text.Length)) failures.Add((Outcome.Unlocated, d.ToString()));

        if (failures.Count > 0) return Done(null);
        return Done(diagnostics.Any(d => d.Id.StartsWith("AUT", StringComparison.Ordinal)) ? Outcome.ModelErrors
            : analyzed.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS", StringComparison.Ordinal)) ? Outcome.CompilerErrors
            : analyzed.Diagnostics.Any(d => d.Id.StartsWith("MDL", StringComparison.Ordinal)) ? Outcome.HardwareHints
            : Outcome.Clean);
    }

    /// <summary>Inside the mutant's file and its text: a diagnostic without a location, or pointing elsewhere, cannot be clicked.</summary>
    internal static bool IsLocatedInside(Location loc, int length)
    {
        if (loc.Kind is not (LocationKind.SourceFile or LocationKind.ExternalFile)) return false;
        var span = loc.GetLineSpan();
        return span.Path == SourcePath && loc.SourceSpan.Start >= 0 && loc.SourceSpan.End <= length;
    }

    static string Thrown(RunResult r) => r.Thrown.Count == 0 ? "" : "\n  first thrown: " + string.Join("\n  then: ", r.Thrown);

    enum RunState { Completed, Cancelled, Stuck }

    sealed class RunResult
    {
        public RunState State;
        public Compilation? Output;
        public ImmutableArray<Diagnostic> Diagnostics = ImmutableArray<Diagnostic>.Empty;
        public Exception? Exception;
        public List<string> Thrown = [];
        public List<string> AnalyzerExceptions = [];
    }

    /// <summary>Runs <paramref name="work"/> on a fresh background thread with a token cancelled after <paramref name="cancelAfter"/>;
    /// Stuck when it has not returned <paramref name="bound"/> after the cancellation. A stuck thread is abandoned
    /// (nothing can stop it): it is a background thread, so it does not keep the process alive.</summary>
    static RunResult Watch(TimeSpan cancelAfter, TimeSpan bound, Action<RunResult, CancellationToken> work)
    {
        var r = new RunResult();
        using var cts = new CancellationTokenSource();
        var thread = new Thread(() =>
        {
            t_thrown = r.Thrown;
            try { work(r, cts.Token); }
            catch (OperationCanceledException) { r.State = RunState.Cancelled; }
            catch (Exception e) { r.Exception = e; }
            finally { t_thrown = null; }
        }, 16 << 20) { IsBackground = true, Name = "fuzz run" };
        thread.Start();
        if (!thread.Join(cancelAfter))
        {
            cts.Cancel();
            if (!thread.Join(bound))
            {
                r.State = RunState.Stuck;
                return r;
            }
        }
        return r;
    }

    /// <summary>The watchdog alone, for the harness's own tests: "Completed", "Cancelled" or "Stuck".</summary>
    internal static string WatchForTest(TimeSpan cancelAfter, TimeSpan bound, Action<CancellationToken> work) =>
        Watch(cancelAfter, bound, (r, ct) => { work(ct); ct.ThrowIfCancellationRequested(); r.State = RunState.Completed; }).State.ToString();

    /// <inheritdoc cref="WatchForTest(TimeSpan, TimeSpan, Action{CancellationToken})"/>
    internal static string WatchForTest(TimeSpan cancelAfter, TimeSpan bound, Action work) => WatchForTest(cancelAfter, bound, _ => work());

    static RunResult RunGenerator(CSharpCompilation compilation, TimeSpan cancelAfter, TimeSpan bound) =>
        Watch(cancelAfter, bound, (r, ct) =>
        {
            GeneratorDriver driver = CSharpGeneratorDriver.Create(
                [new ModelGenerator().AsSourceGenerator()], parseOptions: ParseOptions,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: false));
            driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics, ct);
            var result = driver.GetRunResult().Results.Single();
            if (result.Exception is OperationCanceledException) throw result.Exception;
            r.Output = output;
            r.Diagnostics = diagnostics;
            if (result.Exception is { } ex and not OperationCanceledException) r.Exception = ex;
            r.State = RunState.Completed;
        });

    static RunResult RunAnalyzers(Compilation compilation, TimeSpan watchdog) =>
        Watch(watchdog, TimeSpan.FromSeconds(5), (r, ct) =>
        {
            var exceptions = r.AnalyzerExceptions;
            var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty),
                (ex, analyzer, diagnostic) => { lock (exceptions) exceptions.Add($"{ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}"); },
                concurrentAnalysis: false, logAnalyzerExecutionTime: false);
            // All diagnostics, the compiler's included: one binding pass serves the analyzers and the classification.
            r.Diagnostics = compilation.WithAnalyzers([new ModelAnalyzer()], options).GetAllDiagnosticsAsync(ct).GetAwaiter().GetResult();
            r.State = RunState.Completed;
        });
}
