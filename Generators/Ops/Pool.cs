// MaxPool2d / AvgPool2d (layers) and MaxPool / AvgPool (ops): PyTorch's pooling over (C, H, W). Max pooling
// routes the gradient to the first maximum; average pooling counts padding (count_include_pad).
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string MaxPool = "MaxPool";
    public const string AvgPool = "AvgPool";
}

/// <summary>Pool attributes: [kh, kw, sh, sw, ph, pw].</summary>
internal readonly struct PoolAttrs
{
    readonly Node _n;
    public PoolAttrs(Node n) => _n = n;
    public int Kh => _n.Ints[0];
    public int Kw => _n.Ints[1];
    public int Sh => _n.Ints[2];
    public int Sw => _n.Ints[3];
    public int Ph => _n.Ints[4];
    public int Pw => _n.Ints[5];
}

internal abstract class PoolOp : OpDef
{
    protected abstract string Method { get; }
    protected abstract string Layer { get; }
    protected abstract Kernel Forward { get; }

    public override IEnumerable<string> OpsMethods => new[] { Method };

    public override IEnumerable<string> LayerTypes => new[] { Layer };

    public override bool LayerIsStateless => true;

    public static (int[]? Shape, string? Error) Shape(int[] x, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        if (x.Length < 3) return (null, $"expects a (C, H, W) input (or (T, C, H, W)), got {OpRules.Format(x)}");
        if (kh <= 0 || sh <= 0 || ph < 0) return (null, "kernel and stride must be positive, padding not negative");
        if (ph * 2L > kh || pw * 2L > kw) return (null, $"padding ({ph}) must be at most half the kernel ({kh}), as PyTorch requires");
        int r = x.Length;
        if (x[r - 2] + 2L * ph < kh || x[r - 1] + 2L * pw < kw) return (null, $"window {kh}x{kw} is larger than the padded input {OpRules.Format(x)}");
        return WithLeading(x, 3, new[] { x[r - 3], (x[r - 2] + 2L * ph - kh) / sh + 1, (x[r - 1] + 2L * pw - kw) / sw + 1 });
    }

    /// <summary>A square pool node; a stride of 0 means the kernel size.</summary>
    protected int Pool(ModelParser p, string what, int x, int k, int s, int pad, string layer, LocationInfo? loc)
    {
        if (s == 0) s = k;
        return p.Shaped(Name, what, new[] { x }, Shape(p.ShapeOf(x), k, k, s, s, pad, pad), new[] { k, k, s, s, pad, pad }, 0, 0, layer, loc);
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        int? k = call.Int(1), s = call.Int(2), pad = call.Int(3);
        if (x < 0 || k is null || s is null || pad is null) return -1;
        return Pool(p, call.Name, x, k.Value, s.Value, pad.Value, "", call.Location);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc) =>
        Pool(p, $"{layer.Name} ({layer.Kind})", x, layer.Int("kernel"), layer.Int("stride"), layer.Int("padding"), layer.Name, loc);

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Input(n.Inputs[0], cx.Node(n.Inputs[0]).Leading), cx.Value(n.Id)) { Fold = cx.Node(n.Inputs[0]).Leading, Owner = this });

    /// <summary>The ONNX pool over <see cref="OnnxContext.Images"/>, given the kernel's shape record.</summary>
    protected static string Onnx(OnnxContext o, Node n, string method) =>
        o.PerImage(n, x => $"b.{method}({x}, new {EmitCommon.CpuNs}.Pool2dShape{ShapeArgs(o.Model, n)})");

    protected static string ShapeArgs(ModelIr m, Node n)
    {
        var a = new PoolAttrs(n);
        var x = m.Nodes[n.Inputs[0]].Shape;
        int r = x.Count;
        return $"({x[r - 3]}, {x[r - 2]}, {x[r - 1]}, {a.Kh}, {a.Kw}, {a.Sh}, {a.Sw}, {a.Ph}, {a.Pw})";
    }

    protected static string CpuShape(CpuContext c, Node n) => c.ShapeField("Pool2dShape", "new" + ShapeArgs(c.Model, n));

    protected static string GpuShape(GpuContext g, Node n) => $"new {EmitCommon.CpuNs}.Pool2dShape" + ShapeArgs(g.Model, n);
}

internal sealed class MaxPoolOp : PoolOp
{
    public override string Name => OpKind.MaxPool;
    protected override string Method => "MaxPool";
    protected override string Layer => "MaxPool2d";

    /// <summary>MaxPool: ONNX pads with -inf, as PyTorch does.</summary>
    public override string? Onnx(OnnxContext o, Node n) => Onnx(o, n, "MaxPool");
    protected override Kernel Forward => ForwardKernel;

    /// <summary>Max pooling reads each input once, in registers: applying a BatchNorm + activation there saves writing
    /// and re-reading the full-resolution act(BatchNorm(x)) (the sample's conv-BN-ReLU-pool blocks).</summary>
    public override bool TakesInputPrologue(Node n) => true;

    public override void Lower(Lowering cx, Node n)
    {
        if (cx.Prologue(n) is not { } bn)
        {
            base.Lower(cx, n);
            return;
        }
        int fold = cx.Node(n.Inputs[0]).Leading;
        cx.Add(new Step(ForwardKernel, n, cx.Input(bn.Inputs[0], fold), cx.Value(n.Id))
        {
            Fold = fold, Owner = this, Prologue = bn, PrologueState = cx.StatisticsState(bn), PrologueAct = cx.Act(bn),
        });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (!cx.NeedsGrad(x)) return;
        var dy = cx.Grad(n.Id);
        cx.Contribute(x, f.Fold, dx => new Step(BackKernel, n, f.Io[0], dy, dx)
        {
            Fold = f.Fold, Prologue = f.Prologue, PrologueState = f.PrologueState, PrologueAct = f.PrologueAct,
        }, 2);
    }

    /// <summary>The ChannelAffine of a step with a prologue: the second half of the BatchNorm's statistics region
    /// (Lowering.StatisticsState).</summary>
    static string Affine(Step s) =>
        $"new {EmitCommon.CpuNs}.ChannelAffine(S, {s.PrologueState + 2 * s.Prologue!.Channels}, S, {s.PrologueState + 3 * s.Prologue.Channels})";

    const string NoGpu = "#error Authoring: a max pool with a BatchNorm prologue reached the ILGPU backend";

    /// <summary>Io: x, y (with a Prologue, x is the BatchNorm's input, read through it).</summary>
    static readonly Kernel ForwardKernel = new("MaxPool",
        (c, s) => c.Line(s.Prologue is null
            ? $"{EmitCommon.CpuNs}.PoolKernel.MaxForward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"
            : $"{EmitCommon.CpuNs}.PoolKernel.MaxForward<{EmitCommon.Act(s.PrologueAct)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {Affine(s)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line(s.Prologue is not null ? NoGpu : $"__k.MaxPoolForward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: x, dy, dx (the window's first maximum gets the gradient; with a Prologue, x is read through it).</summary>
    static readonly Kernel BackKernel = new("MaxPoolBack",
        (c, s) => c.Line(s.Prologue is null
            ? $"{EmitCommon.CpuNs}.PoolKernel.MaxBackward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)});"
            : $"{EmitCommon.CpuNs}.PoolKernel.MaxBackward<{EmitCommon.Act(s.PrologueAct)}>(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {Affine(s)}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line(s.Prologue is not null ? NoGpu : $"__k.MaxPoolBackward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {EmitContext.Acc(s)});"));
}

internal sealed class AvgPoolOp : PoolOp
{
    public override string Name => OpKind.AvgPool;
    protected override string Method => "AvgPool";
    protected override string Layer => "AvgPool2d";

    /// <summary>AveragePool with count_include_pad = 1: PyTorch's default divides by the whole window.</summary>
    public override string? Onnx(OnnxContext o, Node n) => Onnx(o, n, "AveragePool");
    protected override Kernel Forward => ForwardKernel;

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (!cx.NeedsGrad(x)) return;
        var dy = cx.Grad(n.Id);
        cx.Contribute(x, f.Fold, dx => new Step(BackKernel, n, dy, dx) { Fold = f.Fold }, 1);
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel ForwardKernel = new("AvgPool",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.PoolKernel.AvgForward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.AvgPoolForward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel BackKernel = new("AvgPoolBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.PoolKernel.AvgBackward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.AvgPoolBackward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}
