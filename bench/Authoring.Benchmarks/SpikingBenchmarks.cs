// LIF multi-step layer, x = [T, 64, 1024] (PEERS.md's case): our fused kernels against SpikingJelly's
// torch backend written in TorchSharp (TorchNeuron: a Python-style loop over T, sigmoid surrogate via
// the detach trick), forward and forward+backward from a given spike gradient. Ours keeps its
// layout, per sample (T, F); the step loop takes SpikingJelly's [T, N, F]: element-wise work either way.
using Authoring.Oracle.Tests;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Benchmarks;

/// <summary>LIFNode(tau=2, decay_input, v_threshold=1, v_reset=0), surrogate.Sigmoid(alpha=4), batch 64, 1024 features per step.</summary>
public class LifBenchmarks
{
    /// <summary>Batch.</summary>
    public const int N = 64;
    /// <summary>Features per step.</summary>
    public const int F = 1024;

    /// <summary>Time steps.</summary>
    [Params(8, 32)]
    public int T { get; set; }

    /// <summary>The layer's dynamics.</summary>
    public static readonly NeuronDynamics Lif = NeuronDynamics.Lif();
    static readonly SigmoidSurrogate Surrogate = new(4f);

    float[] x = [], s = [], ds = [], dx = [];
    TorchTensor? tx, tds;
    TorchNeuron? neuron;

    /// <summary>Our spikes from the last forward, [N, T, F].</summary>
    public float[] Spikes => s;

    /// <summary>Inputs in [-1, 3): with tau 2 about a third of the steps fire, like a trained layer's busier ones.
    /// The same values on both sides (TorchSharp's copy transposed to [T, N, F]).</summary>
    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        var rng = new Random(8);
        int size = N * T * F;
        x = new float[size];
        ds = new float[size];
        for (int i = 0; i < size; i++)
        {
            x[i] = rng.NextSingle() * 4 - 1;
            ds[i] = rng.NextSingle() * 2 - 1;
        }
        s = new float[size];
        dx = new float[size];
        tx = torch.tensor(x, new long[] { N, T, F }).transpose(0, 1).contiguous().requires_grad_(true);
        tds = torch.tensor(ds, new long[] { N, T, F }).transpose(0, 1).contiguous();
        neuron = new TorchNeuron(Lif, "Sigmoid", 4);
    }

    /// <summary>Frees the tensors.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        tx?.Dispose();
        tds?.Dispose();
        neuron?.Dispose();
    }

    /// <summary>The step loop's spikes, [T, N, F] (for the smoke test that both sides compute the same thing).</summary>
    public float[] TorchSpikes()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return neuron!.forward(tx!).transpose(0, 1).contiguous().data<float>().ToArray();
    }

    /// <summary>Step loop forward and backward through time (autograd).</summary>
    [Benchmark(Baseline = true)]
    public void TorchForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        tx!.grad?.zero_();
        neuron!.forward(tx).backward(new[] { tds! });
    }

    /// <summary>Our fused forward, then the fused backward (which recomputes h from x).</summary>
    [Benchmark]
    public void OursForwardBackward()
    {
        NeuronKernel.Forward(Lif, N, T, F, new View(x, 0, T * F), null, 0, new View(s, 0, T * F));
        NeuronKernel.Backward(Lif, Surrogate, N, T, F, new View(x, 0, T * F), new View(ds, 0, T * F), null, 0, new View(dx, 0, T * F), false, null, 0);
    }

    /// <summary>Step loop forward without autograd (Heaviside only, as SpikingJelly's surrogate forward).</summary>
    [Benchmark]
    public void TorchForward()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        neuron!.forward(tx!);
    }

    /// <summary>Our fused forward (spikes and the spike count).</summary>
    [Benchmark]
    public long OursForward() => NeuronKernel.Forward(Lif, N, T, F, new View(x, 0, T * F), null, 0, new View(s, 0, T * F));
}
