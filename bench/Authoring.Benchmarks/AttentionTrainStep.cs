// Time and peak memory of one training step (forward, per-token cross-entropy, backward) of a small token model
// (Models/AttentionTokenModels.cs: embedding, one TransformerBlock with d = 64 and one head, per-token logits) at
// batch 1 and N = 1024, 4096, 16384, with linear attention against softmax attention. Each (kind, N) runs in a fresh
// process, as AttentionMemoryProbe does: the child makes the model and its inputs, resets the resident-set high-water
// mark (/proc/self/clear_refs, 5), then runs the steps; peak bytes are VmHWM minus the resident set before the first
// step, so they count the step's arena (activations, saved statistics, gradients), workspaces and per-thread tiles,
// plus the JIT's first-call code, which is the same at every N and cancels in the growth factor. Linux only.
//
//   dotnet Authoring.Benchmarks.dll --attention-trainstep [N ...] [--steps S]
using System.Diagnostics;
using System.Globalization;
using Authoring.Benchmarks.Models;
using Authoring.Runtime;

namespace Authoring.Benchmarks;

/// <summary>The training-step scaling table of linear against softmax attention.</summary>
public static class AttentionTrainStep
{
    static readonly int[] DefaultLengths = [1024, 4096, 16384];
    static readonly string[] Kinds = ["linear", "softmax"];
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Parent: one child process per (kind, N); prints a markdown table with growth factors.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        int steps = 5;
        var lengths = new List<int>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--steps" && i + 1 < args.Count) steps = int.Parse(args[++i], Inv);
            else lengths.Add(int.Parse(args[i], Inv));
        }
        if (lengths.Count == 0) lengths.AddRange(DefaultLengths);
        Console.WriteLine($"One training step (forward, cross-entropy over every token, backward; no optimizer), batch 1, d = 64, one head, " +
            $"median of {steps} steps after one warm-up step; peak = resident-set growth over the first and timed steps (MB = 2^20 bytes); " +
            $"{Environment.ProcessorCount} cores; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("Growth: the ratio from one N to the next (N x 4): 4 = linear in N, 16 = quadratic. Memory growth uses differences, " +
            "(MB at 4N - MB at N) / (MB at N - MB at N/4), so constant overheads cancel (from the third N on).");
        Console.WriteLine();
        Console.WriteLine("| attention | " + string.Join(" | ", lengths.Select(n => $"N = {n} ms")) + " | time growth | "
            + string.Join(" | ", lengths.Select(n => $"N = {n} MB")) + " | memory growth |");
        Console.WriteLine("| --- | " + string.Join(" | ", lengths.Select(_ => "---:")) + " | ---: | " + string.Join(" | ", lengths.Select(_ => "---:")) + " | ---: |");
        int status = 0;
        foreach (var kind in Kinds)
        {
            var ms = new List<double>();
            var mb = new List<double>();
            foreach (int n in lengths)
            {
                var r = RunChild(kind, n, steps);
                if (r is null) status = 1;
                ms.Add(r?.Ms ?? double.NaN);
                mb.Add(r is { } x ? x.Bytes / 1048576.0 : double.NaN);
            }
            string timeGrowth = string.Join(", ", Enumerable.Range(1, ms.Count - 1).Select(i => F1(ms[i] / ms[i - 1])));
            string memGrowth = string.Join(", ", Enumerable.Range(2, Math.Max(0, mb.Count - 2)).Select(i => F1((mb[i] - mb[i - 1]) / (mb[i - 1] - mb[i - 2]))));
            Console.WriteLine($"| {kind} | " + string.Join(" | ", ms.Select(F1)) + $" | {(timeGrowth.Length > 0 ? timeGrowth : "-")} | "
                + string.Join(" | ", mb.Select(F1)) + $" | {(memGrowth.Length > 0 ? memGrowth : "-")} |");
        }
        return status;
    }

    static string F1(double v) => v.ToString("F1", Inv);

    static (double Ms, long Bytes)? RunChild(string kind, int n, int steps)
    {
        string self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(AttentionTrainStep).Assembly.Location);
        foreach (var a in new[] { "--attention-trainstep-probe", kind, n.ToString(Inv), steps.ToString(Inv) })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("trainstep ", StringComparison.Ordinal));
        if (p.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"{kind} N={n}: probe failed ({p.ExitCode}): {error.Result.Trim()}");
            return null;
        }
        var f = line.Split(' ');
        return (double.Parse(f[1], Inv), long.Parse(f[2], Inv));
    }

    /// <summary>The model of a (kind, N) case.</summary>
    static IModel Create(string kind, int n) => (kind, n) switch
    {
        ("linear", 1024) => new LinearTokens1024(),
        ("linear", 4096) => new LinearTokens4096(),
        ("linear", 16384) => new LinearTokens16384(),
        ("softmax", 1024) => new SoftmaxTokens1024(),
        ("softmax", 4096) => new SoftmaxTokens4096(),
        ("softmax", 16384) => new SoftmaxTokens16384(),
        _ => throw new ArgumentException($"No token model for {kind} attention at N = {n}; kinds {string.Join(", ", Kinds)}, N in {string.Join(", ", DefaultLengths)}."),
    };

    /// <summary>Child: prints "trainstep MS BYTES" (median ms per step, peak bytes). Meaningful in a fresh process only.</summary>
    public static int Probe(string kind, int n, int steps)
    {
        var model = Create(kind, n);
        model.Parameters.Initialize(1);
        var rng = new Random(7);
        var tokens = new int[n];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            tokens[i] = rng.Next(32);
            labels[i] = rng.Next(32);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = Status("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5");
        Step(model, tokens, labels);
        var times = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Step(model, tokens, labels);
            times[s] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        long peak = Status("VmHWM") - before;
        Array.Sort(times);
        Console.WriteLine($"trainstep {times[steps / 2].ToString("R", Inv)} {peak.ToString(Inv)}");
        return 0;
    }

    static void Step(IModel model, int[] tokens, int[] labels)
    {
        var r = model.TrainStep(tokens, labels, 1);
        if (!float.IsFinite(r.Loss)) throw new InvalidOperationException($"{model.Name}: non-finite loss {r.Loss}");
    }

    /// <summary>A /proc/self/status field in bytes.</summary>
    static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], Inv) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {field}.");
    }
}
