// Spiking neuron layers (SpikingJelly's IFNode, LIFNode, ParametricLIFNode) on a time-major value (T, ...) per sample:
// one fused kernel runs the whole time loop forward (spikes out, spikes counted for the firing rates) and one runs
// backward through time with the layer's surrogate gradient, recomputing the membrane from the input instead of
// storing it (Runtime NeuronKernel, GpuKernels.Neuron*). When the input is the same at every step (a Repeat, possibly
// through per-step layers: StaticTime rewrites those), the kernel reads one step per sample and sums dx over the steps.
using System;
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    /// <summary>IFNode and LIFNode (no parameters).</summary>
    public const string Neuron = "Neuron";
    /// <summary>ParametricLIFNode (learned w).</summary>
    public const string ParametricNeuron = "ParametricNeuron";
}

/// <summary>Which neuron (Ints[0]); values match Runtime's NeuronModel.</summary>
internal enum NeuronModelKind
{
    If,
    Lif,
    ParametricLif,
}

/// <summary>Neuron attributes: Ints [model, surrogate, soft reset, detach_reset, decay_input, static input, v_reset bits,
/// alpha bits]; F0 v_threshold; F1 tau (LIF) or init_tau (PLIF).</summary>
internal class NeuronOp : OpDef
{
    const int ModelAt = 0, SurrogateAt = 1, SoftAt = 2, DetachAt = 3, DecayAt = 4, StaticAt = 5, VResetAt = 6, AlphaAt = 7;

    /// <summary>Surrogate names as the Dsl's Surrogate enum orders them, with SpikingJelly's default alphas.</summary>
    static readonly string[] Surrogates = { "Sigmoid", "ATan", "Rect", "PiecewiseQuadratic" };
    static readonly float[] DefaultAlpha = { 4f, 2f, 1f, 1f };

    public override string Name => OpKind.Neuron;

    public override IEnumerable<string> LayerTypes => new[] { "IFNode", "LIFNode" };

    public static bool IsNeuron(Node n) => n.Op is OpKind.Neuron or OpKind.ParametricNeuron;

    public static NeuronModelKind Model(Node n) => (NeuronModelKind)n.Ints[ModelAt];

    public static bool IsStatic(Node n) => n.Ints[StaticAt] != 0;

    /// <summary>The same node reading one step per sample (set by StaticTime).</summary>
    public static Node WithStaticInput(Node n, int input) =>
        n with { Inputs = new[] { input }.ToEquatableArray(), Ints = n.Ints.Select((v, i) => i == StaticAt ? 1 : v).ToArray().ToEquatableArray() };

    public static int Steps(Node n) => n.Shape[0];

    public static int Features(Node n) => n.Size / n.Shape[0];

    public static bool SoftReset(Node n) => n.Ints[SoftAt] != 0;

    public static bool DetachReset(Node n) => n.Ints[DetachAt] != 0;

    public static bool DecayInput(Node n) => n.Ints[DecayAt] != 0;

    public static float VReset(Node n) => Bits(n.Ints[VResetAt]);

    public static float Alpha(Node n) => Bits(n.Ints[AlphaAt]);

    public static string SurrogateName(Node n) => Surrogates[n.Ints[SurrogateAt]];

    // netstandard2.0 has no BitConverter.SingleToInt32Bits.
    static int Bits(float f) => BitConverter.ToInt32(BitConverter.GetBytes(f), 0);

    static float Bits(int i) => BitConverter.ToSingle(BitConverter.GetBytes(i), 0);

    static bool Finite(float f) => !float.IsNaN(f) && !float.IsInfinity(f);

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        var model = layer.Kind switch { "IFNode" => NeuronModelKind.If, "LIFNode" => NeuronModelKind.Lif, _ => NeuronModelKind.ParametricLif };
        float vth = layer.Float("vThreshold"), vReset = layer.Float("vReset"), alpha = layer.Float("alpha");
        int surrogate = layer.Int("surrogate");
        bool soft = float.IsNaN(vReset);
        string tauName = model == NeuronModelKind.ParametricLif ? "initTau" : "tau";
        float tau = model == NeuronModelKind.If ? 0f : layer.Float(tauName);

        bool Bad(string arg, string message)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf(arg), what, message);
            return true;
        }
        if (!Finite(vth) && Bad("vThreshold", $"vThreshold must be finite, got {vth}")) return -1;
        if (!soft && !Finite(vReset) && Bad("vReset", $"vReset must be finite, or NeuronLayer.SoftReset (NaN) for a soft reset; got {vReset}")) return -1;
        if (!soft && !(vReset < vth) && Bad("vReset", $"vReset ({vReset}) must be below vThreshold ({vth}): otherwise a neuron that fired stays at or above the threshold")) return -1;
        if (soft && !(vth > 0) && Bad("vThreshold", $"a soft reset subtracts vThreshold, which must then be positive; got {vth}")) return -1;
        if (model != NeuronModelKind.If && !(tau > 1f && Finite(tau)) && Bad(tauName, $"{tauName} must be finite and above 1 (SpikingJelly asserts it), got {tau}")) return -1;
        if ((surrogate < 0 || surrogate >= Surrogates.Length) && Bad("surrogate", $"surrogate {surrogate} is not a Surrogate value")) return -1;
        if (float.IsNaN(alpha)) alpha = DefaultAlpha[surrogate];
        else if (!(alpha > 0 && Finite(alpha)) && Bad("alpha", $"alpha must be positive and finite, got {alpha}")) return -1;

        var shape = p.ShapeOf(x);
        if (!TimeAxis.Has(p, x))
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, TimeAxis.Missing("a neuron layer", shape));
            return -1;
        }
        var ints = new[]
        {
            (int)model, surrogate, soft ? 1 : 0, layer.Bool("detachReset") ? 1 : 0,
            model != NeuronModelKind.If && layer.Bool("decayInput") ? 1 : 0, 0, soft ? 0 : Bits(vReset), Bits(alpha),
        };
        string op = model == NeuronModelKind.ParametricLif ? OpKind.ParametricNeuron : OpKind.Neuron;
        int id = p.AddNode(op, new[] { x }, shape, ints, vth, tau, layer.Name, loc);
        if (id >= 0 && model == NeuronModelKind.ParametricLif)
        {
            // SpikingJelly: w = -log(init_tau - 1), so that sigmoid(w) = 1 / init_tau; a 0-d tensor in its state_dict.
            float w0 = (float)-Math.Log(tau - 1.0);
            p.AddParam(new ParamSpec(layer.Name + ".w", EquatableArray<int>.Empty, "Neuron", "Constant", Bits(w0), 0));
        }
        return id;
    }

    public override void Lower(Lowering cx, Node n)
    {
        // The spike counter's state region (the ILGPU backend's long, two floats, 8-byte aligned); the CPU counts on the host.
        int st = cx.State(3);
        if (st % 2 != 0) st++;
        cx.Add(new Step(ForwardKernel, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this, State = st });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        var ds = cx.Grad(n.Id);
        if (cx.NeedsGrad(x))
        {
            cx.Contribute(x, new Step(BackKernel, n, f.Io[0], ds, cx.Grad(x)), 2);
        }
        else if (Model(n) == NeuronModelKind.ParametricLif)
        {
            // Only w needs a gradient: dx goes to scratch.
            var scratch = cx.NewBuffer(cx.Node(x).Size, "scratch dx " + Storage.Label(n));
            cx.Add(new Step(BackKernel, n, f.Io[0], ds, scratch));
        }
    }

    /// <summary>The time loop unrolled step by step with the kernel's float operations (OnnxGraphBuilder.SpikingNeuron);
    /// a static input (one step per sample, StaticTime's rewrite) is read at every step.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string w = Model(n) == NeuronModelKind.ParametricLif ? $"p, {OnnxContext.Str(n.Layer)}" : "null, null";
        return $"b.SpikingNeuron({o.In(n, 0)}, {Steps(n)}, {OnnxContext.Bool(IsStatic(n))}, {Dynamics(n)}, {w})";
    }

    /// <summary>This neuron layer's index among the model's neuron layers (its slot in the firing-rate counters).</summary>
    static int Index(EmitContext c, Node n)
    {
        int i = 0;
        foreach (var m in c.Model.Nodes)
        {
            if (m.Id == n.Id) return i;
            if (IsNeuron(m)) i++;
        }
        throw new InvalidOperationException($"neuron #{n.Id} is not in the model");
    }

    static string RtSpiking => EmitCommon.CpuNs + ".Spiking";

    static string Dynamics(Node n)
    {
        string vr = SoftReset(n) ? "null" : EmitCommon.F(VReset(n));
        string th = EmitCommon.F(n.F0), detach = DetachReset(n) ? "true" : "false", decay = DecayInput(n) ? "true" : "false";
        return Model(n) switch
        {
            NeuronModelKind.If => $"{RtSpiking}.NeuronDynamics.If({th}, {vr}, {detach})",
            NeuronModelKind.Lif => $"{RtSpiking}.NeuronDynamics.Lif({EmitCommon.F(n.F1)}, {decay}, {th}, {vr}, {detach})",
            _ => $"{RtSpiking}.NeuronDynamics.ParametricLif({decay}, {th}, {vr}, {detach})",
        };
    }

    /// <summary>The static fields holding a layer's dynamics and surrogate (in the model class; its nested GPU class reads
    /// them too), and the firing-rate members of the class being written.</summary>
    static string Fields(EmitContext c, Node n)
    {
        int j = Index(c, n);
        if (c is CpuContext)
        {
            c.Member("__neuron" + j, w =>
            {
                w.Line($"static readonly {RtSpiking}.NeuronDynamics __neuron{j} = {Dynamics(n)};");
                w.Line($"static readonly {RtSpiking}.{SurrogateName(n)}Surrogate __surrogate{j} = new({EmitCommon.F(Alpha(n))});");
            });
        }
        c.Member("__firing", w => FiringMembers(c, w));
        return j.ToString();
    }

    /// <summary>Counters per neuron layer and the IModel members reading them. The CPU counts on the host; the ILGPU
    /// backend counts into a long in the state array per forward step (one in each program), read back when asked.</summary>
    static void FiringMembers(EmitContext c, CodeWriter w)
    {
        var neurons = c.Model.Nodes.Where(IsNeuron).ToList();
        int count = neurons.Count;
        string rate = EmitCommon.Rt + ".FiringRate";
        w.Line($"static readonly string[] __neuronLayers = {{ {string.Join(", ", neurons.Select(m => "\"" + m.Layer + "\""))} }};");
        w.Line($"readonly long[] __spikeSlots = new long[{count}];");
        if (c is CpuContext)
        {
            w.Line($"readonly long[] __spikeCounts = new long[{count}];");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open($"public global::System.Collections.Generic.IReadOnlyList<{rate}> FiringRates");
            w.Open("get");
            w.Line($"var rates = new {rate}[{count}];");
            w.Line($"for (int i = 0; i < {count}; i++) rates[i] = new(__neuronLayers[i], __spikeCounts[i], __spikeSlots[i]);");
            w.Line("return rates;");
            w.Close();
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("public void ResetFiringRates()");
            w.Line("global::System.Array.Clear(__spikeCounts);");
            w.Line("global::System.Array.Clear(__spikeSlots);");
            w.Close();
            w.Line();
            return;
        }
        // Every state region of a layer's forward steps (inference and training programs), per layer.
        var regions = neurons.Select(m => c.Plan.Infer.Steps.Concat(c.Plan.Train.Steps)
            .Where(s => s.Kernel == ForwardKernel && s.Node!.Id == m.Id).Select(s => s.State).ToList()).ToList();
        // The state buffer starts zeroed (GpuDevice.Allocate clears it), so the counters need no first-use reset.
        w.Line("/// <inheritdoc/>");
        w.Open($"public global::System.Collections.Generic.IReadOnlyList<{rate}> FiringRates");
        w.Open("get");
        w.Line($"var rates = new {rate}[{count}];");
        w.Line("__device.Synchronize();");
        for (int i = 0; i < count; i++)
        {
            w.Line($"long spikes{i} = 0;");
            foreach (int st in regions[i])
                w.Line($"spikes{i} += {GpuContext.G}.GpuKernels.ReadSpikeCounter(__state.View, {st});");
            w.Line($"rates[{i}] = new(__neuronLayers[{i}], spikes{i}, __spikeSlots[{i}]);");
        }
        w.Line("return rates;");
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Open("public void ResetFiringRates()");
        foreach (int st in regions.SelectMany(r => r))
            w.Line($"__k.Clear(__state.View.SubView({st}, 2));");
        w.Line("global::System.Array.Clear(__spikeSlots);");
        w.Close();
        w.Line();
    }

    static string Weight(Node n) => n.Layer + ".w";

    /// <summary>Io: x, spikes. State: the ILGPU spike counter.</summary>
    static readonly Kernel ForwardKernel = new("Neuron",
        (c, s) =>
        {
            var n = s.Node!;
            string j = Fields(c, n);
            string w = Model(n) == NeuronModelKind.ParametricLif ? c.Param(Weight(n)) : "null, 0";
            c.Line($"__spikeCounts[{j}] += {RtSpiking}.NeuronKernel.Forward(__neuron{j}, n, {Steps(n)}, {Features(n)}, {c.V(s.Io[0])}, {w}, {c.V(s.Io[1])}, default, {(IsStatic(n) ? "true" : "false")});");
            c.Line($"__spikeSlots[{j}] += (long)n * {n.Size};");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string j = Fields(g, n);
            string w = Model(n) == NeuronModelKind.ParametricLif ? g.Param(Weight(n)) : "default";
            g.Line($"__k.NeuronForward(__neuron{j}, n, {Steps(n)}, {Features(n)}, {g.V(s.Io[0])}, {w}, {g.V(s.Io[1])}, default, {GpuContext.G}.GpuKernels.SpikeCounter(S, {s.State}), {(IsStatic(n) ? "true" : "false")});");
            g.Line($"__spikeSlots[{j}] += (long)n * {n.Size};");
        });

    /// <summary>Io: x (the forward's input), dSpikes, dx. PLIF's dw goes to the parameter's gradient.</summary>
    static readonly Kernel BackKernel = new("NeuronBack",
        (c, s) =>
        {
            var n = s.Node!;
            string j = Fields(c, n);
            bool plif = Model(n) == NeuronModelKind.ParametricLif;
            string w = plif ? c.Param(Weight(n)) : "null, 0", dw = plif ? c.Grad(Weight(n)) : "null, 0";
            c.Line($"{RtSpiking}.NeuronKernel.Backward(__neuron{j}, __surrogate{j}, n, {Steps(n)}, {Features(n)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {w}, {c.V(s.Io[2])}, {EmitContext.Acc(s)}, {dw}, {(IsStatic(n) ? "true" : "false")});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string j = Fields(g, n);
            bool plif = Model(n) == NeuronModelKind.ParametricLif;
            string w = plif ? g.Param(Weight(n)) : "default", dw = plif ? g.Grad(Weight(n)) : "default";
            g.Line($"__k.NeuronBackward(__neuron{j}, __surrogate{j}, n, {Steps(n)}, {Features(n)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {w}, {g.V(s.Io[2])}, {EmitContext.Acc(s)}, {dw}, {(IsStatic(n) ? "true" : "false")});");
        });
}

/// <summary>ParametricLIFNode: a neuron with a learned parameter (w), so it is differentiated even when its input is not.</summary>
internal sealed class ParametricNeuronOp : NeuronOp
{
    public override string Name => OpKind.ParametricNeuron;

    public override OpTraits Traits => OpTraits.Parameters;

    public override IEnumerable<string> LayerTypes => new[] { "ParametricLIFNode" };
}
