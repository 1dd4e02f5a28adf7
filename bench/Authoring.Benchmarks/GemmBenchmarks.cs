// Single-precision square GEMM, C = A B: our Runtime kernel against torch.matmul on the same data.
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>n x n x n sgemm; TorchSharp is the baseline, so Ratio reads ours / TorchSharp.</summary>
public class GemmBenchmarks : IFlopCount
{
    float[] a = [], b = [], c = [];
    TorchTensor? ta, tb;

    /// <summary>Matrix size.</summary>
    [Params(256, 512, 1024)]
    public int N { get; set; }

    /// <inheritdoc />
    public double Flops(BenchmarkCase benchmarkCase) => 2.0 * Math.Pow(Convert.ToDouble(benchmarkCase.Parameters["N"]), 3);

    /// <summary>Random inputs shared by both sides; TorchSharp on 2 threads like our kernels.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        var rng = new Random(42);
        a = new float[N * N];
        b = new float[N * N];
        c = new float[N * N];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = rng.NextSingle() * 2 - 1;
            b[i] = rng.NextSingle() * 2 - 1;
        }
        ta = torch.tensor(a, new long[] { N, N });
        tb = torch.tensor(b, new long[] { N, N });
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ta?.Dispose();
        tb?.Dispose();
    }

    /// <summary>torch.matmul, allocating its result as PyTorch code does.</summary>
    [Benchmark(Baseline = true)]
    public void TorchMatmul()
    {
        using var r = torch.matmul(ta!, tb!);
    }

    /// <summary>Authoring.Runtime.Cpu.Gemm.Multiply into a preallocated C.</summary>
    [Benchmark]
    public void OursGemm()
        => Gemm.Multiply(false, false, N, N, N, 1f, a, 0, N, b, 0, N, 0f, c, 0, N);
}
