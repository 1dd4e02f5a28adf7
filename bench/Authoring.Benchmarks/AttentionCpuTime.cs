// Single-thread CPU time per call of the attention cases, ours and TorchSharp's, for machines too busy for
// wall-clock figures: on a shared 2-core VM with a load average of 30 to 60, a benchmark's wall time mostly
// measures how often it was scheduled, while the CPU time a call consumes stays close to its cost on a quiet
// core. Both sides run on one thread (our WorkerPool with DOTNET_PROCESSOR_COUNT=1, libtorch with
// set_num_threads(1)) in a child process with tiered compilation off (fully optimised code from the first
// call); each figure is the median over calls of the process's CPU time (CLOCK_PROCESS_CPUTIME_ID).
// Indicative: the BenchmarkDotNet classes on a quiet machine give the real (2-thread, wall-clock) ratios.
//
//   dotnet Authoring.Benchmarks.dll --attention-cputime [N ...]      (default N: 1024 4096)
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Authoring.Oracle.Tests;
using Authoring.Runtime.Cpu;
using TorchSharp;

namespace Authoring.Benchmarks;

/// <summary>Runs the single-thread CPU-time comparison and prints a markdown table.</summary>
public static class AttentionCpuTime
{
    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec ts);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds, Nanoseconds;
    }

    const int ProcessCpuTime = 2;

    static double CpuMs()
    {
        if (ClockGetTime(ProcessCpuTime, out var t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds * 1e3 + t.Nanoseconds / 1e6;
    }

    /// <summary>Re-runs itself in a one-thread child (the pool's size is fixed at start-up), then measures.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        if (Environment.ProcessorCount != 1 || Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") != "0")
        {
            string self = Environment.ProcessPath!;
            var psi = new ProcessStartInfo(self);
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(AttentionCpuTime).Assembly.Location);
            psi.ArgumentList.Add("--attention-cputime");
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["DOTNET_PROCESSOR_COUNT"] = "1";
            psi.Environment["DOTNET_TieredCompilation"] = "0";
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        int[] lengths = args.Count > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1024, 4096];
        torch.set_num_threads(1);
        Console.WriteLine($"CPU ms per call, one thread each side, d = {AttentionBenchmark.HeadSize}, one head, batch 1; " +
            $"Vector512 {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "on" : "off")}; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine();
        Console.WriteLine("| comparison | N | causal | pass | ours (ms) | TorchSharp (ms) | TorchSharp / ours |");
        Console.WriteLine("| --- | ---: | --- | --- | ---: | ---: | ---: |");
        foreach (int n in lengths)
            foreach (bool causal in new[] { false, true })
            {
                var s = new AttentionShape(n, AttentionBenchmark.Heads, AttentionBenchmark.HeadSize);
                var ours = new OursAttention(s, causal, seed: 5);
                using var scope = torch.NewDisposeScope();
                long[] shape = [1, n, s.Dim];
                var q = torch.tensor(ours.Q, shape).requires_grad_(true);
                var k = torch.tensor(ours.K, shape).requires_grad_(true);
                var v = torch.tensor(ours.V, shape).requires_grad_(true);
                var dy = torch.tensor(ours.Dy, shape);
                Func<torch.Tensor> sdpa = () => TorchAttention.Softmax(q, k, v, s.Heads, causal);
                Func<torch.Tensor> linear = () => TorchAttention.Linear(q, k, v, s.Heads, causal, TorchFeatureMap.EluPlusOne);
                Row("softmax vs SDPA", n, causal, ours.SoftmaxForward, ours.SoftmaxBackward, sdpa, q, k, v, dy);
                Row("linear (elu+1) vs SDPA", n, causal, ours.LinearForward, ours.LinearBackward, sdpa, q, k, v, dy);
                Row("linear (elu+1) vs torch linear", n, causal, ours.LinearForward, ours.LinearBackward, linear, q, k, v, dy);
            }
        return 0;
    }

    static void Row(string what, int n, bool causal, Action fwd, Action bwd, Func<torch.Tensor> op,
        torch.Tensor q, torch.Tensor k, torch.Tensor v, torch.Tensor dy)
    {
        double oursF = Median(fwd), oursFb = Median(() => { fwd(); bwd(); });
        double torchF = Median(() =>
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            op();
        });
        double torchFb = Median(() =>
        {
            using var scope = torch.NewDisposeScope();
            q.grad?.zero_();
            k.grad?.zero_();
            v.grad?.zero_();
            op().backward(new[] { dy });
        });
        Line(what, n, causal, "forward", oursF, torchF);
        Line(what, n, causal, "forward+backward", oursFb, torchFb);
    }

    static void Line(string what, int n, bool causal, string pass, double ours, double theirs) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {n} | {causal} | {pass} | {ours:F3} | {theirs:F2} | {theirs / ours:F1} |"));

    /// <summary>Median CPU time of a call after two warm-up calls: at least 5 calls and at least 1 s of CPU in all.</summary>
    static double Median(Action call)
    {
        call();
        call();
        var times = new List<double>();
        double total = 0;
        while (times.Count < 5 || (total < 1000 && times.Count < 200))
        {
            double t0 = CpuMs();
            call();
            double t = CpuMs() - t0;
            times.Add(t);
            total += t;
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
