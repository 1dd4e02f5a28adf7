// Runs each benchmark once through its own setup and cleanup (no timing), at the smallest parameter
// values: the suite keeps compiling and every case, ours and TorchSharp's, keeps running.
using System.Reflection;
using Authoring.Benchmarks;
using BenchmarkDotNet.Attributes;

namespace Authoring.Bench.Tests;

public class BenchmarkSmokeTests
{
    public static TheoryData<string> Classes()
    {
        var data = new TheoryData<string>();
        foreach (var t in typeof(BenchConfig).Assembly.GetTypes())
            if (!t.IsAbstract && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
                data.Add(t.FullName!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void EveryBenchmarkRunsOnce(string typeName)
    {
        var type = typeof(BenchConfig).Assembly.GetType(typeName)!;
        var methods = type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null).ToList();
        Assert.NotEmpty(methods);
        var paramProps = type.GetProperties().Where(p => p.GetCustomAttribute<ParamsAttribute>() is not null).ToList();
        var instance = Activator.CreateInstance(type)!;
        foreach (var p in paramProps)
        {
            // The smallest case of each parameter keeps the run short.
            var values = p.GetCustomAttribute<ParamsAttribute>()!.Values;
            p.SetValue(instance, values.Min());
        }
        var setup = type.GetMethods().FirstOrDefault(m => m.GetCustomAttribute<GlobalSetupAttribute>() is not null);
        var cleanup = type.GetMethods().FirstOrDefault(m => m.GetCustomAttribute<GlobalCleanupAttribute>() is not null);
        setup?.Invoke(instance, null);
        try
        {
            foreach (var m in methods) m.Invoke(instance, null);
        }
        finally
        {
            cleanup?.Invoke(instance, null);
        }
    }

    public static TheoryData<string> BlockClasses()
    {
        var data = new TheoryData<string>();
        foreach (var t in typeof(BenchConfig).Assembly.GetTypes())
            if (!t.IsAbstract && t.IsSubclassOf(typeof(BlockBenchmark)))
                data.Add(t.FullName!);
        return data;
    }

    // A block benchmark compares like with like only when both sides have the same layers: as a cheap proxy,
    // the same number of trainable scalars (BatchNorm running statistics are buffers on both sides).
    [Theory]
    [MemberData(nameof(BlockClasses))]
    public void BlockTwinsHaveTheSameTrainableParameterCount(string typeName)
    {
        var bench = (BlockBenchmark)Activator.CreateInstance(typeof(BenchConfig).Assembly.GetType(typeName)!)!;
        bench.Batch = 1;
        bench.Setup();
        try
        {
            var (ours, torch) = bench.TrainableCounts;
            Assert.Equal(torch, ours);
        }
        finally
        {
            bench.Cleanup();
        }
    }

    // The attention memory probe (bench --attention-memory runs it in child processes), in-process here on
    // the shortest sequence: every case still runs. Its figure means little in a process that has run other
    // cases (freed memory stays resident and is reused; the resident set may even shrink a little between the
    // two readings), so it is only checked to be a plausible number.
    [Fact]
    public void AttentionMemoryProbeRunsEveryCase()
    {
        foreach (var name in AttentionMemoryProbe.Cases)
            foreach (bool causal in new[] { false, true })
                Assert.True(AttentionMemoryProbe.Measure(name, 1024, causal) > -(1L << 20), name);
    }
}

public class SpikingBenchmarkTests
{
    // The LIF benchmark compares like with like only if both sides compute the same layer: same spikes, bit for bit.
    [Fact]
    public void LifBenchmarkSidesProduceTheSameSpikes()
    {
        var bench = new LifBenchmarks { T = 8 };
        bench.Setup();
        try
        {
            long count = bench.OursForward();
            var torchSpikes = bench.TorchSpikes();
            Assert.Equal(torchSpikes, bench.Spikes);
            // A layer that never or always fires would time a degenerate case.
            double rate = count / (double)torchSpikes.Length;
            Assert.InRange(rate, 0.1, 0.6);
        }
        finally
        {
            bench.Cleanup();
        }
    }
}
