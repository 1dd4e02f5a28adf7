// SpikingJelly's neurons as a TorchSharp step loop, written from spikingjelly.activation_based
// (neuron.IFNode / LIFNode / ParametricLIFNode with backend='torch', functional.neuron.lif_charge,
// plif_step and voltage_reset, surrogate.Sigmoid / ATan / Rect / PiecewiseQuadratic), for the parity
// tests and the benchmarks. TorchSharp has no cheap custom autograd function, so the surrogate uses the
// detach trick in the form s = H(x) + (g(x) - g(x).detach()): its value is exactly H(x) (y - y == 0), its
// gradient g'(x), autograd's derivative of SpikingJelly's primitive function g.
using TorchSharp;
using TorchSharp.Modules;
using Authoring.Runtime.Cpu.Spiking;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

/// <summary>A multi-step neuron layer in TorchSharp (one Python-style loop over T, as SpikingJelly's torch backend).</summary>
public sealed class TorchNeuron : torch.nn.Module<TorchTensor, TorchTensor>
{
    readonly NeuronDynamics d;
    readonly string surrogate;
    readonly double alpha;

    /// <summary>PLIF's learnable w (state_dict name "w", as SpikingJelly's ParametricLIFNode); null for IF and LIF.</summary>
    public Parameter? w;

    /// <summary>A layer with the dynamics <paramref name="d"/> and the surrogate named as SpikingJelly's class
    /// (Sigmoid, ATan, Rect, PiecewiseQuadratic) with its <paramref name="alpha"/>; PLIF's w starts at <paramref name="w0"/>.</summary>
    public TorchNeuron(NeuronDynamics d, string surrogate, double alpha, float w0 = 0f) : base(d.Model.ToString())
    {
        this.d = d;
        this.surrogate = surrogate;
        this.alpha = alpha;
        if (d.Model == NeuronModel.ParametricLif) w = new Parameter(torch.tensor(w0));
        RegisterComponents();
    }

    /// <summary>v after every step's reset, [T, ...], from the last forward (SpikingJelly's store_v_seq).</summary>
    public TorchTensor? VSeq { get; private set; }

    /// <summary>Keep v_seq (costs a stack per call; the benchmarks leave it off).</summary>
    public bool StoreVSeq { get; set; }

    /// <summary>x_seq [T, N, *] to spikes [T, N, *].</summary>
    public override TorchTensor forward(TorchTensor xSeq)
    {
        long steps = xSeq.shape[0];
        var v = torch.full_like(xSeq[0], d.VInit);
        var spikes = new List<TorchTensor>((int)steps);
        var vs = StoreVSeq ? new List<TorchTensor>((int)steps) : null;
        double vr = d.VReset ?? 0.0;
        var k = w?.sigmoid();
        for (long t = 0; t < steps; t++)
        {
            var x = xSeq[t];
            TorchTensor h = d.Model switch
            {
                NeuronModel.If => v + x,
                NeuronModel.Lif => d.DecayInput ? v + (x - (v - vr)) / (double)d.Tau : v - (v - vr) / (double)d.Tau + x,
                _ => d.DecayInput ? v + (x - (v - vr)) * k! : v - (v - vr) * k! + x,
            };
            var s = Spike(h - (double)d.VThreshold);
            var sd = d.DetachReset ? s.detach() : s;
            v = d.VReset is { } reset ? sd * (double)reset + (1.0 - sd) * h : h - sd * (double)d.VThreshold;
            spikes.Add(s);
            vs?.Add(v);
        }
        VSeq = vs is null ? null : torch.stack(vs);
        return torch.stack(spikes);
    }

    /// <summary>H(x) forward, the surrogate's g'(x) backward (only built when autograd records).</summary>
    TorchTensor Spike(TorchTensor x)
    {
        var step = x.ge(0.0).to_type(torch.ScalarType.Float32);
        if (!torch.is_grad_enabled() || !x.requires_grad) return step;
        var g = Primitive(x);
        return step + (g - g.detach());
    }

    /// <summary>SpikingJelly's primitive_function of each surrogate.</summary>
    TorchTensor Primitive(TorchTensor x) => surrogate switch
    {
        "Sigmoid" => (x * alpha).sigmoid(),
        "ATan" => torch.atan(x * (Math.PI / 2 * alpha)) / Math.PI + 0.5,
        "Rect" => torch.clamp(x * alpha + 0.5, 0.0, 1.0),
        "PiecewiseQuadratic" => PiecewiseQuadratic(x),
        _ => throw new ArgumentException(surrogate),
    };

    TorchTensor PiecewiseQuadratic(TorchTensor x)
    {
        var mask0 = x.gt(1.0 / alpha).to_type(torch.ScalarType.Float32);
        var mask1 = x.abs().le(1.0 / alpha).to_type(torch.ScalarType.Float32);
        return mask0 + mask1 * (x.square() * x.sign() * (-(alpha * alpha) / 2) + x * alpha + 0.5);
    }
}
