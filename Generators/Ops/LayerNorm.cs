// LayerNorm(dim, eps, elementwiseAffine, bias): PyTorch's nn.LayerNorm with normalized_shape = (dim,) over the last
// axis of a value of any rank (every leading axis is one more row). Parameters weight (ones) and bias (zeros) under
// the layer's state_dict names. Training saves each row's mean and 1/std in an arena buffer for the backward pass;
// the parameter gradients reduce over all rows in a fixed order on both backends. Kernels: Runtime LayerNormKernel
// and GpuKernels.LayerNorm*.
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
    public const string LayerNorm = "LayerNorm";
}

/// <summary>LayerNorm attributes: Ints [dim, affine, bias], F0 eps.</summary>
internal sealed class LayerNormOp : OpDef
{
    public override string Name => OpKind.LayerNorm;

    public override OpTraits Traits => OpTraits.Parameters;

    public override IEnumerable<string> LayerTypes => new[] { "LayerNorm" };

    /// <summary>PyTorch's rule: the last axis must hold <paramref name="dim"/> features; the shape is kept.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int dim)
    {
        int f = x[x.Length - 1];
        if (f != dim) return (null, $"normalizes a last axis of {dim}, got {f} (input shape {OpRules.Format(x)})");
        return (x, null);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int dim = layer.Int("dim");
        float eps = layer.Float("eps");
        bool affine = layer.Bool("elementwiseAffine"), bias = layer.Bool("bias");
        if (dim <= 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("dim"), what, $"dim must be positive, got {dim}");
            return -1;
        }
        if (!(eps > 0) || float.IsInfinity(eps))
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("eps"), what, $"eps must be positive and finite, got {eps}");
            return -1;
        }
        int id = p.Shaped(Name, what, new[] { x }, Shape(p.ShapeOf(x), dim), new[] { dim, affine ? 1 : 0, affine && bias ? 1 : 0 }, eps, 0, layer.Name, loc);
        if (id < 0) return -1;
        var shape = new[] { dim }.ToEquatableArray();
        if (affine) p.AddParam(new ParamSpec(layer.Name + ".weight", shape, "NormWeight", "Ones", 0, 0));
        if (affine && bias) p.AddParam(new ParamSpec(layer.Name + ".bias", shape, "NormBias", "Zeros", 0, 0));
        return id;
    }

    static int Dim(Node n) => n.Ints[0];
    static bool Affine(Node n) => n.Ints[1] != 0;
    static bool Bias(Node n) => n.Ints[2] != 0;
    static int Rows(Node n) => n.Size / Dim(n);

    /// <summary>LayerNormalization over the last axis; without an affine weight ONNX still needs a scale: ones.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string scale = Affine(n) ? $"b.Parameter(p, {OnnxContext.Str(n.Layer + ".weight")})" : $"b.Filled(1f, {Dim(n)})";
        string bias = Bias(n) ? $"b.Parameter(p, {OnnxContext.Str(n.Layer + ".bias")})" : "null";
        return $"b.LayerNormalization({o.In(n, 0)}, {scale}, {bias}, -1, {OnnxContext.F(n.F0)})";
    }

    public override void Lower(Lowering cx, Node n)
    {
        var x = cx.Value(n.Inputs[0]);
        if (!cx.Train)
        {
            cx.Add(new Step(Forward, n, x, cx.Value(n.Id)));
            return;
        }
        var stats = cx.NewBuffer(2 * Rows(n), "stats " + Storage.Label(n), pinned: true);
        cx.Add(new Step(ForwardTrain, n, x, cx.Value(n.Id), stats) { Owner = this });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        var dy = cx.Grad(n.Id);
        if (Affine(n)) cx.Add(new Step(BackParams, n, f.Io[0], dy, f.Io[2]));
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(BackData, n, f.Io[0], dy, f.Io[2], cx.Grad(x)), 3);
    }

    static string Cpu(string name) => EmitCommon.CpuNs + ".LayerNormKernel." + name;

    static string Dims(Node n) => $"{Rows(n)}, {Dim(n)}";

    /// <summary>"P, gammaOff, betaOff" (negative offsets: absent) of the CPU kernels.</summary>
    static string CpuParams(CpuContext c, Node n) =>
        !Affine(n) ? "null, -1, -1" : $"P, {c.Offset(n.Layer + ".weight")}, {(Bias(n) ? c.Offset(n.Layer + ".bias") : -1)}";

    static string GpuParams(GpuContext g, Node n) =>
        !Affine(n) ? "default, default" : $"{g.Param(n.Layer + ".weight")}, {(Bias(n) ? g.Param(n.Layer + ".bias") : "default")}";

    /// <summary>Io: x, y (evaluation: no statistics kept).</summary>
    static readonly Kernel Forward = new("LayerNorm",
        (c, s) => c.Line($"{Cpu("Forward")}({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, {CpuParams(c, s.Node!)}, {EmitCommon.F(s.Node!.F0)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.LayerNormForward({g.N}, {Dims(s.Node!)}, {g.V(s.Io[0])}, {GpuParams(g, s.Node!)}, {EmitCommon.F(s.Node!.F0)}, {g.V(s.Io[1])});"));

    /// <summary>Io: x, y, stats (per sample: the rows' means, then their inverse standard deviations).</summary>
    static readonly Kernel ForwardTrain = new("LayerNormTrain",
        (c, s) => c.Line($"{Cpu("ForwardTrain")}({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, {CpuParams(c, s.Node!)}, {EmitCommon.F(s.Node!.F0)}, {c.V(s.Io[1])}, {c.V(s.Io[2])});"),
        (g, s) => g.Line($"__k.LayerNormForwardTrain({g.N}, {Dims(s.Node!)}, {g.V(s.Io[0])}, {GpuParams(g, s.Node!)}, {EmitCommon.F(s.Node!.F0)}, {g.V(s.Io[1])}, {g.V(s.Io[2])});"));

    /// <summary>Io: x, dy, stats, dx.</summary>
    static readonly Kernel BackData = new("LayerNormBackData",
        (c, s) =>
        {
            var n = s.Node!;
            string gamma = Affine(n) ? $"P, {c.Offset(n.Layer + ".weight")}" : "null, -1";
            c.Line($"{Cpu("BackwardData")}({c.N}, {Dims(n)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {gamma}, {c.V(s.Io[3])}, {EmitContext.Acc(s)});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string gamma = Affine(n) ? g.Param(n.Layer + ".weight") : "default";
            g.Line($"__k.LayerNormBackwardData({g.N}, {Dims(n)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {gamma}, {g.V(s.Io[3])}, {EmitContext.Acc(s)});");
        });

    /// <summary>Io: x, dy, stats. Accumulates into the weight (and bias) gradients.</summary>
    static readonly Kernel BackParams = new("LayerNormBackParams",
        (c, s) =>
        {
            var n = s.Node!;
            string bias = Bias(n) ? c.Offset(n.Layer + ".bias").ToString() : "-1";
            c.Line($"{Cpu("BackwardParams")}({c.N}, {Dims(n)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, G, {c.Offset(n.Layer + ".weight")}, {bias});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string bias = Bias(n) ? g.Grad(n.Layer + ".bias") : "default";
            g.Line($"__k.LayerNormBackwardParams({g.N}, {Dims(n)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.Grad(n.Layer + ".weight")}, {bias});");
        });
}
