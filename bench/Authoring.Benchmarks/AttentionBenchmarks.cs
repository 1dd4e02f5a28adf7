// Attention at d = 64 (one head of 64, batch 1, as PEERS.md), N in {1024, 4096, 16384}, causal and not,
// forward and forward+backward, each class against its TorchSharp twin (tests/Authoring.Oracle.Tests/
// TorchAttention.cs, compiled here too):
//   SoftmaxAttentionBenchmarks      our flash-style softmax attention  vs F.scaled_dot_product_attention;
//   LinearVsSoftmaxBenchmarks       our linear attention (elu + 1)     vs F.scaled_dot_product_attention;
//   LinearAttentionBenchmarks       our linear attention (elu + 1)     vs linear attention written as a user
//                                   would (einsums; causal: cumsum over the [N, d, d] outer products).
// Ours writes into buffers made once (as generated code does, from its arena); TorchSharp allocates per
// call and runs autograd from the output gradient dy. Peak memory per call is measured separately, each
// case in a fresh process (AttentionMemoryProbe, `--attention-memory`).
using Authoring.Oracle.Tests;
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>Inputs, outputs and the shared timing methods; derived classes pick the two implementations.</summary>
public abstract class AttentionBenchmark
{
    /// <summary>Heads and head size of every case: d = 64 in one head.</summary>
    public const int Heads = 1, HeadSize = 64;

    /// <summary>Tokens per sequence.</summary>
    [Params(1024, 4096, 16384)]
    public int N { get; set; }

    /// <summary>Causal mask (query i sees keys j &lt;= i).</summary>
    [Params(false, true)]
    public bool Causal { get; set; }

    /// <summary>The attention problem of the current case.</summary>
    protected AttentionShape Shape => new(N, Heads, HeadSize);

    /// <summary>Our buffers, allocated once per case.</summary>
    protected OursAttention? Ours;
    TorchTensor? tq, tk, tv, tdy;

    /// <summary>Random q, k, v and output gradient shared by both sides; TorchSharp on 2 threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Ours = new OursAttention(Shape, Causal, seed: 5);
        long[] shape = [1, N, Heads * HeadSize];
        tq = torch.tensor(Ours.Q, shape).requires_grad_(true);
        tk = torch.tensor(Ours.K, shape).requires_grad_(true);
        tv = torch.tensor(Ours.V, shape).requires_grad_(true);
        tdy = torch.tensor(Ours.Dy, shape);
    }

    /// <summary>Frees the TorchSharp tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        tq?.Dispose();
        tk?.Dispose();
        tv?.Dispose();
        tdy?.Dispose();
    }

    /// <summary>The TorchSharp side.</summary>
    protected abstract TorchTensor TorchOp(TorchTensor q, TorchTensor k, TorchTensor v);
    /// <summary>Our forward.</summary>
    protected abstract void OursFwd();
    /// <summary>Our backward (after a forward).</summary>
    protected abstract void OursBwd();

    /// <summary>TorchSharp forward, autograd and backward from dy.</summary>
    [Benchmark(Baseline = true)]
    public void TorchForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        tq!.grad?.zero_();
        tk!.grad?.zero_();
        tv!.grad?.zero_();
        TorchOp(tq, tk, tv).backward(new[] { tdy! });
    }

    /// <summary>Our forward and backward kernels.</summary>
    [Benchmark]
    public void OursForwardBackward()
    {
        OursFwd();
        OursBwd();
    }

    /// <summary>TorchSharp forward without autograd.</summary>
    [Benchmark]
    public void TorchForward()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        TorchOp(tq!, tk!, tv!);
    }

    /// <summary>Our forward kernel.</summary>
    [Benchmark]
    public void OursForward() => OursFwd();
}

/// <summary>Our kernels' buffers for one case: inputs, output, gradients, saved statistics and workspace.</summary>
public sealed class OursAttention
{
    /// <summary>Random inputs and output gradient (uniform in [-1, 1)) and, unless the caller will do it
    /// later (<see cref="Outputs"/>), zeroed outputs.</summary>
    public OursAttention(AttentionShape s, bool causal, int seed, bool allocateOutputs = true)
    {
        S = s;
        Causal = causal;
        var rng = new Random(seed);
        float[] R() { var a = new float[s.SampleSize]; for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() * 2 - 1; return a; }
        Q = R(); K = R(); V = R(); Dy = R();
        if (allocateOutputs) Outputs();
    }

    /// <summary>The problem.</summary>
    public AttentionShape S { get; }
    /// <summary>Causal or not.</summary>
    public bool Causal { get; }
    /// <summary>Inputs and the output gradient, [N, d].</summary>
    public float[] Q, K, V, Dy;
    /// <summary>Output, gradients, softmax's log-sum-exp and the workspace (sized for both kernels).</summary>
    public float[] Y = [], Dq = [], Dk = [], Dv = [], Lse = [], Work = [];

    /// <summary>(Re)allocates everything the kernels write: the memory probe calls it inside its measurement.</summary>
    public void Outputs()
    {
        int size = S.SampleSize;
        Y = new float[size]; Dq = new float[size]; Dk = new float[size]; Dv = new float[size];
        Lse = new float[SoftmaxAttention.SaveSize(1, S)];
        Work = new float[Math.Max(SoftmaxAttention.WorkspaceSize(1, S), LinearAttention.WorkspaceSize(1, S, Causal))];
    }

    /// <summary>Floats the softmax kernels write (y, dq, dk, dv, lse, workspace): 4 N d + 2 N heads.</summary>
    public long SoftmaxFloats => 4L * S.SampleSize + SoftmaxAttention.SaveSize(1, S) + SoftmaxAttention.WorkspaceSize(1, S);

    /// <summary>Floats the linear kernels write (y, dq, dk, dv, workspace).</summary>
    public long LinearFloats => 4L * S.SampleSize + LinearAttention.WorkspaceSize(1, S, Causal);

    View W(float[] a) => new(a, 0, S.SampleSize);

    /// <summary>Softmax attention forward.</summary>
    public void SoftmaxForward() => SoftmaxAttention.Forward(1, S, Causal, W(Q), W(K), W(V), W(Y), Lse, 0);

    /// <summary>Softmax attention backward.</summary>
    public void SoftmaxBackward() =>
        SoftmaxAttention.Backward(1, S, Causal, W(Q), W(K), W(V), W(Y), W(Dy), Lse, 0, Work, 0, W(Dq), W(Dk), W(Dv), false);

    /// <summary>Linear attention (elu + 1) forward.</summary>
    public void LinearForward() => LinearAttention.Forward<EluPlusOne>(1, S, Causal, W(Q), W(K), W(V), W(Y), Work, 0);

    /// <summary>Linear attention (elu + 1) backward.</summary>
    public void LinearBackward() =>
        LinearAttention.Backward<EluPlusOne>(1, S, Causal, W(Q), W(K), W(V), W(Y), W(Dy), Work, 0, W(Dq), W(Dk), W(Dv), false);
}

/// <summary>Our softmax attention against F.scaled_dot_product_attention.</summary>
public class SoftmaxAttentionBenchmarks : AttentionBenchmark, IFlopCount
{
    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor q, TorchTensor k, TorchTensor v) => TorchAttention.Softmax(q, k, v, Heads, Causal);
    /// <inheritdoc />
    protected override void OursFwd() => Ours!.SoftmaxForward();
    /// <inheritdoc />
    protected override void OursBwd() => Ours!.SoftmaxBackward();

    /// <summary>The usual count: forward 2 products of N^2 d multiply-adds (halved when causal), backward 2.5 times that.</summary>
    public double Flops(BenchmarkCase benchmarkCase)
    {
        double n = Convert.ToDouble(benchmarkCase.Parameters["N"]);
        bool causal = (bool)benchmarkCase.Parameters["Causal"];
        double fwd = 4 * n * n * Heads * HeadSize * (causal ? 0.5 : 1);
        return benchmarkCase.Descriptor.WorkloadMethod.Name.EndsWith("ForwardBackward", StringComparison.Ordinal) ? 3.5 * fwd : fwd;
    }
}

/// <summary>Our linear attention (elu + 1) against F.scaled_dot_product_attention: what switching to linear attention buys.</summary>
public class LinearVsSoftmaxBenchmarks : AttentionBenchmark
{
    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor q, TorchTensor k, TorchTensor v) => TorchAttention.Softmax(q, k, v, Heads, Causal);
    /// <inheritdoc />
    protected override void OursFwd() => Ours!.LinearForward();
    /// <inheritdoc />
    protected override void OursBwd() => Ours!.LinearBackward();
}

/// <summary>Our linear attention (elu + 1) against TorchSharp linear attention written as a user would (cumsum when causal).</summary>
public class LinearAttentionBenchmarks : AttentionBenchmark
{
    /// <inheritdoc />
    protected override TorchTensor TorchOp(TorchTensor q, TorchTensor k, TorchTensor v) =>
        TorchAttention.Linear(q, k, v, Heads, Causal, TorchFeatureMap.EluPlusOne);
    /// <inheritdoc />
    protected override void OursFwd() => Ours!.LinearForward();
    /// <inheritdoc />
    protected override void OursBwd() => Ours!.LinearBackward();
}
