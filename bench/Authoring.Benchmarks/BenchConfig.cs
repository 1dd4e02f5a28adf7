// The suite's BenchmarkDotNet configuration. Always in-process: the benchmark project is already
// built (Release) with TorchSharp's native library patched for this system (build/TorchSharp.targets);
// an out-of-process toolchain would generate and build another project without that step.
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Authoring.Benchmarks;

/// <summary>Builds the config for a full run or a quick CI smoke run.</summary>
public static class BenchConfig
{
    /// <summary>Full: at least 20 timed iterations after warm-up (PEERS.md's method). Quick: 2 warm-up and
    /// 5 timed iterations of about 100 ms each.</summary>
    public static IConfig Create(bool quick)
    {
        var job = quick
            ? Job.Default.WithId("Quick").WithWarmupCount(2).WithIterationCount(5).WithLaunchCount(1)
                .WithIterationTime(TimeInterval.FromMilliseconds(100))
            : Job.Default.WithId("Full").WithMinIterationCount(20).WithLaunchCount(1);

        // The in-process toolchain gives up on a case after 5 minutes by default, aborting the whole run;
        // TorchSharp's causal linear attention at N = 16384 (attention benchmarks) takes seconds per call on a
        // quiet machine and over a minute on a busy one, times its warm-up and 20 iterations.
        var toolchain = new InProcessEmitToolchain(TimeSpan.FromMinutes(60), logOutput: true);
        return ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job.WithToolchain(toolchain).AsDefault())
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(StatisticColumn.Median, new GflopsColumn())
            .AddExporter(new FlopsTsvExporter());
    }
}
