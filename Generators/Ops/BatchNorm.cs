// BatchNorm2d over (C, H, W) and BatchNorm1d over (F): PyTorch semantics (batch statistics, biased for
// normalising and unbiased for the running variance, in training; running statistics in evaluation).
// In evaluation it folds into a preceding conv/linear epilogue (BnFold computes scale/shift into the state
// array); alone it is an affine kernel. In training one kernel normalises and applies a fused activation, and
// its backward recomputes the pre-activation from the saved statistics instead of storing it.
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
    public const string BatchNorm = "BatchNorm";
}

/// <summary>BatchNorm attributes: Ints [channels], F0 eps, F1 momentum.</summary>
internal sealed class BatchNormOp : OpDef
{
    public override string Name => OpKind.BatchNorm;

    public override OpTraits Traits => OpTraits.Normalization | OpTraits.Parameters;

    public override IEnumerable<string> LayerTypes => new[] { "BatchNorm2d", "BatchNorm1d" };

    /// <summary>BatchNorm2d normalises axis -3 of (..., C, H, W); BatchNorm1d the features of (F) or (N, F). Leading
    /// axes are folded into the batch, as applying the layer to every time step or token at once.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int channels, bool twoD)
    {
        if (twoD && x.Length < 3) return (null, $"BatchNorm2d expects a (C, H, W) input (or (T, C, H, W)), got {OpRules.Format(x)}");
        if (!twoD && x.Length > 2) return (null, $"BatchNorm1d expects a (features) or (N, features) input, got {OpRules.Format(x)}");
        int c = twoD ? x[x.Length - 3] : x[x.Length - 1];
        if (c != channels) return (null, $"expects {channels} channels, got {c}");
        return (x, null);
    }

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        bool twoD = layer.Kind == "BatchNorm2d";
        int c = twoD ? layer.Int("channels") : layer.Int("features");
        float eps = layer.Float("eps"), momentum = layer.Float("momentum");
        if (c <= 0 || !(eps > 0) || !(momentum >= 0 && momentum <= 1) || float.IsInfinity(eps))
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, "channels and eps must be positive and momentum within [0, 1]");
            return -1;
        }
        int id = p.Shaped(Name, what, new[] { x }, Shape(p.ShapeOf(x), c, twoD), new[] { c }, eps, momentum, layer.Name, loc);
        if (id < 0) return -1;
        var shape = new[] { c }.ToEquatableArray();
        p.AddParam(new ParamSpec(layer.Name + ".weight", shape, "NormWeight", "Ones", 0, 0));
        p.AddParam(new ParamSpec(layer.Name + ".bias", shape, "NormBias", "Zeros", 0, 0));
        p.AddParam(new ParamSpec(layer.Name + ".running_mean", shape, "RunningMean", "Zeros", 0, 0));
        p.AddParam(new ParamSpec(layer.Name + ".running_var", shape, "RunningVar", "Ones", 0, 0));
        return id;
    }

    public override void Lower(Lowering cx, Node n)
    {
        int fold = n.Leading;
        if (cx.Train && cx.Fusion.StatisticsHost[n.Id] is not null)
        {
            // The producing conv took the batch statistics and wrote save and the affine (its StatisticsState):
            // what is left is applying them, here or in the consumer's prologue (then only the backward's anchor).
            int st = cx.StatisticsState(n);
            var x = cx.Input(n.Inputs[0], fold);
            var step = cx.Fusion.AppliedByConsumer[n.Id] ? new Step(Taken, n, x) : new Step(Apply, n, x, cx.Value(cx.KernelOut(n)));
            step.Act = cx.Act(n);
            step.State = st;
            step.Fold = fold;
            step.Owner = this;
            cx.Add(step);
        }
        else if (cx.Train)
        {
            cx.Add(new Step(Train, n, cx.Input(n.Inputs[0], fold), cx.Value(cx.KernelOut(n))) { Act = cx.Act(n), State = cx.State(2 * n.Channels), Fold = fold, Owner = this });
        }
        else
        {
            int st = cx.State(2 * n.Channels);
            cx.Add(new Step(Fold, n) { State = st });
            cx.Add(new Step(Affine, n, cx.Input(n.Inputs[0], fold), cx.Value(cx.KernelOut(n))) { Act = cx.Act(n), State = st, Fold = fold });
        }
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        var dy = cx.Grad(cx.KernelOut(n));
        cx.Contribute(x, f.Fold, dx => new Step(BackTrain, n, f.Io[0], dy, dx) { Act = f.Act, State = f.State, Fold = f.Fold }, 2);
    }

    /// <summary>BatchNormalization (running statistics) normalises axis 1: (batch, C, H, W) and (batch, F) as they are;
    /// leading axes are folded into the batch around it ((T, C, H, W) to (M, C, H, W), (N, F) to (M, F)).</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        var s = o.ShapeOf(n.Inputs[0]);
        string Bn(string x) => $"b.BatchNormalization({x}, p, {OnnxContext.Str(n.Layer)}, epsilon: {OnnxContext.F(n.F0)})";
        if (s.Length >= 3) return o.PerImage(n, Bn);
        if (s.Length == 1) return Bn(o.In(n, 0));
        return OnnxContext.Reshape(Bn($"b.Reshape({o.In(n, 0)}, new long[] {{ -1, {s[1]} }})"), s);
    }

    static string Cpu(string name) => EmitCommon.CpuNs + ".BatchNormKernel." + name;

    /// <summary>No operands: scale/shift of evaluation-mode BatchNorm <c>Node</c> into the state array at <c>State</c>,
    /// including the bias of the conv/linear it folds into (<c>Bn</c>), if any.</summary>
    public static readonly Kernel Fold = new("BnFold",
        (c, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            string b = ProducerBias(s) is { } pb ? c.Param(pb) : "null, 0";
            c.Line($"{Cpu("FoldEval")}({n.Channels}, P, {c.Offset(l + ".weight")}, {c.Offset(l + ".bias")}, {c.Offset(l + ".running_mean")}, {c.Offset(l + ".running_var")}, {EmitCommon.F(n.F0)}, {b}, S, {s.State}, S, {s.State + n.Channels});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            string b = ProducerBias(s) is { } pb ? g.Param(pb) : "default";
            g.Line($"__k.BatchNormFoldEval({n.Channels}, {g.Param(l + ".weight")}, {g.Param(l + ".bias")}, {g.Param(l + ".running_mean")}, {g.Param(l + ".running_var")}, {EmitCommon.F(n.F0)}, {b}, {GpuContext.State(s.State, n.Channels)}, {GpuContext.State(s.State + n.Channels, n.Channels)});");
        });

    static string? ProducerBias(Step s) =>
        s.Bn is { } producer && producer.Def is EpilogueHostOp host && host.HasBias(producer) ? producer.Layer + ".bias" : null;

    /// <summary>Io: x, y. y = act(scale * x + shift) with the folded scale/shift at <c>State</c>.</summary>
    static readonly Kernel Affine = new("BnAffine",
        (c, s) => c.Line($"{Cpu("Affine")}<{EmitCommon.Act(s.Act)}>({c.N}, {s.Node!.Channels}, {s.Node.Spatial}, {c.V(s.Io[0])}, S, {s.State}, S, {s.State + s.Node.Channels}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.BatchNormAffine<{EmitCommon.Act(s.Act)}>({g.N}, {s.Node!.Channels}, {s.Node.Spatial}, {g.V(s.Io[0])}, {GpuContext.State(s.State, s.Node.Channels)}, {GpuContext.State(s.State + s.Node.Channels, s.Node.Channels)}, {g.V(s.Io[1])});"));

    /// <summary>Io: x, y. y = act(a x + b) with the affine its producer's statistics gave (second half of the region at
    /// <c>State</c>, see Lowering.StatisticsState).</summary>
    static readonly Kernel Apply = new("BnApply",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{Cpu("Affine")}<{EmitCommon.Act(s.Act)}>({c.N}, {n.Channels}, {n.Spatial}, {c.V(s.Io[0])}, S, {s.State + 2 * n.Channels}, S, {s.State + 3 * n.Channels}, {c.V(s.Io[1])});");
        },
        (g, s) => g.Line("#error Authoring: a BatchNorm fused into a training convolution reached the ILGPU backend"));

    /// <summary>Io: x. Nothing to run: the producer took the statistics and the consumer applies them; the step carries
    /// the BatchNorm's backward (x, saved statistics at <c>State</c>, activation).</summary>
    static readonly Kernel Taken = new("BnTaken",
        (c, s) => { },
        (g, s) => g.Line("#error Authoring: a BatchNorm fused into a training convolution reached the ILGPU backend"));

    /// <summary>Io: x, y. Batch statistics saved at <c>State</c> (mean, inverse std per channel); running statistics updated.</summary>
    static readonly Kernel Train = new("BnTrain",
        (c, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            c.Line($"{Cpu("ForwardTrain")}<{EmitCommon.Act(s.Act)}>({c.N}, {n.Channels}, {n.Spatial}, {c.V(s.Io[0])}, P, {c.Offset(l + ".weight")}, {c.Offset(l + ".bias")}, {c.Offset(l + ".running_mean")}, {c.Offset(l + ".running_var")}, {EmitCommon.F(n.F1)}, {EmitCommon.F(n.F0)}, S, {s.State}, {c.V(s.Io[1])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            g.Line($"__k.BatchNormForwardTrain<{EmitCommon.Act(s.Act)}>({g.N}, {n.Channels}, {n.Spatial}, {g.V(s.Io[0])}, {g.Param(l + ".weight")}, {g.Param(l + ".bias")}, {g.Param(l + ".running_mean")}, {g.Param(l + ".running_var")}, {EmitCommon.F(n.F1)}, {EmitCommon.F(n.F0)}, {GpuContext.State(s.State, 2 * n.Channels)}, {g.V(s.Io[1])});");
        });

    /// <summary>Io: x, dy, dx. Parameter gradients into G; recomputes the pre-activation for the fused activation.</summary>
    static readonly Kernel BackTrain = new("BnBackTrain",
        (c, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            c.Line($"{Cpu("BackwardTrain")}<{EmitCommon.Act(s.Act)}>({c.N}, {n.Channels}, {n.Spatial}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, P, {c.Offset(l + ".weight")}, {c.Offset(l + ".bias")}, S, {s.State}, {c.V(s.Io[2])}, {EmitContext.Acc(s)}, G, {c.Offset(l + ".weight")}, {c.Offset(l + ".bias")});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            string l = n.Layer;
            g.Line($"__k.BatchNormBackwardTrain<{EmitCommon.Act(s.Act)}>({g.N}, {n.Channels}, {n.Spatial}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.Param(l + ".weight")}, {g.Param(l + ".bias")}, {GpuContext.State(s.State, 2 * n.Channels)}, {g.V(s.Io[2])}, {EmitContext.Acc(s)}, {g.Grad(l + ".weight")}, {g.Grad(l + ".bias")});");
        });
}
