// Concat(parts) and Concat(parts, axis): joins values along one per-sample axis (PyTorch's torch.cat along dim
// axis + 1); parts agree on every other axis. Along the first axis (or any axis with only length-1 axes before it)
// the parts are consecutive in memory: they are written straight into slices of the concat's buffer where they can
// be (kernel outputs used once) and the rest are copied in. Along an inner axis each part's rows interleave with the
// others', so a copy kernel (Runtime AxisKernel, GpuKernels.AxisCopy) moves each part into its columns, and the
// backward pass gathers each part's columns of the gradient back.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Concat = "Concat";
}

/// <summary>Concat attributes: Ints [axis] (normalised; absent for the first axis).</summary>
internal sealed class ConcatOp : OpDef
{
    public override string Name => OpKind.Concat;

    public override IEnumerable<string> OpsMethods => new[] { "Concat" };

    static int Axis(Node n) => n.Ints.Count > 0 ? n.Ints[0] : 0;

    /// <summary>Parts are consecutive in the result when every axis before the concat axis has length 1.</summary>
    public override bool WrittenByParts(Node n) => Axes.Outer(n.Shape, Axis(n)) == 1;

    /// <summary>Parts of equal rank agreeing on every axis but <paramref name="axis"/>, joined along it.</summary>
    public static (int[]? Shape, string? Error) Shape(IReadOnlyList<int[]> parts, int axis = 0)
    {
        if (parts.Count == 0) return (null, "needs at least one input");
        var first = parts[0];
        long total = 0;
        foreach (var part in parts)
        {
            bool same = part.Length == first.Length;
            for (int i = 0; same && i < part.Length; i++) same = i == axis || part[i] == first[i];
            if (!same)
                return (null, $"inputs {OpRules.Format(first)} and {OpRules.Format(part)} differ in more than axis {axis}");
            total += part[axis];
        }
        long size = total;
        for (int i = 0; i < first.Length; i++) if (i != axis) size *= first[i];
        if (size > int.MaxValue) return (null, $"the result has more than {int.MaxValue} elements per sample");
        var shape = (int[])first.Clone();
        shape[axis] = (int)total;
        return (shape, null);
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        var ids = call.Tensors(0);
        if (ids is null) return -1;
        if (ids.Count == 0)
        {
            p.Report(Diagnostics.DiagnosticDescriptors.ShapeMismatch, call.Location, "Concat", "needs at least one input");
            return -1;
        }
        int axis = 0;
        if (call.Count > 1)
        {
            int? a = Axes.Read(p, call, 1, p.ShapeOf(ids[0]));
            if (a is null) return -1;
            axis = a.Value;
        }
        var ints = axis == 0 ? System.Array.Empty<int>() : new[] { axis };
        return p.Shaped(Name, "Concat", ids.ToArray(), Shape(ids.Select(p.ShapeOf).ToList(), axis), ints, 0, 0, "", call.Location);
    }

    /// <summary>Concat along the per-sample axis + 1 (the batch is ONNX's axis 0).</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.Concat({Axis(n) + 1}, {string.Join(", ", Enumerable.Range(0, n.Inputs.Count).Select(i => o.In(n, i)))})";

    public override void Lower(Lowering cx, Node n)
    {
        var outRef = cx.Value(n.Id);
        if (!WrittenByParts(n))
        {
            // Along an inner axis: each part copied into its columns of every row (Arg: the part's place in the inputs).
            for (int k = 0; k < n.Inputs.Count; k++)
                cx.Add(new Step(Scatter, n, cx.Value(n.Inputs[k]), outRef) { Operand = n.Inputs[k], Arg = k, Owner = this });
            return;
        }
        int shift = 0;
        foreach (int part in n.Inputs)
        {
            if (cx.Storage.PlacedIn(part) is not { } pl || pl.Parent != n.Id)
                cx.Add(new Step(Utility.Copy, n, cx.Value(part), new Ref(outRef.Buffer, outRef.Shift + shift)) { Size = cx.Node(part).Size, Operand = part, Owner = this });
            shift += cx.Node(part).Size;
        }
    }

    /// <summary>A part that could not be written in place, or any part along an inner axis: route its share of the
    /// gradient back.</summary>
    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int part = f.Operand;
        if (!cx.NeedsGrad(part)) return;
        var concatGrad = cx.Grad(n.Id);
        if (!WrittenByParts(n))
        {
            cx.Contribute(part, new Step(Gather, n, concatGrad, cx.Grad(part)) { Operand = part, Arg = f.Arg }, 1);
            return;
        }
        var src = new Ref(concatGrad.Buffer, concatGrad.Shift + (f.Io[1].Shift - cx.Value(n.Id).Shift));
        cx.Contribute(part, new Step(Utility.Copy, n, src, cx.Grad(part)) { Size = f.Size }, 1);
    }

    /// <summary>"outer, run, partRow, concatRow, offset" of input <paramref name="k"/> of an inner-axis concat: each
    /// of the outer rows holds the part's run at offset in a concat row.</summary>
    static (int Outer, int Run, int ConcatRow, int Offset) Layout(ModelIr m, Node n, int k)
    {
        int axis = Axis(n), outer = Axes.Outer(n.Shape, axis), inner = Axes.Inner(n.Shape, axis), before = 0;
        for (int i = 0; i < k; i++) before += m.Nodes[n.Inputs[i]].Shape[axis];
        return (outer, m.Nodes[n.Inputs[k]].Shape[axis] * inner, n.Shape[axis] * inner, before * inner);
    }

    /// <summary>Io: part, concat (Arg: the part's input index). Writes the part's columns of every row.</summary>
    static readonly Kernel Scatter = new("ConcatPart",
        (c, s) =>
        {
            var (o, run, row, off) = Layout(c.Model, s.Node!, s.Arg);
            c.Line($"{EmitCommon.CpuNs}.AxisKernel.Copy({c.N}, {o}, {run}, {c.V(s.Io[0])}, {run}, 0, {c.V(s.Io[1])}, {row}, {off}, false);");
        },
        (g, s) =>
        {
            var (o, run, row, off) = Layout(g.Model, s.Node!, s.Arg);
            g.Line($"__k.AxisCopy({g.N}, {o}, {run}, {g.V(s.Io[0])}, {run}, 0, {g.V(s.Io[1])}, {row}, {off}, false);");
        });

    /// <summary>Io: dconcat, dpart (Arg: the part's input index).</summary>
    static readonly Kernel Gather = new("ConcatPartBack",
        (c, s) =>
        {
            var (o, run, row, off) = Layout(c.Model, s.Node!, s.Arg);
            c.Line($"{EmitCommon.CpuNs}.AxisKernel.Copy({c.N}, {o}, {run}, {c.V(s.Io[0])}, {row}, {off}, {c.V(s.Io[1])}, {run}, 0, {EmitContext.Acc(s)});");
        },
        (g, s) =>
        {
            var (o, run, row, off) = Layout(g.Model, s.Node!, s.Arg);
            g.Line($"__k.AxisCopy({g.N}, {o}, {run}, {g.V(s.Io[0])}, {row}, {off}, {g.V(s.Io[1])}, {run}, 0, {EmitContext.Acc(s)});");
        });
}
