// BinaryConv2d: a convolution whose latent real weights w [cout, cin, k, k] are binarised on every forward to
// wb = alpha[co] sign(w) (alpha = mean |w[co]|, XNOR-Net, or 1) and whose input is ±1 (an Ops.Sign or RSign
// output, AUT0016 otherwise). Training runs the fp32 conv kernels on wb, kept with alpha (and, while training, the
// gradient dwb) in the model's state array; the latent weights get dwb through the straight-through estimator
// (BinaryWeightKernel, as WeightGradient defines it). As an epilogue host it absorbs a following BatchNorm and
// activation in evaluation, like Conv2d. The deploy form packs the signs into bits for XNOR-popcount kernels.
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
    public const string BinaryConv2d = "BinaryConv2d";
}

/// <summary>A layer with binarised latent weights: what the weight-binarising steps need to know of its node.</summary>
internal interface IBinaryHost
{
    /// <summary>Output channels, weights per output channel, whether alpha scales them, the WeightGradient value.</summary>
    (int Cout, int K, bool Scaled, int Mode) BinaryLayout(Node n);
}

/// <summary>The steps that binarise a binary layer's latent weights and send their gradient back. State layout at
/// <see cref="Step.Arg"/>: wb [cout * k], alpha [cout], then (training program) dwb [cout * k].</summary>
internal static class BinaryWeights
{
    static (int Cout, int K, bool Scaled, int Mode) Of(Node n) => ((IBinaryHost)n.Def).BinaryLayout(n);

    /// <summary>Reports AUT0016 unless <paramref name="x"/> is a Sign or RSign output.</summary>
    public static bool CheckInput(ModelParser p, int x, string what, LocationInfo? loc)
    {
        var xn = p.NodeAt(x);
        if (SignOp.IsSign(xn)) return true;
        string desc = xn.Op == OpKind.Input ? "the model's input" : xn.Layer.Length > 0 ? $"the output of '{xn.Layer}' ({xn.Op})" : $"a {xn.Op} result";
        p.Report(DiagnosticDescriptors.BinaryInput, loc, what, desc);
        return false;
    }

    /// <summary>Checks scaled / weightGradient as written.</summary>
    public static bool CheckMode(ModelParser p, LayerDecl layer, string what, bool scaled, int mode)
    {
        if (mode is < 0 or > 2)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("weightGradient"), what, $"weightGradient {mode} is not a BinaryWeightGradient value");
            return false;
        }
        if (!scaled && mode != 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("weightGradient"), what,
                $"weightGradient {(mode == 1 ? "ScaledClip" : "Full")} differentiates the per-channel scale, which only a scaled layer has: use Clip or scaled: true");
            return false;
        }
        return true;
    }

    /// <summary>Reserves the state regions and adds the step computing wb (and alpha); returns their offset.</summary>
    public static int Prepare(Lowering cx, Node n)
    {
        var (cout, k, _, _) = Of(n);
        int st = cx.State(cout * k + cout + (cx.Train ? cout * k : 0));
        cx.Add(new Step(Binarise, n) { Arg = st });
        return st;
    }

    /// <summary>dwb is cleared before the conv's weight-gradient kernel adds into it.</summary>
    public static void BeforeBackward(Autodiff cx, Step f) => cx.Add(new Step(ClearGrad, f.Node!) { Arg = f.Arg });

    /// <summary>dw += the straight-through gradient of dwb.</summary>
    public static void AfterBackward(Autodiff cx, Step f) => cx.Add(new Step(Back, f.Node!) { Arg = f.Arg });

    /// <summary>"S, offset" (CPU) / state sub-view (GPU) of wb and of dwb.</summary>
    public static string Wb(Step s) => CpuContext.State(s.Arg);

    public static string Wb(GpuContext g, Step s) => GpuContext.State(s.Arg, Size(s));

    public static string Dwb(Step s) => CpuContext.State(s.Arg + Size(s) + Of(s.Node!).Cout);

    public static string Dwb(GpuContext g, Step s) => GpuContext.State(s.Arg + Size(s) + Of(s.Node!).Cout, Size(s));

    static int Size(Step s)
    {
        var (cout, k, _, _) = Of(s.Node!);
        return cout * k;
    }

    static string Mode(int m) => EmitCommon.CpuNs + ".WeightGradient." + (m == 0 ? "Clip" : m == 1 ? "ScaledClip" : "Full");

    /// <summary>No Io: latent weights -> wb, alpha in the state array.</summary>
    static readonly Kernel Binarise = new("BinaryWeights",
        (c, s) =>
        {
            var (cout, k, scaled, _) = Of(s.Node!);
            string alpha = scaled ? CpuContext.State(s.Arg + cout * k) : "null, 0";
            c.Line($"{EmitCommon.CpuNs}.BinaryWeightKernel.Forward({cout}, {k}, {c.Param(s.Node!.Layer + ".weight")}, {CpuContext.State(s.Arg)}, {alpha});");
        },
        (g, s) =>
        {
            var (cout, k, scaled, _) = Of(s.Node!);
            string alpha = scaled ? GpuContext.State(s.Arg + cout * k, cout) : "default";
            g.Line($"__k.BinaryWeightsForward({cout}, {k}, {g.Param(s.Node!.Layer + ".weight")}, {GpuContext.State(s.Arg, cout * k)}, {alpha});");
        });

    /// <summary>No Io: clears dwb.</summary>
    static readonly Kernel ClearGrad = new("BinaryWeightsClear",
        (c, s) =>
        {
            var (cout, k, _, _) = Of(s.Node!);
            c.Line($"global::System.Array.Clear(S, {s.Arg + cout * k + cout}, {cout * k});");
        },
        (g, s) => g.Line($"__k.Clear({Dwb(g, s)});"));

    /// <summary>No Io: dw += STE(dwb), through alpha as the layer's WeightGradient says (clip 1, ReActNet's clamp).</summary>
    static readonly Kernel Back = new("BinaryWeightsBack",
        (c, s) =>
        {
            var n = s.Node!;
            var (cout, k, scaled, mode) = Of(n);
            string alpha = scaled ? CpuContext.State(s.Arg + cout * k) : "null, 0";
            c.Line($"{EmitCommon.CpuNs}.BinaryWeightKernel.Backward({cout}, {k}, {Mode(mode)}, 1f, {c.Param(n.Layer + ".weight")}, {Dwb(s)}, {alpha}, {c.Grad(n.Layer + ".weight")});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            var (cout, k, scaled, mode) = Of(n);
            string alpha = scaled ? GpuContext.State(s.Arg + cout * k, cout) : "default";
            g.Line($"__k.BinaryWeightsBackward({cout}, {k}, {Mode(mode)}, 1f, {g.Param(n.Layer + ".weight")}, {Dwb(g, s)}, {alpha}, {g.Grad(n.Layer + ".weight")});");
        });
}

/// <summary>BinaryConv2d attributes: Conv2d's [cin, cout, k, k, s, s, p, p, 1, 1, 1, bias] (ConvAttrs reads them) then
/// [scaled, weightGradient].</summary>
internal sealed class BinaryConv2dOp : EpilogueHostOp, IBinaryHost
{
    public override string Name => OpKind.BinaryConv2d;

    public override IEnumerable<string> LayerTypes => new[] { "BinaryConv2d" };

    public override int OutChannels(Node n) => new ConvAttrs(n).Cout;

    public override bool HasBias(Node n) => new ConvAttrs(n).Bias;

    public (int Cout, int K, bool Scaled, int Mode) BinaryLayout(Node n)
    {
        var a = new ConvAttrs(n);
        return (a.Cout, a.Cin * a.Kh * a.Kw, n.Ints[12] != 0, n.Ints[13]);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int cin = layer.Int("inChannels"), cout = layer.Int("outChannels"), k = layer.Int("kernel");
        int stride = layer.Int("stride"), pad = layer.Int("padding"), mode = layer.Int("weightGradient");
        bool bias = layer.Bool("bias"), scaled = layer.Bool("scaled");
        var (hyper, culprit) = Conv2dOp.Hyper(cin, cout, k, 0, stride, pad, -1, 1, 1);
        if (hyper is not null)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf(culprit), what, hyper);
            return -1;
        }
        if (!BinaryWeights.CheckMode(p, layer, what, scaled, mode)) return -1;
        var rule = Conv2dOp.Shape(p.ShapeOf(x), cin, cout, k, k, stride, stride, pad, pad, 1, 1, 1);
        if (rule.Shape is null)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, rule.Error!);
            return -1;
        }
        if (!BinaryWeights.CheckInput(p, x, what, loc)) return -1;
        int id = p.AddNode(Name, new[] { x }, rule.Shape, new[] { cin, cout, k, k, stride, stride, pad, pad, 1, 1, 1, bias ? 1 : 0, scaled ? 1 : 0, mode },
            0, 0, layer.Name, loc);
        if (id < 0) return -1;
        int fanIn = cin * k * k;
        p.AddParam(new ParamSpec(layer.Name + ".weight", new[] { cout, cin, k, k }.ToEquatableArray(), "Weight", "KaimingUniform", fanIn, cout * k * k));
        if (bias) p.AddParam(new ParamSpec(layer.Name + ".bias", new[] { cout }.ToEquatableArray(), "Bias", "BiasUniform", fanIn, cout));
        return id;
    }

    /// <summary>Conv on the binarised weight, computed at export time from the latent one (OnnxGraphBuilder.BinaryWeight).</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string bias = HasBias(n) ? $"b.Parameter(p, {OnnxContext.Str(n.Layer + ".bias")})" : "null";
        string w = $"b.BinaryWeight(p, {OnnxContext.Str(n.Layer)}, scaled: {OnnxContext.Bool(n.Ints[12] != 0)})";
        return o.PerImage(n, x => $"b.Conv({x}, {w}, {bias}, new {EmitCommon.CpuNs}.Conv2dShape{Conv2dOp.ShapeArgs(o.Model, n)})");
    }

    protected override int PrepareWeights(Lowering cx, Node n) => BinaryWeights.Prepare(cx, n);

    public override void Backward(Autodiff cx, Step f)
    {
        BinaryWeights.BeforeBackward(cx, f);
        base.Backward(cx, f);
        BinaryWeights.AfterBackward(cx, f);
    }

    static string CpuShape(CpuContext c, Node n) => c.ShapeField("Conv2dShape", "new" + Conv2dOp.ShapeArgs(c.Model, n));

    static string GpuShape(GpuContext g, Node n) => $"new {EmitCommon.CpuNs}.Conv2dShape" + Conv2dOp.ShapeArgs(g.Model, n);

    /// <summary>Io: x, y; weights wb from the state array.</summary>
    static readonly Kernel ForwardKernel = new("BinaryConv",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.Forward<{EmitCommon.Act(s.Act)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {BinaryWeights.Wb(s)}, {Epilogue(c, s)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.Conv2dForward<{EmitCommon.Act(s.Act)}>({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {BinaryWeights.Wb(g, s)}, {Epilogue(g, s)}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel BackDataKernel = new("BinaryConvBackData",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.BackwardData(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {BinaryWeights.Wb(s)}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.Conv2dBackwardData({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {BinaryWeights.Wb(g, s)}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: x, dy; adds into dwb.</summary>
    static readonly Kernel BackWeightsKernel = new("BinaryConvBackWeights",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.BackwardWeights(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {BinaryWeights.Dwb(s)});"),
        (g, s) => g.Line($"__k.Conv2dBackwardWeights({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {BinaryWeights.Dwb(g, s)});"));

    protected override Kernel Forward => ForwardKernel;
    protected override Kernel BackwardData => BackDataKernel;
    protected override Kernel BackwardWeights => BackWeightsKernel;
}
