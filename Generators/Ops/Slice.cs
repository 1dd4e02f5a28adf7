// Slice(x, start, count, axis): indices [start, start + count) of one per-sample axis (negative axes count from the
// end), as PyTorch's x.narrow(axis, start, count). Along the first axis (or any axis with only length-1 axes before
// it) the slice is contiguous: a view. Along an inner axis a copy kernel gathers the run of every row (Runtime
// AxisKernel, GpuKernels.AxisCopy), and the backward pass writes the whole input gradient (zeros outside the slice
// unless it accumulates).
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Slice = "Slice";
}

/// <summary>Slice attributes: [start, count, axis] (axis normalised; absent for the first axis).</summary>
internal sealed class SliceOp : OpDef
{
    public override string Name => OpKind.Slice;

    public override IEnumerable<string> OpsMethods => new[] { "Slice" };

    static int Axis(Node n) => n.Ints.Count > 2 ? n.Ints[2] : 0;

    /// <summary>Contiguous when every axis before the sliced one has length 1 (the output shares them with the input).</summary>
    public override bool IsView(Node n, bool train) => Axes.Outer(n.Shape, Axis(n)) == 1;

    /// <summary>The view starts start * (elements per index of the axis) in.</summary>
    public override int ViewShift(Node n) => n.Ints[0] * Axes.Inner(n.Shape, Axis(n));

    public static (int[]? Shape, string? Error) Shape(int[] x, int start, int count, int axis)
    {
        if (start < 0 || count <= 0 || (long)start + count > x[axis])
            return (null, $"indices [{start}, {(long)start + count}) along axis {axis} are outside the input's {x[axis]} (input shape {OpRules.Format(x)})");
        var shape = (int[])x.Clone();
        shape[axis] = count;
        return (shape, null);
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        int? start = call.Int(1), count = call.Int(2);
        if (x < 0 || start is null || count is null) return -1;
        int? axis = call.Count > 3 ? Axes.Read(p, call, 3, p.ShapeOf(x)) : 0;
        if (axis is null) return -1;
        var ints = axis == 0 ? new[] { start.Value, count.Value } : new[] { start.Value, count.Value, axis.Value };
        return p.Shaped(Name, "Slice", new[] { x }, Shape(p.ShapeOf(x), start.Value, count.Value, axis.Value), ints, 0, 0, "", call.Location);
    }

    /// <summary>Slice [start, start + count) of the per-sample axis + 1.</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.Slice({o.In(n, 0)}, new long[] {{ {n.Ints[0]} }}, new long[] {{ {n.Ints[0] + n.Ints[1]} }}, new long[] {{ {Axis(n) + 1} }})";

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), cx.Grad(x)), 1);
    }

    /// <summary>Outer rows, and per row: the input's run, the slice's start in it and the slice's run (floats).</summary>
    static (int Outer, int Full, int Start, int Run) Layout(ModelIr m, Node n)
    {
        int axis = Axis(n), inner = Axes.Inner(n.Shape, axis);
        return (Axes.Outer(n.Shape, axis), m.Nodes[n.Inputs[0]].Shape[axis] * inner, n.Ints[0] * inner, n.Ints[1] * inner);
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Slice",
        (c, s) =>
        {
            var (o, full, start, run) = Layout(c.Model, s.Node!);
            c.Line($"{EmitCommon.CpuNs}.AxisKernel.Copy({c.N}, {o}, {run}, {c.V(s.Io[0])}, {full}, {start}, {c.V(s.Io[1])}, {run}, 0, false);");
        },
        (g, s) =>
        {
            var (o, full, start, run) = Layout(g.Model, s.Node!);
            g.Line($"__k.AxisCopy({g.N}, {o}, {run}, {g.V(s.Io[0])}, {full}, {start}, {g.V(s.Io[1])}, {run}, 0, false);");
        });

    /// <summary>Io: dy, dx (all of it: zeros outside the slice unless accumulating).</summary>
    static readonly Kernel Back = new("SliceBack",
        (c, s) =>
        {
            var (o, full, start, run) = Layout(c.Model, s.Node!);
            c.Line($"{EmitCommon.CpuNs}.AxisKernel.SliceBackward({c.N}, {o}, {full}, {start}, {run}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});");
        },
        (g, s) =>
        {
            var (o, full, start, run) = Layout(g.Model, s.Node!);
            g.Line($"__k.SliceBackward({g.N}, {o}, {full}, {start}, {run}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});");
        });
}
