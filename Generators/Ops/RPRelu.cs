// ReActNet's RPReLU: y = prelu(x + b0[c], a[c]) + b1[c], a PReLU between two learnt per-channel shifts, over
// (C, H, W) or (F) inputs. Parameters named as ReActNet's module's state_dict: move1.bias (b0), prelu.weight (a),
// move2.bias (b1). Kernels: Runtime BinaryActivationKernel.RPRelu* and GpuKernels.RPRelu*.
using System;
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string RPRelu = "RPRelu";
}

/// <summary>RPReLU attributes: Ints [channels, positions per channel].</summary>
internal sealed class RPReluOp : OpDef
{
    public override string Name => OpKind.RPRelu;

    public override OpTraits Traits => OpTraits.Parameters;

    public override IEnumerable<string> LayerTypes => new[] { "RPReLU" };

    /// <summary>The parameter suffixes, in the kernels' order (b0, a, b1).</summary>
    public static readonly string[] Suffixes = { ".move1.bias", ".prelu.weight", ".move2.bias" };

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int channels = layer.Int("channels");
        float init = layer.Float("init");
        if (channels <= 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("channels"), what, $"channels must be positive, got {channels}");
            return -1;
        }
        if (float.IsNaN(init) || float.IsInfinity(init))
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("init"), what, $"init must be finite, got {init}");
            return -1;
        }
        var shape = p.ShapeOf(x);
        var (c, hw, error) = RSignOp.PerChannel(shape, channels);
        if (error is not null)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, error);
            return -1;
        }
        int id = p.AddNode(Name, new[] { x }, shape, new[] { c, hw }, 0, 0, layer.Name, loc);
        if (id < 0) return -1;
        var s = new[] { channels }.ToEquatableArray();
        p.AddParam(new ParamSpec(layer.Name + Suffixes[0], s, "Bias", "Zeros", 0, 0));
        p.AddParam(new ParamSpec(layer.Name + Suffixes[1], s, "NormWeight", "Constant", BitConverter.ToInt32(BitConverter.GetBytes(init), 0), 0));
        p.AddParam(new ParamSpec(layer.Name + Suffixes[2], s, "Bias", "Zeros", 0, 0));
        return id;
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(ForwardKernel, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        var dy = cx.Grad(n.Id);
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(BackKernel, n, f.Io[0], dy, cx.Grad(x)), 2);
        else cx.Add(new Step(BackKernel, n, f.Io[0], dy, cx.NewBuffer(n.Size, "scratch dx " + Storage.Label(n))));
    }

    /// <summary>prelu(x + b0, a) + b1 with the (C) parameters viewed as (C, 1, 1) over a (C, H, W) input.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string shape = o.ShapeOf(n.Inputs[0]).Length == 3 ? $"new int[] {{ {n.Ints[0]}, 1, 1 }}" : $"new int[] {{ {n.Ints[0]} }}";
        string P(int i) => $"b.Parameter(p, {OnnxContext.Str(n.Layer + Suffixes[i])}, {shape})";
        return $"b.Add(b.PRelu(b.Add({o.In(n, 0)}, {P(0)}), {P(1)}), {P(2)})";
    }

    static string Dims(Node n) => $"{n.Ints[0]}, {n.Ints[1]}";

    /// <summary>Runs in a packed binary layer's epilogue with its three per-channel vectors (rounded as the kernel rounds).</summary>
    public override PackedEpilogueAct? PackedEpilogue(Node n) => new(ActKind.Identity, Array.ConvertAll(Suffixes, s => n.Layer + s), n.Ints[0]);

    static string Offsets(CpuContext c, Node n) =>
        $"{c.Offset(n.Layer + Suffixes[0])}, {c.Offset(n.Layer + Suffixes[1])}, {c.Offset(n.Layer + Suffixes[2])}";

    /// <summary>Io: x, y.</summary>
    static readonly Kernel ForwardKernel = new("RPRelu",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.BinaryActivationKernel.RPReluForward({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, P, {Offsets(c, s.Node!)}, {c.V(s.Io[1])});"),
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.RPReluForward({g.N}, {Dims(n)}, {g.V(s.Io[0])}, {g.Param(n.Layer + Suffixes[0])}, {g.Param(n.Layer + Suffixes[1])}, {g.Param(n.Layer + Suffixes[2])}, {g.V(s.Io[1])});");
        });

    /// <summary>Io: x (the forward's input), dy, dx. The parameter gradients accumulate into theirs.</summary>
    static readonly Kernel BackKernel = new("RPReluBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.BinaryActivationKernel.RPReluBackward({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, P, {Offsets(c, s.Node!)}, {c.V(s.Io[2])}, {EmitContext.Acc(s)}, G, {Offsets(c, s.Node!)});"),
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.RPReluBackward({g.N}, {Dims(n)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.Param(n.Layer + Suffixes[0])}, {g.Param(n.Layer + Suffixes[1])}, {g.V(s.Io[2])}, {EmitContext.Acc(s)}, {g.Grad(n.Layer + Suffixes[0])}, {g.Grad(n.Layer + Suffixes[1])}, {g.Grad(n.Layer + Suffixes[2])});");
        });
}
