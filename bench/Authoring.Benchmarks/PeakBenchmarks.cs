// The machine's fp32 peak, measured in the same run as the kernels so that "percent of peak" compares
// figures taken under the same load: independent FMA chains (enough of them to cover the FMA latency
// times the number of FMA pipes), nothing loaded or stored in the loop, on 1 thread and on every
// thread of the worker pool. Vector512 where .NET accelerates it, Vector256 always (on an AVX-512
// machine with DOTNET_EnableAVX512=0, the .NET 10 setting, the 512-bit cases do nothing and report NaN
// GFLOP/s, and the 256-bit ones are the peak).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace Authoring.Benchmarks;

/// <summary>FMA-loop peak: GFLOP/s column is the machine's fp32 peak at each vector width and thread count.</summary>
public class PeakBenchmarks : IFlopCount
{
    /// <summary>Loop trips per thread per call: 12 chains x 2 flops x lanes each.</summary>
    const int Iterations = 1 << 20;

    /// <summary>Threads taking part (1, or every thread of the pool).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <inheritdoc />
    public double Flops(BenchmarkCase benchmarkCase)
    {
        int threads = Convert.ToInt32(benchmarkCase.Parameters["Threads"]);
        bool wide = benchmarkCase.Descriptor.WorkloadMethod.Name.Contains("512");
        if (wide && !Vector512.IsHardwareAccelerated) return double.NaN;
        int lanes = wide ? 16 : 8;
        return (double)Iterations * 12 * 2 * lanes * Math.Min(threads, WorkerPool.ThreadCount);
    }

    /// <summary>12 independent Vector512 FMA chains per thread; nothing where Vector512 is not accelerated
    /// (emulated, it would measure the emulation).</summary>
    [Benchmark]
    public float Fma512()
    {
        if (!Vector512.IsHardwareAccelerated) return float.NaN;
        var job = new Job512();
        Run(ref job);
        return job.Sink;
    }

    /// <summary>12 independent Vector256 FMA chains per thread.</summary>
    [Benchmark]
    public float Fma256()
    {
        var job = new Job256();
        Run(ref job);
        return job.Sink;
    }

    void Run<TJob>(ref TJob job) where TJob : struct, IParallelJob
    {
        if (Threads == 1) job.Run(0);
        else WorkerPool.For(Math.Min(Threads, WorkerPool.ThreadCount), ref job);
    }

    struct Job512 : IParallelJob
    {
        public float Sink;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Run(int index)
        {
            var m = Vector512.Create(0.999999f);
            var a = Vector512.Create(1e-7f);
            Vector512<float> c0 = Vector512.Create(1f + index), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
                c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
            for (int i = 0; i < Iterations; i++)
            {
                c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a);
                c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
                c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a);
                c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
                c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a);
                c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
            }
            Sink = Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }

    struct Job256 : IParallelJob
    {
        public float Sink;

        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Run(int index)
        {
            var m = Vector256.Create(0.999999f);
            var a = Vector256.Create(1e-7f);
            Vector256<float> c0 = Vector256.Create(1f + index), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
                c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
            for (int i = 0; i < Iterations; i++)
            {
                c0 = Vector256.FusedMultiplyAdd(c0, m, a); c1 = Vector256.FusedMultiplyAdd(c1, m, a);
                c2 = Vector256.FusedMultiplyAdd(c2, m, a); c3 = Vector256.FusedMultiplyAdd(c3, m, a);
                c4 = Vector256.FusedMultiplyAdd(c4, m, a); c5 = Vector256.FusedMultiplyAdd(c5, m, a);
                c6 = Vector256.FusedMultiplyAdd(c6, m, a); c7 = Vector256.FusedMultiplyAdd(c7, m, a);
                c8 = Vector256.FusedMultiplyAdd(c8, m, a); c9 = Vector256.FusedMultiplyAdd(c9, m, a);
                c10 = Vector256.FusedMultiplyAdd(c10, m, a); c11 = Vector256.FusedMultiplyAdd(c11, m, a);
            }
            Sink = Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
        }
    }
}
