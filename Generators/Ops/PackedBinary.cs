// The deploy form of binary layers (Passes/BinaryDeploy.cs rewrites the evaluation graph into these; no DSL surface):
//   BinaryPack          a Sign / RSign as bits: bit = x < threshold (RSign: threshold = -b, so x + b < 0; Sign: 0),
//                       packed channels-last into the bit arena (BitPack.PackActivations, GpuKernels.BinaryPackActivations);
//   PackedBinaryConv2d  XNOR-popcount convolution over packed input bits and 1-bit weights (a BitStore tensor), with
//   PackedBinaryLinear  XNOR-Net's scale, the bias and the evaluation BatchNorm folded into one per-channel scale/shift,
//                       the Bi-Real shortcut added in the same epilogue (BinaryConvKernel, GpuKernels.BinaryConvForward);
//                       when the output only feeds the next binary layer's sign, the epilogue writes that sign's bits
//                       (ForwardPacked, threshold "{layer}.out_threshold") and no float tensor sits between the two.
// Their values live where OpDef.PackedWords puts them: bits in the program's bit arena. They are inference-only: the
// training step of a deploy model with packed layers throws (train the latent model, then ToDeploy).
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string BinaryPack = "BinaryPack";
    public const string PackedBinaryConv2d = "PackedBinaryConv2d";
    public const string PackedBinaryLinear = "PackedBinaryLinear";
}

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

    /// <summary>ONNX: the bits are ±1 floats (OnnxGraphBuilder.PackSign), the XNOR-popcount a Conv / Gemm on the unpacked ±1
    /// weights, the epilogue a Mul and Adds; a packed output is the next sign of the result.</summary>
    protected static string OnnxEpilogue(OnnxContext o, Node n, string acc, bool spatial, bool packedOut, string? outThreshold)
    {
        int c = n.Shape[n.Shape.Count - (spatial ? 3 : 1)];
        string shape = spatial ? $"new int[] {{ {c}, 1, 1 }}" : $"new int[] {{ {c} }}";
        string y = $"b.Add(b.Mul({acc}, b.Parameter(p, {OnnxContext.Str(PackedNames.Scale(n))}, {shape})), b.Parameter(p, {OnnxContext.Str(PackedNames.Shift(n))}, {shape}))";
        if (n.Inputs.Count > 1) y = $"b.Add({y}, {o.In(n, 1)})";
        if (!packedOut) return y;
        string t = outThreshold is null ? "null" : $"b.Parameter(p, {OnnxContext.Str(outThreshold)}, {shape})";
        return $"b.PackSign({y}, {t})";
    }

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
/// "{layer}.scale" and "{layer}.shift" (floats), and with a packed output "{layer}.out_threshold".</summary>
internal static class PackedNames
{
    public static string Bits(Node n) => n.Layer + ".weight_bits";
    public static string Scale(Node n) => n.Layer + ".scale";
    public static string Shift(Node n) => n.Layer + ".shift";
    public static string OutThreshold(Node n) => n.Layer + ".out_threshold";
}

/// <summary>PackedBinaryConv2d attributes: Conv2d's 12 ints (ConvAttrs) then [packedOut, residual, outThreshold].
/// Inputs: packed x, then the residual (floats of the output's shape) when residual is 1.
/// Io: x (bits), y (floats, or bits when packedOut), [residual].</summary>
internal sealed class PackedBinaryConv2dOp : PackedBinaryOpBase
{
    public override string Name => OpKind.PackedBinaryConv2d;

    public static bool PackedOut(Node n) => n.Ints[12] != 0;

    public override int PackedWords(Node n) => PackedOut(n) ? n.Shape[n.Shape.Count - 2] * n.Shape[n.Shape.Count - 1] * ((new ConvAttrs(n).Cout + 63) >> 6) : 0;

    protected override void LowerInference(Lowering cx, Node n)
    {
        var io = n.Inputs.Count > 1
            ? new[] { cx.Value(n.Inputs[0]), cx.Value(n.Id), cx.Value(n.Inputs[1]) }
            : new[] { cx.Value(n.Inputs[0]), cx.Value(n.Id) };
        cx.Add(new Step(PackedOut(n) ? ForwardBits : ForwardFloat, n, io));
    }

    public override string? Onnx(OnnxContext o, Node n)
    {
        var a = new ConvAttrs(n);
        string w = $"b.UnpackedBinaryWeight(p, {OnnxContext.Str(PackedNames.Bits(n))}, {a.Cout}, {a.Cin}, {a.Kh}, {a.Kw})";
        string conv = $"b.Conv({o.In(n, 0)}, {w}, null, new {EmitCommon.CpuNs}.Conv2dShape{Conv2dOp.ShapeArgs(o.Model, n)})";
        return OnnxEpilogue(o, n, conv, true, PackedOut(n), OutThreshold(n));
    }

    static string? OutThreshold(Node n) => n.Ints[14] != 0 ? PackedNames.OutThreshold(n) : null;

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

    static string Epilogue(CpuContext c, Node n) => $"{c.Param(PackedNames.Scale(n))}, {c.Param(PackedNames.Shift(n))}";

    static string Epilogue(GpuContext g, Node n) => $"{g.Param(PackedNames.Scale(n))}, {g.Param(PackedNames.Shift(n))}";

    static readonly Kernel ForwardFloat = new("PackedBinaryConv",
        (c, s) =>
        {
            var n = s.Node!;
            string taps = TapSums(c, n);
            string residual = s.Io.Length > 2 ? c.V(s.Io[2]) : "default";
            c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.Forward<{EmitCommon.CpuNs}.Identity>(in {CpuShape(c, n)}, n, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(n))}, {taps}, 0, {Epilogue(c, n)}, {c.V(s.Io[1])}, {residual});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string residual = s.Io.Length > 2 ? g.V(s.Io[2]) : "default";
            g.Line($"__k.BinaryConvForward<{EmitCommon.CpuNs}.Identity>({GpuShape(g, n)}, n, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(n))}, {Epilogue(g, n)}, {g.V(s.Io[1])}, {residual});");
        });

    static readonly Kernel ForwardBits = new("PackedBinaryConvToBits",
        (c, s) =>
        {
            var n = s.Node!;
            string taps = TapSums(c, n);
            c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.ForwardPacked<{EmitCommon.CpuNs}.Identity>(in {CpuShape(c, n)}, n, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(n))}, {taps}, 0, {Epilogue(c, n)}, {Threshold(c, OutThreshold(n))}, {c.BV(s.Io[1])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.BinaryConvForwardPacked<{EmitCommon.CpuNs}.Identity>({GpuShape(g, n)}, n, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(n))}, {Epilogue(g, n)}, {Threshold(g, OutThreshold(n))}, {g.BV(s.Io[1])});");
        });
}

/// <summary>PackedBinaryLinear attributes: [in, out, packedOut, residual, outThreshold]; inputs and Io as
/// PackedBinaryConv2d's.</summary>
internal sealed class PackedBinaryLinearOp : PackedBinaryOpBase
{
    public override string Name => OpKind.PackedBinaryLinear;

    public static bool PackedOut(Node n) => n.Ints[2] != 0;

    public override int PackedWords(Node n) => PackedOut(n) ? (n.Ints[1] + 63) >> 6 : 0;

    protected override void LowerInference(Lowering cx, Node n)
    {
        var io = n.Inputs.Count > 1
            ? new[] { cx.Value(n.Inputs[0]), cx.Value(n.Id), cx.Value(n.Inputs[1]) }
            : new[] { cx.Value(n.Inputs[0]), cx.Value(n.Id) };
        cx.Add(new Step(PackedOut(n) ? ForwardBits : ForwardFloat, n, io));
    }

    public override string? Onnx(OnnxContext o, Node n)
    {
        string w = $"b.UnpackedBinaryWeight(p, {OnnxContext.Str(PackedNames.Bits(n))}, {n.Ints[1]}, {n.Ints[0]}, 1, 1, linear: true)";
        return OnnxEpilogue(o, n, $"b.Gemm({o.In(n, 0)}, {w}, null, transB: true)", false, PackedOut(n), OutThreshold(n));
    }

    static string Dims(Node n) => $"{n.Ints[0]}, {n.Ints[1]}";

    static string? OutThreshold(Node n) => n.Ints[4] != 0 ? PackedNames.OutThreshold(n) : null;

    static string Epilogue(CpuContext c, Node n) => $"{c.Param(PackedNames.Scale(n))}, {c.Param(PackedNames.Shift(n))}";

    static string Epilogue(GpuContext g, Node n) => $"{g.Param(PackedNames.Scale(n))}, {g.Param(PackedNames.Shift(n))}";

    static readonly Kernel ForwardFloat = new("PackedBinaryLinear",
        (c, s) =>
        {
            var n = s.Node!;
            string residual = s.Io.Length > 2 ? c.V(s.Io[2]) : "default";
            c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.LinearForward<{EmitCommon.CpuNs}.Identity>(n, {Dims(n)}, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(n))}, {Epilogue(c, n)}, {c.V(s.Io[1])}, {residual});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string residual = s.Io.Length > 2 ? g.V(s.Io[2]) : "default";
            g.Line($"__k.BinaryLinearForward<{EmitCommon.CpuNs}.Identity>(n, {Dims(n)}, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(n))}, {Epilogue(g, n)}, {g.V(s.Io[1])}, {residual});");
        });

    static readonly Kernel ForwardBits = new("PackedBinaryLinearToBits",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{EmitCommon.CpuNs}.BinaryConvKernel.LinearForwardPacked<{EmitCommon.CpuNs}.Identity>(n, {Dims(n)}, {c.BV(s.Io[0])}, {c.BitParam(PackedNames.Bits(n))}, {Epilogue(c, n)}, {Threshold(c, OutThreshold(n))}, {c.BV(s.Io[1])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.BinaryLinearForwardPacked<{EmitCommon.CpuNs}.Identity>(n, {Dims(n)}, {g.BV(s.Io[0])}, {g.BitParam(PackedNames.Bits(n))}, {Epilogue(g, n)}, {Threshold(g, OutThreshold(n))}, {g.BV(s.Io[1])});");
        });
}
