// The spiking ops in the double-precision reference interpreter, written from SpikingJelly's definitions
// (neuron.IFNode / LIFNode / ParametricLIFNode with the torch backend, surrogate.*, encoding.PoissonEncoder) and sharing
// no code with the kernels: the neuron's time loop, hard and soft reset, detach_reset, Repeat, Poisson and the mean
// over time.
//
// Gradients through a spike cannot come from finite differences of the real forward (the step function is flat almost
// everywhere). SpikingJelly defines them by autograd through s = H(x) + g(x) - sg(g(x)) with g the surrogate's primitive
// (the value is the step, the derivative g'): the interpreter evaluates exactly that function in "frozen" mode. A normal
// forward records every spike decision H0 and pre-activation x0 = h - v_threshold; the frozen forward then computes each
// spike as H0 + g(x) - g(x0), and the reset with the detached H0 when detach_reset is set. That function equals the
// real forward at the recorded point, is smooth in the parameters (g is smooth for Sigmoid and ATan, piecewise
// polynomial for Rect and PiecewiseQuadratic, away from its kinks), and its derivative there is by construction the
// surrogate gradient SpikingJelly's autograd computes: so central differences of it check the whole BPTT, including the
// reset path through g' and the PLIF decay, without any backward formula written here.
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Runtime.Cpu;

namespace Authoring.Models.Tests.Oracle;

internal sealed partial class ReferenceInterpreter
{
    /// <summary>Spike decisions H0 and pre-activations x0 = h - v_threshold per neuron node (batch-major, time-major
    /// per sample), filled by a forward while <see cref="Frozen"/> is null and <see cref="Record"/> is set.</summary>
    public Dictionary<int, (double[] H, double[] X)>? Record { get; set; }

    /// <summary>When set, neurons compute spikes as H0 + g(x) - g(x0) from this recording (see the file header).</summary>
    public Dictionary<int, (double[] H, double[] X)>? Frozen { get; set; }

    /// <summary>Seed of Poisson encoding in evaluation mode (the generated code's DropoutSeed + 0xD1B54A32D192ED03 * call).</summary>
    public ulong InferSeed { get; set; }

    /// <summary>The evaluation-mode seed of the <paramref name="call"/>-th inference call (1-based) of a fresh model.</summary>
    public static ulong InferenceSeed(int call, ulong dropoutSeed = 0x5EEDUL) => unchecked(dropoutSeed + 0xD1B54A32D192ED03UL * (ulong)call);

    /// <summary>The smallest |h - v_threshold| of the last recording: spikes of two computations agree when their
    /// membranes differ by less.</summary>
    public double Margin() => Record is null || Record.Count == 0 ? double.PositiveInfinity : Record.Values.SelectMany(r => r.X).Min(Math.Abs);

    /// <summary>Max pooling's choice per output (the first maximum, as PyTorch's and our kernels route the gradient),
    /// recorded with the spikes: pooled spikes tie all the time, and the frozen forward must keep the recorded choice
    /// (the gradient of the branch taken) rather than let a perturbation pick among ties.</summary>
    readonly Dictionary<int, int[]> _recordedPool = new();
    readonly Dictionary<int, int[]> _frozenPool = new();

    /// <summary>Freezes the max-pool choices of the last recording with the spikes (call after setting <see cref="Frozen"/>).</summary>
    public void FreezePools()
    {
        _frozenPool.Clear();
        foreach (var (k, idx) in _recordedPool) _frozenPool[k] = idx;
    }

    /// <summary>Max pooling while recording or frozen: picks and records the first maximum, or reads the recorded one;
    /// null otherwise (the ordinary max pool runs).</summary>
    double[]? FrozenMaxPool(Node node, Node[] inputs, double[] x, int n)
    {
        if (node.Op != OpKind.MaxPool || (Record is null && Frozen is null)) return null;
        var a = new PoolAttrs(node);
        var xs = inputs[0].Shape;
        int c = xs[0], h = xs[1], w = xs[2], ho = node.Shape[1], wo = node.Shape[2];
        var y = new double[n * node.Size];
        int[] idx;
        bool frozen = Frozen is not null;
        if (frozen) idx = _frozenPool[node.Id];
        else _recordedPool[node.Id] = idx = new int[y.Length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        int o = ((b * c + ch) * ho + oy) * wo + ox;
                        if (!frozen)
                        {
                            double best = double.NegativeInfinity;
                            int at = -1;
                            for (int ky = 0; ky < a.Kh; ky++)
                                for (int kx = 0; kx < a.Kw; kx++)
                                {
                                    int iy = oy * a.Sh - a.Ph + ky, ix = ox * a.Sw - a.Pw + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    int k = ((b * c + ch) * h + iy) * w + ix;
                                    if (x[k] > best) { best = x[k]; at = k; }
                                }
                            idx[o] = at;
                        }
                        y[o] = x[idx[o]];
                    }
        return y;
    }

    double[]? EvalSpiking(Node node, Node[] inputs, double[][] v, int n, IReadOnlyDictionary<string, double[]> p, bool train, ulong seed)
    {
        var x = v[inputs[0].Id];
        switch (node.Op)
        {
            case OpKind.Repeat:
                {
                    int steps = node.Shape[0], f = inputs[0].Size;
                    var y = new double[n * steps * f];
                    for (int b = 0; b < n; b++)
                        for (int t = 0; t < steps; t++)
                            for (int i = 0; i < f; i++) y[(b * steps + t) * f + i] = x[b * f + i];
                    return y;
                }
            case OpKind.Poisson:
                {
                    int steps = node.Shape[0], f = inputs[0].Size;
                    ulong s = (train ? seed : InferSeed) + (ulong)node.Id;
                    var y = new double[n * steps * f];
                    for (int b = 0; b < n; b++)
                        for (int t = 0; t < steps; t++)
                            for (int i = 0; i < f; i++)
                            {
                                long k = ((long)b * steps + t) * f + i;
                                y[k] = DropoutRandom.Uniform(s, k) <= x[b * f + i] ? 1 : 0;
                            }
                    return y;
                }
            case OpKind.MeanOverTime:
                {
                    int steps = inputs[0].Shape[0], f = node.Size;
                    var y = new double[n * f];
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < f; i++)
                        {
                            double sum = 0;
                            for (int t = 0; t < steps; t++) sum += x[(b * steps + t) * f + i];
                            y[b * f + i] = sum / steps;
                        }
                    return y;
                }
            case OpKind.Neuron:
            case OpKind.ParametricNeuron:
                return Neuron(node, inputs[0], x, n, p);
            default:
                return null;
        }
    }

    /// <summary>The neuron's multi-step forward over x_seq [n, T, F] (or one step per sample fed at every step, for a
    /// static input: the generator rewrites Repeat chains, the interpreter sees the IR before that rewrite too).</summary>
    double[] Neuron(Node node, Node input, double[] x, int n, IReadOnlyDictionary<string, double[]> p)
    {
        var model = NeuronOp.Model(node);
        int steps = node.Shape[0], f = node.Size / steps;
        bool staticInput = input.Size == f && NeuronOp.IsStatic(node);
        double vth = node.F0, vReset = NeuronOp.SoftReset(node) ? 0 : NeuronOp.VReset(node);
        bool hard = !NeuronOp.SoftReset(node), detach = NeuronOp.DetachReset(node), decayInput = NeuronOp.DecayInput(node);
        double k = model switch
        {
            NeuronModelKind.Lif => 1.0 / node.F1,
            NeuronModelKind.ParametricLif => 1.0 / (1.0 + Math.Exp(-p[node.Layer + ".w"][0])),
            _ => 0,
        };
        string surrogate = NeuronOp.SurrogateName(node);
        double alpha = NeuronOp.Alpha(node);
        var frozen = Frozen?.GetValueOrDefault(node.Id);
        (double[] H, double[] X)? record = null;
        if (Frozen is null && Record is not null) Record[node.Id] = (record = (new double[n * steps * f], new double[n * steps * f])).Value;

        var y = new double[n * steps * f];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < f; i++)
            {
                double mem = hard ? vReset : 0;
                for (int t = 0; t < steps; t++)
                {
                    int at = (b * steps + t) * f + i;
                    double xt = staticInput ? x[b * f + i] : x[at];
                    double h = model switch
                    {
                        NeuronModelKind.If => mem + xt,
                        _ when decayInput => mem + (xt - (mem - vReset)) * k,
                        _ => mem - (mem - vReset) * k + xt,
                    };
                    double over = h - vth, s, sReset;
                    if (frozen is { } fz)
                    {
                        s = fz.H[at] + Primitive(surrogate, alpha, over) - Primitive(surrogate, alpha, fz.X[at]);
                        sReset = detach ? fz.H[at] : s;
                    }
                    else
                    {
                        s = sReset = over >= 0 ? 1 : 0;
                        if (record is { } r) { r.H[at] = s; r.X[at] = over; }
                    }
                    mem = hard ? sReset * vReset + (1 - sReset) * h : h - sReset * vth;
                    y[at] = s;
                }
            }
        return y;
    }

    /// <summary>SpikingJelly's primitive_function g of each surrogate, whose derivative is the surrogate gradient.</summary>
    static double Primitive(string surrogate, double alpha, double x) => surrogate switch
    {
        "Sigmoid" => 1 / (1 + Math.Exp(-alpha * x)),
        "ATan" => Math.Atan(Math.PI / 2 * alpha * x) / Math.PI + 0.5,
        "Rect" => Math.Clamp(alpha * x + 0.5, 0, 1),
        "PiecewiseQuadratic" => x < -1 / alpha ? 0 : x > 1 / alpha ? 1 : -alpha * alpha / 2 * x * Math.Abs(x) + alpha * x + 0.5,
        _ => throw new NotSupportedException(surrogate),
    };
}
