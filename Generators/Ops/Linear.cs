// Linear: PyTorch's nn.Linear y = x W^T + b over (features) inputs, weight [out, in]. Kernels: Runtime
// LinearKernel (GEMM with the epilogue) and GpuKernels.Linear*.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Linear = "Linear";
}

/// <summary>Linear attributes: [in, out, bias].</summary>
internal sealed class LinearOp : EpilogueHostOp
{
    public override string Name => OpKind.Linear;

    public override IEnumerable<string> LayerTypes => new[] { "Linear" };

    public override int OutChannels(Node n) => n.Ints[1];

    public override bool HasBias(Node n) => n.Ints[2] != 0;

    /// <summary>Every axis but the last is a row of the GEMM: (N, F), (H, N, F) and (T, H, N, F) alike.</summary>
    protected override int Fold(Node x) => x.Size / x.Shape[x.Shape.Count - 1];

    /// <summary>PyTorch's rule: the last axis holds the features; leading axes (tokens, time steps) are kept.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int inF, int outF)
    {
        int f = x[x.Length - 1];
        if (f != inF)
            return (null, $"expects {inF} input features on the last axis, got {f} (input shape {OpRules.Format(x)})" + (x.Length >= 3 ? ": Flatten an image first" : ""));
        return WithLeading(x, 1, new[] { (long)outF });
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int inF = layer.Int("inFeatures"), outF = layer.Int("outFeatures");
        bool bias = layer.Bool("bias");
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
        var rule = Shape(p.ShapeOf(x), inF, outF);
        // A flattened input hides the shape that explains the count: name it.
        var xn = p.NodeAt(x);
        if (rule.Error is not null && xn.Op == OpKind.Reshape)
            rule = (null, rule.Error + $" (the flattened {OpRules.Format(p.NodeAt(xn.Inputs[0]).Shape)})");
        int id = p.Shaped(Name, what, new[] { x }, rule, new[] { inF, outF, bias ? 1 : 0 }, 0, 0, layer.Name, loc);
        if (id < 0) return -1;
        p.AddParam(new ParamSpec(layer.Name + ".weight", new[] { outF, inF }.ToEquatableArray(), "Weight", "KaimingUniform", inF, outF));
        if (bias) p.AddParam(new ParamSpec(layer.Name + ".bias", new[] { outF }.ToEquatableArray(), "Bias", "BiasUniform", inF, outF));
        return id;
    }

    /// <summary>Gemm (transB) over (batch, in); over (batch, ..., in) Gemm would need 2-D operands, so MatMul with the
    /// transposed weight (numpy broadcasting of the leading axes) plus the bias.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string layer = OnnxContext.Str(n.Layer), x = o.In(n, 0);
        if (o.ShapeOf(n.Inputs[0]).Length == 1) return $"b.Linear({x}, p, {layer}, hasBias: {OnnxContext.Bool(HasBias(n))})";
        string product = $"b.MatMul({x}, b.Transpose(b.Parameter(p, {OnnxContext.Str(n.Layer + ".weight")}), new int[] {{ 1, 0 }}))";
        return HasBias(n) ? $"b.Add({product}, b.Parameter(p, {OnnxContext.Str(n.Layer + ".bias")}))" : product;
    }

    /// <summary>Io: x, y. Epilogue: folded BatchNorm1d (State, Bn) or bias; activation Act.</summary>
    static readonly Kernel ForwardKernel = new("Linear",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.Forward<{EmitCommon.Act(s.Act)}>({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {c.Param(s.Node.Layer + ".weight")}, {Epilogue(c, s)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.LinearForward<{EmitCommon.Act(s.Act)}>({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {g.Param(s.Node.Layer + ".weight")}, {Epilogue(g, s)}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel BackDataKernel = new("LinearBackData",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.BackwardData({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {c.Param(s.Node.Layer + ".weight")}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.LinearBackwardData({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {g.Param(s.Node.Layer + ".weight")}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: x, dy.</summary>
    static readonly Kernel BackWeightsKernel = new("LinearBackWeights",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.LinearKernel.BackwardWeights({c.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.Grad(s.Node.Layer + ".weight")});"),
        (g, s) => g.Line($"__k.LinearBackwardWeights({g.N}, {s.Node!.Ints[0]}, {s.Node.Ints[1]}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.Grad(s.Node.Layer + ".weight")});"));


    protected override Kernel Forward => ForwardKernel;
    protected override Kernel BackwardData => BackDataKernel;
    protected override Kernel BackwardWeights => BackWeightsKernel;
}
