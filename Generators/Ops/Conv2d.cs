// Conv2d (and DepthwiseConv2d, a Conv2d with groups = channels): PyTorch's nn.Conv2d over (C, H, W) inputs,
// weight [cout, cin/groups, kh, kw], optional bias, PyTorch's initialisation. Kernels: Runtime Conv2dKernel
// (direct or im2col + GEMM, chosen per shape) and GpuKernels.Conv2d*.
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
    public const string Conv2d = "Conv2d";
}

/// <summary>Conv2d attributes: [cin, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias].</summary>
internal readonly struct ConvAttrs
{
    readonly Node _n;
    public ConvAttrs(Node n) => _n = n;
    public int Cin => _n.Ints[0];
    public int Cout => _n.Ints[1];
    public int Kh => _n.Ints[2];
    public int Kw => _n.Ints[3];
    public int Sh => _n.Ints[4];
    public int Sw => _n.Ints[5];
    public int Ph => _n.Ints[6];
    public int Pw => _n.Ints[7];
    public int Dh => _n.Ints[8];
    public int Dw => _n.Ints[9];
    public int Groups => _n.Ints[10];
    public bool Bias => _n.Ints[11] != 0;
}

internal sealed class Conv2dOp : EpilogueHostOp
{
    public override string Name => OpKind.Conv2d;

    public override IEnumerable<string> LayerTypes => new[] { "Conv2d", "DepthwiseConv2d" };

    public override int OutChannels(Node n) => new ConvAttrs(n).Cout;

    public override bool HasBias(Node n) => new ConvAttrs(n).Bias;

    /// <summary>Output (..., C, H, W) of a convolution over the trailing (C, H, W) of its input, or an error message.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int groups)
    {
        if (x.Length < 3) return (null, $"expects a (C, H, W) input (or (T, C, H, W): leading axes are folded into the batch), got {OpRules.Format(x)}");
        int r = x.Length;
        if (x[r - 3] != cin) return (null, $"expects {cin} input channels, got {x[r - 3]} (input shape {OpRules.Format(x)})");
        long spanH = (long)dh * (kh - 1) + 1, spanW = (long)dw * (kw - 1) + 1;
        long padH = x[r - 2] + 2L * ph, padW = x[r - 1] + 2L * pw;
        if (padH < spanH || padW < spanW)
            return (null, $"kernel {kh}x{kw} (dilation {dh}) is larger than the padded input {OpRules.Format(x)}");
        long ho = (padH - spanH) / sh + 1, wo = (padW - spanW) / sw + 1;
        return WithLeading(x, 3, new[] { (long)cout, ho, wo });
    }

    /// <summary>Checks a convolution layer's arguments as written: <paramref name="kernelWidth"/> 0 and
    /// <paramref name="paddingWidth"/> -1 mean "as the height's". Returns the error and the constructor parameter
    /// to point at (null: the error involves several, so the layer is the location), or (null, null).</summary>
    public static (string? Error, string? Parameter) Hyper(int cin, int cout, int kernel, int kernelWidth, int stride,
        int padding, int paddingWidth, int dilation, int groups)
    {
        if (cin <= 0 || cout <= 0) return ("channel counts must be positive", null);
        if (kernel <= 0) return ($"kernel must be positive, got {kernel}", "kernel");
        if (kernelWidth < 0) return ($"kernelWidth must be positive (or 0 for a square kernel), got {kernelWidth}", "kernelWidth");
        if (stride <= 0) return ($"stride must be positive, got {stride}", "stride");
        if (padding < 0) return ($"padding must not be negative, got {padding}", "padding");
        if (paddingWidth < -1) return ($"paddingWidth must not be negative (or -1 for the same as padding), got {paddingWidth}", "paddingWidth");
        if (dilation <= 0) return ($"dilation must be positive, got {dilation}", "dilation");
        if (groups <= 0 || cin % groups != 0 || cout % groups != 0)
            return ($"groups ({groups}) must divide both input ({cin}) and output ({cout}) channels", null);
        // The weight [cout, cin/groups, kh, kw] is one tensor of the flat parameter store.
        int kw = kernelWidth == 0 ? kernel : kernelWidth;
        if ((long)cout * (cin / groups) * kernel * kw > int.MaxValue)
            return ($"the weight [{cout}, {cin / groups}, {kernel}, {kw}] has more than {int.MaxValue} elements", null);
        return (null, null);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        bool dw = layer.Kind == "DepthwiseConv2d";
        int cin = dw ? layer.Int("channels") : layer.Int("inChannels");
        int cout = dw ? cin : layer.Int("outChannels");
        int kh = layer.Int("kernel"), kwArg = layer.Int("kernelWidth"), stride = layer.Int("stride"), dil = layer.Int("dilation");
        int ph = layer.Int("padding"), pwArg = layer.Int("paddingWidth");
        int groups = dw ? cin : layer.Int("groups");
        bool bias = layer.Bool("bias");
        var (hyper, culprit) = Hyper(cin, cout, kh, kwArg, stride, ph, pwArg, dil, groups);
        if (hyper is not null)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf(culprit), what, hyper);
            return -1;
        }
        int kw = kwArg == 0 ? kh : kwArg, pw = pwArg == -1 ? ph : pwArg;
        int id = p.Shaped(Name, what, new[] { x }, Shape(p.ShapeOf(x), cin, cout, kh, kw, stride, stride, ph, pw, dil, dil, groups),
            new[] { cin, cout, kh, kw, stride, stride, ph, pw, dil, dil, groups, bias ? 1 : 0 }, 0, 0, layer.Name, loc);
        if (id < 0) return -1;
        // PyTorch's fan-in / fan-out of a [cout, cin/groups, kh, kw] weight.
        int fanIn = cin / groups * kh * kw;
        p.AddParam(new ParamSpec(layer.Name + ".weight", new[] { cout, cin / groups, kh, kw }.ToEquatableArray(), "Weight", "KaimingUniform", fanIn, cout / groups * kh * kw));
        if (bias) p.AddParam(new ParamSpec(layer.Name + ".bias", new[] { cout }.ToEquatableArray(), "Bias", "BiasUniform", fanIn, cout));
        return id;
    }

    /// <summary>The Runtime's Conv2dShape constructor arguments for a conv node.</summary>
    public static string ShapeArgs(ModelIr m, Node n)
    {
        var a = new ConvAttrs(n);
        var x = m.Nodes[n.Inputs[0]].Shape;
        int r = x.Count;
        return $"({a.Cin}, {x[r - 2]}, {x[r - 1]}, {a.Cout}, {a.Kh}, {a.Kw}, {a.Sh}, {a.Sw}, {a.Ph}, {a.Pw}, {a.Dh}, {a.Dw}, {a.Groups})";
    }

    /// <summary>Conv with the kernel's own shape record (kernel_shape, strides, symmetric pads, dilations, group); a
    /// (T, C, H, W) input is folded into the batch around it, as the CPU kernel folds it.</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        o.PerImage(n, x => $"b.Conv({x}, p, {OnnxContext.Str(n.Layer)}, new {EmitCommon.CpuNs}.Conv2dShape{ShapeArgs(o.Model, n)}, hasBias: {OnnxContext.Bool(HasBias(n))})");

    static string CpuShape(CpuContext c, Node n) => c.ShapeField("Conv2dShape", "new" + ShapeArgs(c.Model, n));

    static string GpuShape(GpuContext g, Node n) => $"new {EmitCommon.CpuNs}.Conv2dShape" + ShapeArgs(g.Model, n);

    // Only where the Runtime's fused kernel does the work in its own loops (direct or Winograd: 8 or more output
    // channels per group, not depthwise). Elsewhere ForwardFused takes the same results in separate passes (a scalar
    // sums pass, a serial prologue copy into scratch, again for the weight gradient), which measured slower on the
    // SmallCnn sample than the BatchNorm's own kernels (training step +14% with depthwise and 1x1 consumers fused).
    static bool InRegisters(Node n)
    {
        var a = new ConvAttrs(n);
        return !(a.Groups > 1 && a.Groups == a.Cin) && a.Cout / a.Groups >= 8;
    }

    public override bool TakesBatchStatistics(Node n) => InRegisters(n);

    /// <summary>Not for a 1 x 1 conv either: its weight gradient is a GEMM that reads the input through a scratch copy.</summary>
    public override bool TakesInputPrologue(Node n)
    {
        var a = new ConvAttrs(n);
        return InRegisters(n) && a.Kh * a.Kw > 1;
    }

    /// <summary>The Runtime ConvFusion of a training step: bias, the input prologue (<see cref="Step.Prologue"/>: the
    /// affine in the second half of that BatchNorm's state region) and the statistics target (<see cref="Step.Statistics"/>:
    /// save, then the affine, in its region at <see cref="Step.State"/>).</summary>
    static string Fusion(CpuContext c, Step s)
    {
        var n = s.Node!;
        var parts = new List<string>();
        if (s.Prologue is { } pro)
            parts.Add($"Input = new {EmitCommon.CpuNs}.ChannelAffine(S, {s.PrologueState + 2 * pro.Channels}, S, {s.PrologueState + 3 * pro.Channels})");
        if (new ConvAttrs(n).Bias) parts.Add($"Shift = P, ShiftOffset = {c.Offset(n.Layer + ".bias")}");
        if (s.Statistics is { } bn)
        {
            string l = bn.Layer;
            int ch = bn.Channels;
            parts.Add($"Statistics = new {EmitCommon.CpuNs}.BatchNormStatsTarget(P, {c.Offset(l + ".weight")}, {c.Offset(l + ".bias")}, {c.Offset(l + ".running_mean")}, {c.Offset(l + ".running_var")}, {EmitCommon.F(bn.F1)}, {EmitCommon.F(bn.F0)}, S, {s.State}, S, {s.State + 2 * ch}, {s.State + 3 * ch})");
        }
        return $"new {EmitCommon.CpuNs}.ConvFusion {{ {string.Join(", ", parts)} }}";
    }

    /// <summary>The ILGPU backend's plan has no fused training steps (Planner: trainEpilogues false); one reaching it is a
    /// generator bug, made a compile error rather than a wrong result.</summary>
    static void NoGpuFusion(GpuContext g) => g.Line("#error Authoring: a fused training convolution reached the ILGPU backend");

    /// <summary>Io: x, y. Epilogue: folded BatchNorm (State, Bn) or bias; activation Act. Training: the input prologue
    /// (Prologue; Io[0] is then the BatchNorm's input) and the next BatchNorm's statistics (Statistics).</summary>
    static readonly Kernel ForwardKernel = new("Conv",
        (c, s) =>
        {
            if (s.Prologue is null && s.Statistics is null)
                c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.Forward<{EmitCommon.Act(s.Act)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.Param(s.Node!.Layer + ".weight")}, {Epilogue(c, s)}, {c.V(s.Io[1])});");
            else
                c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.ForwardFused<{EmitCommon.Act(s.PrologueAct)}, {EmitCommon.Act(s.Act)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.Param(s.Node!.Layer + ".weight")}, {Fusion(c, s)}, {c.V(s.Io[1])});");
        },
        (g, s) =>
        {
            if (s.Prologue is not null || s.Statistics is not null) NoGpuFusion(g);
            else g.Line($"__k.Conv2dForward<{EmitCommon.Act(s.Act)}>({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.Param(s.Node!.Layer + ".weight")}, {Epilogue(g, s)}, {g.V(s.Io[1])});");
        });

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel BackDataKernel = new("ConvBackData",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.BackwardData(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.Param(s.Node!.Layer + ".weight")}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.Conv2dBackwardData({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.Param(s.Node!.Layer + ".weight")}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: x, dy. With a Prologue, x is the BatchNorm's input, read through the forward's prologue.</summary>
    static readonly Kernel BackWeightsKernel = new("ConvBackWeights",
        (c, s) =>
        {
            if (s.Prologue is not { } pro)
                c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.BackwardWeights(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.Grad(s.Node!.Layer + ".weight")});");
            else
                c.Line($"{EmitCommon.CpuNs}.Conv2dKernel.BackwardWeightsFused<{EmitCommon.Act(s.PrologueAct)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, new {EmitCommon.CpuNs}.ChannelAffine(S, {s.PrologueState + 2 * pro.Channels}, S, {s.PrologueState + 3 * pro.Channels}), {c.V(s.Io[1])}, {c.Grad(s.Node!.Layer + ".weight")});");
        },
        (g, s) =>
        {
            if (s.Prologue is not null) NoGpuFusion(g);
            else g.Line($"__k.Conv2dBackwardWeights({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.Grad(s.Node!.Layer + ".weight")});");
        });


    protected override Kernel Forward => ForwardKernel;
    protected override Kernel BackwardData => BackDataKernel;
    protected override Kernel BackwardWeights => BackWeightsKernel;
}
