// The binary benchmarks beyond EveryBenchmarkRunsOnce: every popcount path this machine supports runs
// (the generic smoke run only takes the default), and the three sides of a comparison compute the same
// convolution (packed with unit scale equals fp32 on the ±1 data exactly, TorchSharp included).
using System.Reflection;
using Authoring.Benchmarks;

namespace Authoring.Bench.Tests;

public class BinaryBenchmarkSmokeTests
{
    [Fact]
    public void EveryPopcountPathRuns()
    {
        foreach (var path in XnorPathBenchmarks.Paths())
        {
            var b = new XnorPathBenchmarks { Path = path, Case = "F64x14" };
            b.Setup();
            try { b.Packed(); }
            finally { b.Cleanup(); }
        }
    }

    [Fact]
    public void BinaryPeakLoopsRunWhereSupported()
    {
        // The loop sums real popcounts of random words: a machine with the instructions gets a positive total, one without
        // them gets 0 (and the flop count NaN, so no peak is reported).
        var paths = XnorPathBenchmarks.Paths().ToList();
        var b = new BinaryPeakBenchmarks { Threads = 2 };
        Assert.Equal(paths.Contains("Avx512"), b.Xnor512() > 0);
        Assert.Equal(paths.Contains("Avx2"), b.Xnor256() > 0);
    }

    [Theory]
    [InlineData("F64to128s2", 1)]
    [InlineData("P256x14", 2)]
    public void PackedAndFp32ComputeTheSameConvolution(string shape, int batch)
    {
        var b = new BinaryConvBenchmarks { Case = shape, Batch = batch };
        b.Setup();
        try
        {
            var t = typeof(BinaryConvBenchmarkBase);
            var flags = BindingFlags.Instance | BindingFlags.NonPublic;
            var y = (float[])t.GetField("Y", flags)!.GetValue(b)!;
            var scale = (float[])t.GetField("Scale", flags)!.GetValue(b)!;
            var shift = (float[])t.GetField("Shift", flags)!.GetValue(b)!;
            Array.Fill(scale, 1f);
            Array.Fill(shift, 0f);
            b.OursFp32();
            var fp32 = (float[])y.Clone();
            b.OursPackAndPacked();
            Assert.Equal(fp32, y);
        }
        finally
        {
            b.Cleanup();
        }
    }
}
