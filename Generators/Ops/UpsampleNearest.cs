// UpsampleNearest: F.interpolate(x, size=(height, width), mode='nearest') over (C, H, W): output row i reads
// input row min(floorf(i * (float)H / height), H - 1) in float arithmetic, as torch computes it. Its gradient
// sums over the outputs that read each input (fixed by the shapes, so backward needs only dy).
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string UpsampleNearest = "UpsampleNearest";
}

internal sealed class UpsampleNearestOp : OpDef
{
    public override string Name => OpKind.UpsampleNearest;

    public override IEnumerable<string> OpsMethods => new[] { "UpsampleNearest" };

    /// <summary>Why an output size is invalid, or null.</summary>
    public static string? SizeProblem(string name, int size) => size >= 1 ? null : $"{name} must be at least 1, got {size}";

    /// <summary>Nearest resize of (C, H, W) to (C, height, width); sizes already checked by <see cref="SizeProblem"/>.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int height, int width)
    {
        if (x.Length < 3) return (null, $"expects a (C, H, W) input (or (T, C, H, W)), got {OpRules.Format(x)}");
        // Per-sample sizes are ints everywhere downstream (arena offsets, kernel loops).
        return WithLeading(x, 3, new long[] { x[x.Length - 3], height, width });
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        int? h = call.Int(1), w = call.Int(2);
        if (x < 0 || h is null || w is null) return -1;
        bool ok = true;
        for (int i = 1; i <= 2; i++)
        {
            var bad = SizeProblem(call.ArgName(i), i == 1 ? h.Value : w.Value);
            if (bad is null) continue;
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(i), call.Name, bad);
            ok = false;
        }
        if (!ok) return -1;
        return p.Shaped(Name, call.Name, new[] { x }, Shape(p.ShapeOf(x), h.Value, w.Value), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Input(n.Inputs[0], cx.Node(n.Inputs[0]).Leading), cx.Value(n.Id)) { Fold = cx.Node(n.Inputs[0]).Leading, Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (!cx.NeedsGrad(x)) return;
        var dy = cx.Grad(n.Id);
        cx.Contribute(x, f.Fold, dx => new Step(Back, n, dy, dx) { Fold = f.Fold }, 1);
    }

    static string ShapeArgs(ModelIr m, Node n)
    {
        var x = m.Nodes[n.Inputs[0]].Shape;
        int r = x.Count;
        return $"({x[r - 3]}, {x[r - 2]}, {x[r - 1]}, {n.Shape[r - 2]}, {n.Shape[r - 1]})";
    }

    /// <summary>Resize (nearest, asymmetric, floor) to the output size. ONNX Runtime and PyTorch round the source index
    /// differently for a few size pairs (docs/onnx.md); integer factors and the usual odd ones agree exactly.</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        o.PerImage(n, x => $"b.ResizeNearest({x}, new {EmitCommon.CpuNs}.UpsampleShape{ShapeArgs(o.Model, n)})");

    static string CpuShape(CpuContext c, Node n) => c.ShapeField("UpsampleShape", "new" + ShapeArgs(c.Model, n));

    static string GpuShape(GpuContext g, Node n) => $"new {EmitCommon.CpuNs}.UpsampleShape" + ShapeArgs(g.Model, n);

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Upsample",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.UpsampleKernel.NearestForward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.UpsampleNearestForward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = new("UpsampleBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.UpsampleKernel.NearestBackward(in {CpuShape(c, s.Node!)}, {c.N}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.UpsampleNearestBackward({GpuShape(g, s.Node!)}, {g.N}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}
