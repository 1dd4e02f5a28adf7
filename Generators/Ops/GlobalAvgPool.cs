// GlobalAvgPool: the mean over H and W of each channel, (C, H, W) -> (C) (PyTorch's adaptive_avg_pool2d(x, 1)
// flattened).
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string GlobalAvgPool = "GlobalAvgPool";
}

internal sealed class GlobalAvgPoolOp : OpDef
{
    public override string Name => OpKind.GlobalAvgPool;

    public override IEnumerable<string> OpsMethods => new[] { "GlobalAvgPool" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        var s = p.ShapeOf(x);
        if (s.Length < 3)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, call.Location, "GlobalAvgPool", $"expects a (C, H, W) input (or (T, C, H, W)), got {OpRules.Format(s)}");
            return -1;
        }
        return p.Shaped(Name, "GlobalAvgPool", new[] { x }, WithLeading(s, 3, new long[] { s[s.Length - 3] }), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Input(n.Inputs[0], cx.Node(n.Inputs[0]).Leading), cx.Value(n.Id)) { Fold = cx.Node(n.Inputs[0]).Leading, Owner = this });

    /// <summary>GlobalAveragePool gives (batch, C, 1, 1): flattened to the (C) vector, or reshaped back to (T, C)
    /// when leading axes were folded into the batch.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string pooled = $"b.GlobalAveragePool({o.Images(n, 0)})";
        return n.Shape.Count == 1 ? $"b.Flatten({pooled})" : OnnxContext.Reshape(pooled, n.Shape);
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (!cx.NeedsGrad(x)) return;
        var dy = cx.Grad(n.Id);
        cx.Contribute(x, f.Fold, dx => new Step(Back, n, dy, dx) { Fold = f.Fold }, 1);
    }

    static Node In(EmitContext c, Step s) => c.Model.Nodes[s.Node!.Inputs[0]];

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Gap",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.PoolKernel.GlobalAvgForward({c.N}, {In(c, s).Channels}, {In(c, s).Spatial}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.GlobalAvgPoolForward({g.N}, {In(g, s).Channels}, {In(g, s).Spatial}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = new("GapBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.PoolKernel.GlobalAvgBackward({c.N}, {In(c, s).Channels}, {In(c, s).Spatial}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.GlobalAvgPoolBackward({g.N}, {In(g, s).Channels}, {In(g, s).Spatial}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}
