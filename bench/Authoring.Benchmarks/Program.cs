// Entry point of the benchmark suite: BenchmarkSwitcher over every benchmark class here, with our
// config (in-process, MemoryDiagnoser, GFLOP/s column, TSV export for bench/run.sh).
//
//   dotnet run -c Release --project bench/Authoring.Benchmarks -- --filter '*' [--quick]
//
// --quick: a few short iterations per case, for a CI smoke run (numbers are indicative only).
// --attention-memory [case ...]: peak bytes of the attention cases instead (each in a fresh process).
// --attention-trainstep [N ...] [--steps S]: ms and peak bytes of one training step of a token model, linear
//   against softmax attention (each in a fresh process, AttentionTrainStep.cs).
// --attention-cputime [N ...]: single-thread CPU time per call of the attention cases, ours and TorchSharp's.
// --spiking-epoch [ROUNDS [STEPS]]: the SpikingFashion sample's training step, ours and TorchSharp's, interleaved.
// --sample-epoch [NAME[,NAME...]|all [ROUNDS [STEPS]]]: each sample's training step against its TorchSharp twin (SampleEpoch.cs).
// --lab NAME [ROUNDS]: interleaved A/B timing of kernel variants instead (Lab.cs, LabCases.cs).
// Any other arguments are BenchmarkDotNet's own (--filter, --list flat, --artifacts DIR, ...).
using Authoring.Benchmarks;
using BenchmarkDotNet.Running;

// Peak memory of the attention cases, each in its own process (AttentionMemoryProbe.cs).
if (args is ["--attention-memory", .. var which])
{
    return AttentionMemoryProbe.Report(which);
}
if (args is ["--attention-trainstep", .. var trainArgs])
{
    return AttentionTrainStep.Run(trainArgs);
}
if (args is ["--attention-trainstep-probe", var stepKind, var stepN, var stepCount])
{
    var inv = System.Globalization.CultureInfo.InvariantCulture;
    return AttentionTrainStep.Probe(stepKind, int.Parse(stepN, inv), int.Parse(stepCount, inv));
}
if (args is ["--attention-cputime", .. var lengths])
{
    return AttentionCpuTime.Run(lengths);
}
if (args is ["--attention-memory-probe", var probeCase, var probeN, var probeCausal])
{
    return AttentionMemoryProbe.Probe(probeCase, int.Parse(probeN, System.Globalization.CultureInfo.InvariantCulture), probeCausal == "1");
}
if (args.Length > 0 && args[0] == "--lab") return Lab.Run(args[1..]);
if (args.Length > 0 && args[0] == "--sample-epoch") return SampleEpoch.Run(args[1..]);
if (args.Length > 0 && args[0] == "--spiking-epoch") return SpikingEpoch.Run(args[1..]);

bool quick = args.Contains("--quick");
string[] bdnArgs = args.Where(a => a != "--quick").ToArray();

var summaries = BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly)
    .Run(bdnArgs, BenchConfig.Create(quick))
    .ToArray();

// A TorchSharp baseline without results means the harness itself is broken (native libraries not
// loading, say): fail. Our own kernels may still be stubs; those are listed, not fatal.
int exitCode = 0;
foreach (var summary in summaries)
{
    foreach (var report in summary.Reports.Where(r => !r.Success || r.ResultStatistics is null))
    {
        bool baseline = report.BenchmarkCase.Descriptor.Baseline;
        Console.Error.WriteLine($"{(baseline ? "error" : "warning")}: no result for {report.BenchmarkCase.DisplayInfo}");
        if (baseline)
        {
            exitCode = 1;
        }
    }
    if (summary.HasCriticalValidationErrors)
    {
        exitCode = 1;
    }
}
return exitCode;
