// The deploy form of binary layers (Passes/BinaryDeploy.cs rewrites the evaluation graph into these; no DSL surface):
//   BinaryPack          a Sign / RSign as bits: bit = x < threshold (RSign: threshold = -b, so x + b < 0; Sign: 0),
//                       packed channels-last into the bit arena (BitPack.PackActivations, GpuKernels.BinaryPackActivations);
//   PackedBinaryConv2d  XNOR-popcount convolution over packed input bits and 1-bit weights (a BitStore tensor), with
//   PackedBinaryLinear  XNOR-Net's scale, the bias and the evaluation BatchNorm folded into one per-channel scale/shift,
//                       the Bi-Real shortcut and the activation after it (RPReLU per channel, or any functor activation)
//                       in the same epilogue (BinaryConvKernel.ForwardFused, GpuKernels.BinaryConvForwardFused);
//                       when the output feeds the next binary layer's sign, the epilogue writes that sign's bits
//                       (threshold "{layer}.out_threshold"): as its only output when nothing else reads the value, or
//                       next to the floats (a Bi-Real block's output, read by the next shortcut too), the bits then
//                       being the value of a PackedSignBits node that no kernel of its own computes.
// Their values live where OpDef.PackedWords puts them: bits in the program's bit arena. They are inference-only: the
// training step of a deploy model with packed layers throws (train the latent model, then ToDeploy).
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string BinaryPack = "BinaryPack";
    public const string PackedBinaryConv2d = "PackedBinaryConv2d";
    public const string PackedBinaryLinear = "PackedBinaryLinear";
    public const string PackedSignBits = "PackedSignBits";
}

/// <summary>How an activation runs in a packed layer's epilogue (<see cref="OpDef.PackedEpilogue"/>): a functor applied last,
/// after the per-channel RPReLU whose three vectors (b0, a, b1) are <paramref name="ChannelParams"/> (null: none), over
/// <paramref name="Channels"/> channels (0: any).</summary>
internal sealed record PackedEpilogueAct(ActKind Functor, string[]? ChannelParams, int Channels = 0);

/// <summary>What the packed ops share: the training step refuses them.</summary>
internal abstract class PackedBinaryOpBase : OpDef
{
    /// <summary>No Io: a deploy model with packed binary layers computes no gradients.</summary>
    static readonly Kernel NotTrainable = new("PackedNotTrainable",
        (c, s) => c.Line($"throw new global::System.NotSupportedException(\"{c.Model.ClassName} runs '{Storage.Label(s.Node!)}' as packed bits (XNOR-popcount), which has no gradient: train the latent model and call ToDeploy again.\");"),
        (g, s) => g.Line($"throw new global::System.NotSupportedException(\"{g.Model.ClassName} runs '{Storage.Label(s.Node!)}' as packed bits (XNOR-popcount), which has no gradient: train the latent model and call ToDeploy again.\");"));

    public sealed override void Lower(Lowering cx, Node n)
    {
        if (cx.Train) cx.Add(new Step(NotTrainable, n));
        else LowerInference(cx, n);
    }

    protected abstract void LowerInference(Lowering cx, Node n);

    public override void Backward(Autodiff cx, Step forward) { }

    /// <summary>The threshold argument: "P, offset" of a threshold tensor, or none (0).</summary>
    protected static string Threshold(CpuContext c, string? name) => name is null ? "null, 0" : c.Param(name);

    protected static string Threshold(GpuContext g, string? name) => name is null ? "default" : g.Param(name);
}

/// <summary>BinaryPack attributes: Ints [C, H, W, hasThreshold]; Layer: the RSign whose "{layer}.threshold" it reads
/// (empty for Ops.Sign). Io: x (floats), y (bits).</summary>
internal sealed class BinaryPackOp : PackedBinaryOpBase
{
    public override string Name => OpKind.BinaryPack;

    public override int PackedWords(Node n) => Words(n);

    static int Words(Node n) => n.Ints[1] * n.Ints[2] * ((n.Ints[0] + 63) >> 6);

    public static string? ThresholdName(Node n) => n.Ints[3] != 0 ? n.Layer + ".threshold" : null;

    protected override void LowerInference(Lowering cx, Node n) =>
        cx.Add(new Step(Pack, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)));

    public override string? Onnx(OnnxContext o, Node n)
    {
        string shape = n.Shape.Count == 3 ? $"new int[] {{ {n.Ints[0]}, 1, 1 }}" : $"new int[] {{ {n.Ints[0]} }}";
        return ThresholdName(n) is { } t ? $"b.PackSign({o.In(n, 0)}, b.Parameter(p, {OnnxContext.Str(t)}, {shape}))" : $"b.PackSign({o.In(n, 0)}, null)";
    }

    static string Dims(Node n) => $"{n.Ints[0]}, {n.Ints[1]}, {n.Ints[2]}";

    static readonly Kernel Pack = new("BinaryPack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.BitPack.PackActivations(n, {Dims(s.Node!)}, {c.V(s.Io[0])}, {Threshold(c, ThresholdName(s.Node!))}, {c.BV(s.Io[1])});"),
        (g, s) => g.Line($"__k.BinaryPackActivations(n, {Dims(s.Node!)}, {g.V(s.Io[0])}, {Threshold(g, ThresholdName(s.Node!))}, {g.BV(s.Io[1])});"));
}

/// <summary>The tensors of a packed conv or linear node named <c>{layer}</c>: "{layer}.weight_bits" (bits),
/// "{layer}.scale" and "{layer}.shift" (floats), with a packed output "{layer}.out_threshold", with an RPReLU in the
/// epilogue its vectors "{layer}.act" + RPReLU's suffixes.</summary>
internal static class PackedNames
{
    public static string Bits(Node n) => n.Layer + ".weight_bits";
    public static string Scale(Node n) => n.Layer + ".scale";
    public static string Shift(Node n) => n.Layer + ".shift";
    public static string OutThreshold(Node n) => n.Layer + ".out_threshold";
    public static string Act(string layer, int i) => layer + ".act" + RPReluOp.Suffixes[i];
}

/// <summary>What the packed conv and linear nodes share. Their Ints end in the epilogue's attributes, from <see cref="Tail"/>:
/// [output (0 floats, 1 bits, 2 both), residual, outThreshold, activation functor (ActKind), rprelu, bits node (output 2)].
/// Inputs: packed x, then the residual (floats of the output's shape) when residual is 1. The node's value is its floats,
/// or its bits with output 1; with output 2 the bits are the value of the PackedSignBits node whose id the Ints give.
/// Io: x (bits), the value, [residual], [the bits node's value].</summary>
internal abstract class PackedLayerOpBase : PackedBinaryOpBase
{
    /// <summary>Index of the first epilogue attribute in Ints.</summary>
    protected abstract int Tail { get; }

    public int Output(Node n) => n.Ints[Tail];
    public bool Residual(Node n) => n.Ints[Tail + 1] != 0;
    public string? OutThreshold(Node n) => n.Ints[Tail + 2] != 0 ? PackedNames.OutThreshold(n) : null;
    public ActKind Functor(Node n) => (ActKind)n.Ints[Tail + 3];
    public bool RPRelu(Node n) => n.Ints[Tail + 4] != 0;
    public int BitsNode(Node n) => n.Ints[Tail + 5];

    /// <summary>The epilogue attributes in Ints' order.</summary>
    public static int[] EpilogueInts(int output, bool residual, bool outThreshold, ActKind functor, bool rprelu, int bitsNode) =>
        new[] { output, residual ? 1 : 0, outThreshold ? 1 : 0, (int)functor, rprelu ? 1 : 0, bitsNode };

    /// <summary>Packed words per sample of the output bits (its channels at each output position).</summary>
    protected abstract int OutWords(Node n);

    public override int PackedWords(Node n) => Output(n) == 1 ? OutWords(n) : 0;

    protected override void LowerInference(Lowering cx, Node n)
    {
        var io = new List<Ref> { cx.Value(n.Inputs[0]), cx.Value(n.Id) };
        if (Residual(n)) io.Add(cx.Value(n.Inputs[1]));
        if (Output(n) == 2) io.Add(cx.Value(BitsNode(n)));
        cx.Add(new Step(Forward, n, io.ToArray()));
    }

    protected abstract Kernel Forward { get; }

    /// <summary>The kernel arguments after the weights: scale, shift, residual, RPReLU, floats, threshold, bits.</summary>
    protected string EpilogueArgs(CpuContext c, Step s)
    {
        var n = s.Node!;
        string residual = Residual(n) ? c.V(s.Io[2]) : "default";
        string act = RPRelu(n)
            ? $"new {EmitCommon.CpuNs}.RPReluParams(P, {c.Offset(PackedNames.Act(n.Layer, 0))}, {c.Offset(PackedNames.Act(n.Layer, 1))}, {c.Offset(PackedNames.Act(n.Layer, 2))})"
            : "default";
        string y = Output(n) == 1 ? "default" : c.V(s.Io[1]);
        string bits = Output(n) switch { 1 => c.BV(s.Io[1]), 2 => c.BV(s.Io[s.Io.Length - 1]), _ => "default" };
        return $"{c.Param(PackedNames.Scale(n))}, {c.Param(PackedNames.Shift(n))}, {residual}, {act}, {y}, {Threshold(c, OutThreshold(n))}, {bits}";
    }

    protected string EpilogueArgs(GpuContext g, Step s)
    {
        var n = s.Node!;
        string residual = Residual(n) ? g.V(s.Io[2]) : "default";
        string act = RPRelu(n)
            ? $"new global::Authoring.Gpu.GRPReluParams({g.Param(PackedNames.Act(n.Layer, 0))}, {g.Param(PackedNames.Act(n.Layer, 1))}, {g.Param(PackedNames.Act(n.Layer, 2))})"
            : "default";
        string y = Output(n) == 1 ? "default" : g.V(s.Io[1]);
        string bits = Output(n) switch { 1 => g.BV(s.Io[1]), 2 => g.BV(s.Io[s.Io.Length - 1]), _ => "default" };
        string threshold = OutThreshold(n) is { } t ? g.Param(t) : "default";
        return $"{g.Param(PackedNames.Scale(n))}, {g.Param(PackedNames.Shift(n))}, {residual}, {act}, {y}, {threshold}, {bits}";
    }

    protected string Act(Node n) => EmitCommon.Act(Functor(n));

    /// <summary>ONNX: the bits are ±1 floats (OnnxGraphBuilder.PackSign), the XNOR-popcount a Conv / Gemm on the unpacked ±1
    /// weights, the epilogue a Mul and Adds, the RPReLU Add, PRelu, Add, the functor its ONNX form; a bits-only output is
    /// the next sign of the result (with output 2 the PackedSignBits node is).</summary>
    protected string? OnnxEpilogue(OnnxContext o, Node n, string acc, bool spatial)
    {
        int c = n.Shape[n.Shape.Count - (spatial ? 3 : 1)];
        string shape = spatial ? $"new int[] {{ {c}, 1, 1 }}" : $"new int[] {{ {c} }}";
        string P(string name) => $"b.Parameter(p, {OnnxContext.Str(name)}, {shape})";
        string y = $"b.Add(b.Mul({acc}, {P(PackedNames.Scale(n))}), {P(PackedNames.Shift(n))})";
        if (Residual(n)) y = $"b.Add({y}, {o.In(n, 1)})";
        if (RPRelu(n)) y = $"b.Add(b.PRelu(b.Add({y}, {P(PackedNames.Act(n.Layer, 0))}), {P(PackedNames.Act(n.Layer, 1))}), {P(PackedNames.Act(n.Layer, 2))})";
        if (ActivationOp.OnnxOf(Functor(n), y) is not { } activated) return null;
        if (Output(n) != 1) return activated;
        string t = OutThreshold(n) is { } name ? P(name) : "null";
        return $"b.PackSign({activated}, {t})";
    }
}

/// <summary>PackedBinaryConv2d attributes: Conv2d's 12 ints (ConvAttrs), then the epilogue's (<see cref="PackedLayerOpBase"/>).</summary>
internal sealed class PackedBinaryConv2dOp : PackedLayerOpBase
{
    public override string Name => OpKind.PackedBinaryConv2d;

    protected override int Tail => 12;

    protected override int OutWords(Node n) => n.Shape[n.Shape.Count - 2] * n.Shape[n.Shape.Count - 1] * ((new ConvAttrs(n).Cout + 63) >> 6);

    public override string? Onnx(OnnxContext o, Node n)
    {
        var a = new ConvAttrs(n);
        string w = $"b.UnpackedBinaryWeight(p, {OnnxContext.Str(PackedNames.Bits(n))}, {a.Cout}, {a.Cin}, {a.Kh}, {a.Kw})";
        string conv = $"b.Conv({o.In(n, 0)}, {w}, null, new {EmitCommon.CpuNs}.Conv2dShape{Conv2dOp.ShapeArgs(o.Model, n)})";
        return OnnxEpilogue(o, n, conv, true);
    }

    static string CpuShape(CpuContext c, Node n) => c.ShapeField("Conv2dShape", "new" + Conv2dOp.ShapeArgs(c.Model, n));

    static string GpuShape(GpuContext g, Node n) => $"new {EmitCommon.CpuNs}.Conv2dShape" + Conv2dOp.ShapeArgs(g.Model, n);

    /// <summary>The tap sums (what zero padding removes from the +1-padded popcount) are derived from the bits on each
    /// call into a field of their own: a few popcounts per weight word, against H * W * n per word in the conv itself.</summary>
    static string TapSums(CpuContext c, Node n)
    {
        string field = $"__tapSums{n.Id}";
        var a = new ConvAttrs(n);
        int count = a.Kh * a.Kw * ((a.Cout + 15) / 16 * 16);
        c.Member(field, w => w.Line($"readonly int[] {field} = new int[{count}];"));
        c.Line($"{EmitCommon.CpuNs}.BitPack.ConvTapSums(in {CpuShape(c, n)}, {c.BitParam(PackedNames.Bits(n))}, {field}, 0);");
        return field;
    }

    Kernel? _forward;

    protected override Kernel Forward => _forward ??= new("PackedBinaryConv",
        (c, s) =>
        {
            var n = s.Node!;
            string taps = TapSums(c, n);
            c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.ForwardFused<{Act(n)}>(in {CpuShape(c, n)}, n, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(n))}, {taps}, 0, {EpilogueArgs(c, s)});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.BinaryConvForwardFused<{Act(n)}>({GpuShape(g, n)}, n, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(n))}, {EpilogueArgs(g, s)});");
        });
}

/// <summary>PackedBinaryLinear attributes: [in, out], then the epilogue's (<see cref="PackedLayerOpBase"/>).</summary>
internal sealed class PackedBinaryLinearOp : PackedLayerOpBase
{
    public override string Name => OpKind.PackedBinaryLinear;

    protected override int Tail => 2;

    protected override int OutWords(Node n) => (n.Ints[1] + 63) >> 6;

    public override string? Onnx(OnnxContext o, Node n)
    {
        string w = $"b.UnpackedBinaryWeight(p, {OnnxContext.Str(PackedNames.Bits(n))}, {n.Ints[1]}, {n.Ints[0]}, 1, 1, linear: true)";
        return OnnxEpilogue(o, n, $"b.Gemm({o.In(n, 0)}, {w}, null, transB: true)", false);
    }

    static string Dims(Node n) => $"{n.Ints[0]}, {n.Ints[1]}";

    Kernel? _forward;

    protected override Kernel Forward => _forward ??= new("PackedBinaryLinear",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.LinearForwardFused<{Act(s.Node!)}>(n, {Dims(s.Node!)}, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(s.Node!))}, {EpilogueArgs(c, s)});"),
        (g, s) => g.Line($"__k.BinaryLinearForwardFused<{Act(s.Node!)}>(n, {Dims(s.Node!)}, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(s.Node!))}, {EpilogueArgs(g, s)});"));
}

/// <summary>PackedSignBits: the bits of a sign that the packed layer it reads (a node of output 2) writes next to its floats
/// in the same epilogue; no kernel of its own. Attributes: Ints [C, H, W, hasThreshold] (the layer's out_threshold).
/// Inputs: the packed layer.</summary>
internal sealed class PackedSignBitsOp : OpDef
{
    public override string Name => OpKind.PackedSignBits;

    public override int PackedWords(Node n) => n.Ints[1] * n.Ints[2] * ((n.Ints[0] + 63) >> 6);

    // The producer's step writes the bits (its Io names this node's value), in training too where it throws.
    public override void Lower(Lowering cx, Node n) { }

    public override void Backward(Autodiff cx, Step forward) { }

    public override string? Onnx(OnnxContext o, Node n)
    {
        string shape = n.Shape.Count == 3 ? $"new int[] {{ {n.Ints[0]}, 1, 1 }}" : $"new int[] {{ {n.Ints[0]} }}";
        return n.Ints[3] != 0
            ? $"b.PackSign({o.In(n, 0)}, b.Parameter(p, {OnnxContext.Str(n.Layer + ".out_threshold")}, {shape}))"
            : $"b.PackSign({o.In(n, 0)}, null)";
    }
}
