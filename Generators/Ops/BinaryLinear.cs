// BinaryLinear: y = x wb^T (+ b) over a ±1 (F) input (an Ops.Sign or RSign output), wb = alpha[o] sign(w) binarised
// from the latent weight w [out, in] on every forward; the state, training and gradient scheme are BinaryConv2d's
// (BinaryWeights in BinaryConv2d.cs), the kernels LinearKernel's on wb.
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
    public const string BinaryLinear = "BinaryLinear";
}

/// <summary>BinaryLinear attributes: [in, out, bias, scaled, weightGradient].</summary>
internal sealed class BinaryLinearOp : EpilogueHostOp, IBinaryHost
{
    public override string Name => OpKind.BinaryLinear;

    public override IEnumerable<string> LayerTypes => new[] { "BinaryLinear" };

    public override int OutChannels(Node n) => n.Ints[1];

    public override bool HasBias(Node n) => n.Ints[2] != 0;

    /// <summary>The input is one (features) vector per sample.</summary>
    protected override int Fold(Node x) => 1;

    public (int Cout, int K, bool Scaled, int Mode) BinaryLayout(Node n) => (n.Ints[1], n.Ints[0], n.Ints[3] != 0, n.Ints[4]);

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int inF = layer.Int("inFeatures"), outF = layer.Int("outFeatures"), mode = layer.Int("weightGradient");
        bool bias = layer.Bool("bias"), scaled = layer.Bool("scaled");
        if (inF <= 0 || outF <= 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, "feature counts must be positive");
            return -1;
        }
        if ((long)inF * outF > int.MaxValue)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, $"the weight [{outF}, {inF}] has more than {int.MaxValue} elements");
            return -1;
        }
        if (!BinaryWeights.CheckMode(p, layer, what, scaled, mode)) return -1;
        var shape = p.ShapeOf(x);
        if (shape.Length != 1)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, $"expects a (features) input, got {OpRules.Format(shape)}: Flatten before the Sign");
            return -1;
        }
        var rule = LinearOp.Shape(shape, inF, outF);
        if (rule.Shape is null)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, rule.Error!);
            return -1;
        }
        if (!BinaryWeights.CheckInput(p, x, what, loc)) return -1;
        int id = p.AddNode(Name, new[] { x }, rule.Shape, new[] { inF, outF, bias ? 1 : 0, scaled ? 1 : 0, mode }, 0, 0, layer.Name, loc);
        if (id < 0) return -1;
        p.AddParam(new ParamSpec(layer.Name + ".weight", new[] { outF, inF }.ToEquatableArray(), "Weight", "KaimingUniform", inF, outF));
        if (bias) p.AddParam(new ParamSpec(layer.Name + ".bias", new[] { outF }.ToEquatableArray(), "Bias", "BiasUniform", inF, outF));
        return id;
    }

    /// <summary>Gemm on the binarised weight, computed at export time from the latent one (OnnxGraphBuilder.BinaryWeight).</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string bias = HasBias(n) ? $"b.Parameter(p, {OnnxContext.Str(n.Layer + ".bias")})" : "null";
        return $"b.Gemm({o.In(n, 0)}, b.BinaryWeight(p, {OnnxContext.Str(n.Layer)}, scaled: {OnnxContext.Bool(n.Ints[3] != 0)}), {bias}, transB: true)";
    }

    protected override int PrepareWeights(Lowering cx, Node n) => BinaryWeights.Prepare(cx, n);

    public override void Backward(Autodiff cx, Step f)
    {
        BinaryWeights.BeforeBackward(cx, f);
        base.Backward(cx, f);
        BinaryWeights.AfterBackward(cx, f);
    }

    /// <summary>Io: x, y; weights wb from the state array.</summary>
    static readonly Kernel ForwardKernel = new("BinaryLinear",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.Forward<{EmitCommon.Act(s.Act)}>({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {BinaryWeights.Wb(s)}, {Epilogue(c, s)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.LinearForward<{EmitCommon.Act(s.Act)}>({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {BinaryWeights.Wb(g, s)}, {Epilogue(g, s)}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel BackDataKernel = new("BinaryLinearBackData",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.BackwardData({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {BinaryWeights.Wb(s)}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.LinearBackwardData({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {BinaryWeights.Wb(g, s)}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: x, dy; adds into dwb.</summary>
    static readonly Kernel BackWeightsKernel = new("BinaryLinearBackWeights",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.BackwardWeights({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {BinaryWeights.Dwb(s)});"),
        (g, s) => g.Line($"__k.LinearBackwardWeights({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {BinaryWeights.Dwb(g, s)});"));

    protected override Kernel Forward => ForwardKernel;
    protected override Kernel BackwardData => BackDataKernel;
    protected override Kernel BackwardWeights => BackWeightsKernel;
}
