// Peak memory of one attention call (the benchmarks' cases), each measured in a fresh process so that no
// earlier call's freed-but-resident memory (glibc's heap, the .NET GC's segments) hides new allocations:
// the child warms the code up on a small problem, makes the inputs, then resets the kernel's resident-set
// high-water mark (/proc/self/clear_refs, 5) and reports VmHWM minus the resident set before the call.
// That counts everything the call touches that was not there before: for TorchSharp every temporary and
// result (and autograd's saved tensors), for ours the output, gradients, saved statistics, workspace and
// per-thread tiles (allocated inside the measurement on purpose). Linux only.
//
//   dotnet Authoring.Benchmarks.dll --attention-memory [case substring ...]
using System.Diagnostics;
using System.Globalization;
using Authoring.Oracle.Tests;
using TorchSharp;

namespace Authoring.Benchmarks;

/// <summary>Runs the attention memory measurements and prints a markdown table.</summary>
public static class AttentionMemoryProbe
{
    /// <summary>The measured cases: implementation and pass.</summary>
    public static readonly string[] Cases =
    [
        "TorchSdpaForward", "TorchSdpaForwardBackward", "OursSoftmaxForward", "OursSoftmaxForwardBackward",
        "TorchLinearForward", "TorchLinearForwardBackward", "OursLinearForward", "OursLinearForwardBackward",
    ];

    static readonly int[] Lengths = [1024, 4096, 16384];

    /// <summary>Parent: one child process per (case, causal, N); prints one table row per case and mask.</summary>
    public static int Report(IReadOnlyList<string> filters)
    {
        var cases = Cases.Where(c => filters.Count == 0 || filters.Any(f => c.Contains(f, StringComparison.OrdinalIgnoreCase))).ToList();
        Console.WriteLine($"Peak bytes of one call, d = {AttentionBenchmark.HeadSize}, one head, batch 1 (MB = 2^20 bytes); load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine("Growth: (MB at 16384 - MB at 4096) / (MB at 4096 - MB at 1024); 4 = linear in N, 16 = quadratic.");
        Console.WriteLine();
        Console.WriteLine("| case | causal | " + string.Join(" | ", Lengths.Select(n => $"N = {n} (MB)")) + " | growth |");
        Console.WriteLine("| --- | --- | " + string.Join(" | ", Lengths.Select(_ => "---:")) + " | ---: |");
        int status = 0;
        foreach (bool causal in new[] { false, true })
            foreach (var c in cases)
            {
                var mb = new List<double>();
                foreach (int n in Lengths)
                {
                    long? bytes = RunChild(c, n, causal);
                    if (bytes is null) status = 1;
                    mb.Add(bytes is long b ? b / 1048576.0 : double.NaN);
                }
                // Growth: the increase from 4096 to 16384 over the increase from 1024 to 4096 (constant
                // overheads cancel): 4 when memory grows linearly in N, 16 when quadratically.
                double growth = (mb[2] - mb[1]) / (mb[1] - mb[0]);
                Console.WriteLine($"| {c} | {causal} | " + string.Join(" | ", mb.Select(m => m.ToString("F1", CultureInfo.InvariantCulture)))
                    + $" | {growth.ToString("F1", CultureInfo.InvariantCulture)} |");
            }
        return status;
    }

    static long? RunChild(string name, int n, bool causal)
    {
        string self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(AttentionMemoryProbe).Assembly.Location);
        foreach (var a in new[] { "--attention-memory-probe", name, n.ToString(CultureInfo.InvariantCulture), causal ? "1" : "0" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("peak_bytes ", StringComparison.Ordinal));
        if (p.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"{name} N={n} causal={causal}: probe failed ({p.ExitCode}): {error.Trim()}");
            return null;
        }
        return long.Parse(line["peak_bytes ".Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>Child: measures one case and prints "peak_bytes B".</summary>
    public static int Probe(string name, int n, bool causal)
    {
        long bytes = Measure(name, n, causal);
        Console.WriteLine($"peak_bytes {bytes.ToString(CultureInfo.InvariantCulture)}");
        return 0;
    }

    /// <summary>Resident-set growth of one call of case <paramref name="name"/> after a warm-up on a short sequence (JIT
    /// compilation, libtorch's lazy initialisation and thread pools). Meaningful in a fresh process only.</summary>
    public static long Measure(string name, int n, bool causal)
    {
        torch.set_num_threads(2);
        Run(name, 256, causal, measure: false);
        return Run(name, n, causal, measure: true);
    }

    static long Run(string name, int n, bool causal, bool measure)
    {
        var s = new Runtime.Cpu.AttentionShape(n, AttentionBenchmark.Heads, AttentionBenchmark.HeadSize);
        var ours = new OursAttention(s, causal, seed: 5, allocateOutputs: false);
        long[] shape = [1, n, s.Dim];
        using var scope = torch.NewDisposeScope();
        var q = torch.tensor(ours.Q, shape).requires_grad_(true);
        var k = torch.tensor(ours.K, shape).requires_grad_(true);
        var v = torch.tensor(ours.V, shape).requires_grad_(true);
        var dy = torch.tensor(ours.Dy, shape);
        long before = 0;
        if (measure)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            before = Status("VmRSS");
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        switch (name)
        {
            case "TorchSdpaForward": using (torch.no_grad()) TorchAttention.Softmax(q, k, v, s.Heads, causal); break;
            case "TorchSdpaForwardBackward": TorchAttention.Softmax(q, k, v, s.Heads, causal).backward(new[] { dy }); break;
            case "TorchLinearForward":
                using (torch.no_grad()) TorchAttention.Linear(q, k, v, s.Heads, causal, TorchFeatureMap.EluPlusOne);
                break;
            case "TorchLinearForwardBackward":
                TorchAttention.Linear(q, k, v, s.Heads, causal, TorchFeatureMap.EluPlusOne).backward(new[] { dy });
                break;
            case "OursSoftmaxForward": ours.Outputs(); ours.SoftmaxForward(); break;
            case "OursSoftmaxForwardBackward": ours.Outputs(); ours.SoftmaxForward(); ours.SoftmaxBackward(); break;
            case "OursLinearForward": ours.Outputs(); ours.LinearForward(); break;
            case "OursLinearForwardBackward": ours.Outputs(); ours.LinearForward(); ours.LinearBackward(); break;
            default: throw new ArgumentException($"Unknown case {name}; one of {string.Join(", ", Cases)}.");
        }
        long peak = measure ? Status("VmHWM") : 0;
        GC.KeepAlive(ours);
        return peak - before;
    }

    /// <summary>A /proc/self/status field in bytes.</summary>
    static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {field}.");
    }
}
