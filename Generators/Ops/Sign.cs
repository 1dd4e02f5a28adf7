// The binarising sign of binary networks, y = sign(x) in {-1, +1} (sign(0) = +1), and ReActNet's RSign,
// y = sign(x + b[c]) with a learnt per-channel shift. The backward is a straight-through estimator, the clipped
// identity (BinaryNet, Larq's ste_sign) or Bi-Real Net's ApproxSign (ReActNet): the Runtime's ISignGradient structs.
// Kernels: Runtime BinaryActivationKernel.Sign* and GpuKernels.BinarySign*. Their output is what binary layers read
// (BinaryConv2d.cs), and the threshold the deploy form packs activations with (bit = x < -b).
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
    /// <summary>Ops.Sign (no parameters).</summary>
    public const string Sign = "Sign";
    /// <summary>The RSign layer (a learnt shift before the sign).</summary>
    public const string RSign = "RSign";
}

/// <summary>Sign attributes: Ints [estimator (the Dsl's SignEstimator), channels, positions per channel]; F0 = clip.
/// Ops.Sign is one channel over the whole sample.</summary>
internal class SignOp : OpDef
{
    public override string Name => OpKind.Sign;

    public override IEnumerable<string> OpsMethods => new[] { "Sign" };

    /// <summary>True for the values binary layers accept as input: a Sign or RSign output.</summary>
    public static bool IsSign(Node n) => n.Op is OpKind.Sign or OpKind.RSign;

    public static bool Approx(Node n) => n.Ints[0] == 1;

    static int Channels(Node n) => n.Ints[1];

    static int Positions(Node n) => n.Ints[2];

    protected virtual bool HasBias => false;

    /// <summary>The estimator and clip as written; null after a diagnostic at <paramref name="at"/>.</summary>
    protected static bool Valid(ModelParser p, string what, int estimator, float clip, LocationInfo? estimatorAt, LocationInfo? clipAt)
    {
        if (estimator is < 0 or > 1)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, estimatorAt, what, $"estimator {estimator} is not a SignEstimator value");
            return false;
        }
        if (!(clip > 0) || float.IsInfinity(clip))
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, clipAt, what, $"clip must be positive and finite, got {clip}");
            return false;
        }
        return true;
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        int? estimator = call.Int(1);
        float? clip = call.Float(2);
        if (x < 0 || estimator is null || clip is null) return -1;
        if (!Valid(p, "Sign", estimator.Value, clip.Value, call.ArgLocation(1), call.ArgLocation(2))) return -1;
        var shape = p.ShapeOf(x);
        long size = 1;
        foreach (int d in shape) size *= d;
        return p.AddNode(Name, new[] { x }, shape, new[] { estimator.Value, 1, (int)size }, clip.Value, 0, "", call.Location);
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(ForwardKernel, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (!cx.NeedsGrad(n.Id)) return;
        var dy = cx.Grad(n.Id);
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(BackKernel, n, f.Io[0], dy, cx.Grad(x)), 2);
        else if (HasBias)
        {
            // Only the shift needs a gradient: dx goes to scratch.
            var scratch = cx.NewBuffer(n.Size, "scratch dx " + Storage.Label(n));
            cx.Add(new Step(BackKernel, n, f.Io[0], dy, scratch));
        }
    }

    /// <summary>Our sign maps 0 to +1 (ONNX Sign maps it to 0): OnnxGraphBuilder.BinarySign. RSign's shift is
    /// broadcast over the positions of a (C, H, W) input.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string x = o.In(n, 0);
        if (n.Op != OpKind.RSign) return $"b.BinarySign({x})";
        string shape = o.ShapeOf(n.Inputs[0]).Length == 3 ? $"new int[] {{ {Channels(n)}, 1, 1 }}" : $"new int[] {{ {Channels(n)} }}";
        return $"b.BinarySign(b.Add({x}, b.Parameter(p, {OnnxContext.Str(Bias(n))}, {shape})))";
    }

    static string Dims(EmitContext c, Node n) => $"{Channels(n)}, {Positions(n)}";

    /// <summary>The estimator struct, as a generic argument and as a value.</summary>
    static (string Type, string Value) Estimator(Node n) => Approx(n)
        ? (EmitCommon.CpuNs + ".ApproxSign", $"default({EmitCommon.CpuNs}.ApproxSign)")
        : (EmitCommon.CpuNs + ".SteSign", $"new {EmitCommon.CpuNs}.SteSign({EmitCommon.F(n.F0)})");

    static string Bias(Node n) => n.Layer + ".bias";

    /// <summary>Io: x, y.</summary>
    static readonly Kernel ForwardKernel = new("Sign",
        (c, s) =>
        {
            var n = s.Node!;
            string b = n.Op == OpKind.RSign ? c.Param(Bias(n)) : "null, 0";
            c.Line($"{EmitCommon.CpuNs}.BinaryActivationKernel.SignForward({c.N}, {Dims(c, n)}, {c.V(s.Io[0])}, {b}, {c.V(s.Io[1])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string b = n.Op == OpKind.RSign ? g.Param(Bias(n)) : "default";
            g.Line($"__k.BinarySignForward({g.N}, {Dims(g, n)}, {g.V(s.Io[0])}, {b}, {g.V(s.Io[1])});");
        });

    /// <summary>Io: x (the forward's input), dy, dx. RSign's shift gradient accumulates into its parameter's.</summary>
    static readonly Kernel BackKernel = new("SignBack",
        (c, s) =>
        {
            var n = s.Node!;
            var (type, value) = Estimator(n);
            bool rs = n.Op == OpKind.RSign;
            string b = rs ? c.Param(Bias(n)) : "null, 0", db = rs ? c.Grad(Bias(n)) : "null, 0";
            c.Line($"{EmitCommon.CpuNs}.BinaryActivationKernel.SignBackward<{type}>({c.N}, {Dims(c, n)}, {value}, {c.V(s.Io[0])}, {b}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)}, {db});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            var (type, value) = Estimator(n);
            bool rs = n.Op == OpKind.RSign;
            string b = rs ? g.Param(Bias(n)) : "default", db = rs ? g.Grad(Bias(n)) : "default";
            g.Line($"__k.BinarySignBackward<{type}>({g.N}, {Dims(g, n)}, {value}, {g.V(s.Io[0])}, {b}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {EmitContext.Acc(s)}, {db});");
        });
}

/// <summary>ReActNet's RSign layer: Sign's attributes, the node's layer owning <c>{layer}.bias</c>.</summary>
internal sealed class RSignOp : SignOp
{
    public override string Name => OpKind.RSign;

    public override OpTraits Traits => OpTraits.Parameters;

    public override IEnumerable<string> OpsMethods => System.Array.Empty<string>();

    public override IEnumerable<string> LayerTypes => new[] { "RSign" };

    protected override bool HasBias => true;

    /// <summary>(channels, positions) of a per-channel layer over (C, H, W) or (F) inputs, or an error message.</summary>
    public static (int Channels, int Positions, string? Error) PerChannel(int[] x, int channels)
    {
        if (x.Length != 1 && x.Length != 3)
            return (0, 0, $"expects a (C, H, W) or (F) input, got {OpRules.Format(x)}");
        if (x[0] != channels) return (0, 0, $"expects {channels} channels, got {x[0]} (input shape {OpRules.Format(x)})");
        return (x[0], x.Length == 3 ? x[1] * x[2] : 1, null);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int channels = layer.Int("channels"), estimator = layer.Int("estimator");
        float clip = layer.Float("clip");
        if (channels <= 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("channels"), what, $"channels must be positive, got {channels}");
            return -1;
        }
        if (!Valid(p, what, estimator, clip, layer.LocationOf("estimator"), layer.LocationOf("clip"))) return -1;
        var shape = p.ShapeOf(x);
        var (c, hw, error) = PerChannel(shape, channels);
        if (error is not null)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, error);
            return -1;
        }
        int id = p.AddNode(Name, new[] { x }, shape, new[] { estimator, c, hw }, clip, 0, layer.Name, loc);
        if (id >= 0) p.AddParam(new ParamSpec(layer.Name + ".bias", new[] { channels }.ToEquatableArray(), "Bias", "Zeros", 0, 0));
        return id;
    }
}
