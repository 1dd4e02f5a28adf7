// A/B timing for kernel work on a shared machine: `Authoring.Benchmarks --lab NAME [rounds]`. Cases
// of one experiment run interleaved, round after round, in one process, so load from other jobs
// falls on all of them alike; each case reports its median over the rounds (and the best), in
// GFLOP/s and as a percent of the FMA peak measured in the same rounds. The load average is printed
// before and after. Figures from here are indicative; BenchmarkDotNet classes are the record.
// On a loaded machine wall time mostly measures the other jobs, so every case also records CPU time:
// single-thread cases (names ending "1t") run inline on the calling thread and are timed by its own
// CPU clock, which the scheduler's time slices for other processes do not advance; all-thread
// cases are timed by the process CPU clock (workers spinning at barriers count, as they cost).
// "cpu GFLOP/s" of a 1t case against "peak 1t" is the kernel's efficiency, nearly load-independent.
using System.Diagnostics;
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu;

namespace Authoring.Benchmarks;

/// <summary>Interleaved A/B timing of kernel cases (see the file header).</summary>
public static class Lab
{
    /// <summary>One timed case: a name, its flops per call (0: not counted) and the call.</summary>
    internal sealed record Case(string Name, double Flops, Action Body)
    {
        /// <summary>Runs inline on the calling thread (nested kernels take their serial paths).</summary>
        public bool SingleThread => Name.EndsWith("1t", StringComparison.Ordinal);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec ts);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct TimeSpec { public long Sec, Nsec; }

    const int ProcessCpu = 2, ThreadCpu = 3;

    static double CpuNs(int clock) => ClockGetTime(clock, out var t) == 0 ? t.Sec * 1e9 + t.Nsec : double.NaN;

    struct Inline : IParallelJob
    {
        public Action Body;
        public void Run(int index) => Body();
    }

    /// <summary>Runs the experiment named <paramref name="args"/>[0] for <paramref name="args"/>[1] rounds (default 7).</summary>
    public static int Run(string[] args)
    {
        string name = args.Length > 0 ? args[0] : "peak";
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7;
        var cases = new List<Case>();
        AddPeak(cases);
        var experiments = LabCases.All;
        if (!experiments.TryGetValue(name, out var add))
        {
            Console.Error.WriteLine($"unknown experiment '{name}'; known: {string.Join(", ", experiments.Keys)}");
            return 2;
        }
        add(cases);
        // Optional third argument: keep only the cases whose name contains it (and the peak), e.g. for a profiler.
        if (args.Length > 2) cases.RemoveAll(c => !c.Name.StartsWith("peak", StringComparison.Ordinal) && !c.Name.Contains(args[2], StringComparison.Ordinal));
        Console.WriteLine($"lab {name}: {rounds} rounds, Vector512 accelerated: {Vector512.IsHardwareAccelerated}, Avx512F: {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, threads {WorkerPool.ThreadCount}");
        Console.WriteLine($"load average before: {LoadAverage()}");
        for (int w = 0; w < 3; w++) foreach (var c in cases) TimeOne(c); // warm-up: JIT tiers, scratch buffers
        var times = cases.Select(_ => new List<double>()).ToArray();
        var cpu = cases.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < cases.Count; i++)
            {
                var (wall, c) = TimeOne(cases[i]);
                times[i].Add(wall);
                cpu[i].Add(c);
            }
        Console.WriteLine($"load average after:  {LoadAverage()}");
        static double Median(List<double> l) { var t = l.OrderBy(x => x).ToArray(); return t[t.Length / 2]; }
        double peak1 = 0, peakAll = 0, cpuPeak1 = 0, cpuPeakAll = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            if (cases[i].Name == "peak 1t") { peak1 = cases[i].Flops / Median(times[i]); cpuPeak1 = cases[i].Flops / Median(cpu[i]); }
            if (cases[i].Name == "peak all") { peakAll = cases[i].Flops / Median(times[i]); cpuPeakAll = cases[i].Flops / Median(cpu[i]); }
        }
        Console.WriteLine($"{"case",-52} {"median us",10} {"best us",10} {"GFLOP/s",8} {"%peak",6} {"cpu us",10} {"cpu GF/s",8} {"%cpupk",6}");
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            double median = Median(times[i]), best = times[i].Min(), cpuMedian = Median(cpu[i]);
            double gf = c.Flops > 0 ? c.Flops / median : double.NaN, cgf = c.Flops > 0 ? c.Flops / cpuMedian : double.NaN;
            double pct = 100 * gf / (c.SingleThread ? peak1 : peakAll);
            // CPU time of an all-thread case is summed over threads: compare with the per-core peak times the threads.
            double cpct = 100 * cgf / (c.SingleThread ? cpuPeak1 : cpuPeakAll);
            Console.WriteLine($"{c.Name,-52} {median * 1e-3,10:F1} {best * 1e-3,10:F1} {gf,8:F1} {pct,6:F1} {cpuMedian * 1e-3,10:F1} {cgf,8:F1} {cpct,6:F1}");
        }
        Console.WriteLine($"(wall peak: 1t {peak1:F1}, all {peakAll:F1} GFLOP/s; cpu-time peak: 1t {cpuPeak1:F1}, all {cpuPeakAll:F1} GFLOP/s per cpu-second)");
        return 0;
    }

    /// <summary>Wall and CPU nanoseconds per call: calls repeated until about 40 ms have passed.</summary>
    static (double Wall, double Cpu) TimeOne(Case c)
    {
        int clock = c.SingleThread ? ThreadCpu : ProcessCpu;
        var job = new Inline { Body = c.Body };
        double cpu0 = CpuNs(clock);
        var sw = Stopwatch.StartNew();
        int calls = 0;
        do
        {
            if (c.SingleThread) WorkerPool.For(1, ref job); // count 1 runs inline, marked as inside a job
            else c.Body();
            calls++;
        } while (sw.ElapsedTicks < Stopwatch.Frequency / 25);
        double wall = sw.Elapsed.TotalNanoseconds;
        return (wall / calls, (CpuNs(clock) - cpu0) / calls);
    }

    static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); }
        catch (IOException) { return "?"; }
    }

    static void AddPeak(List<Case> cases)
    {
        var peak1 = new PeakBenchmarks { Threads = 1 };
        var peak2 = new PeakBenchmarks { Threads = WorkerPool.ThreadCount };
        bool wide = Vector512.IsHardwareAccelerated;
        double per = (double)(1 << 20) * 12 * 2 * (wide ? 16 : 8);
        cases.Add(new("peak 1t", per, wide ? () => peak1.Fma512() : () => peak1.Fma256()));
        cases.Add(new("peak all", per * WorkerPool.ThreadCount, wide ? () => peak2.Fma512() : () => peak2.Fma256()));
    }

}
