// Mean(x, axis, keepDim) and Sum(x, axis, keepDim): PyTorch's x.mean(dim) / x.sum(dim) over one per-sample axis
// (negative axes count from the end); keepDim keeps the axis with length 1, which changes the shape, not the
// elements. Reducing an axis of length 1 is a view. Kernels: Runtime ReduceKernel and GpuKernels.Reduce*.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Mean = "Mean";
    public const string Sum = "Sum";
}

/// <summary>Reduction attributes: Ints [axis (normalised), keepDim, length of the reduced axis].</summary>
internal abstract class ReduceOp : OpDef
{
    public override IEnumerable<string> OpsMethods => new[] { Name };

    /// <summary>What each sum is multiplied by: 1 for a sum, 1 / len for a mean.</summary>
    protected abstract float Scale(int len);

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        var s = p.ShapeOf(x);
        int? axis = Axes.Read(p, call, 1, s);
        bool? keep = call.Bool(2);
        if (axis is null || keep is null) return -1;
        int[] y;
        if (keep.Value)
        {
            y = (int[])s.Clone();
            y[axis.Value] = 1;
        }
        else
        {
            if (s.Length == 1)
            {
                p.Report(DiagnosticDescriptors.ShapeMismatch, call.Location, call.Name,
                    $"reducing the only axis of {OpRules.Format(s)} leaves no axis: pass keepDim: true for a (1) result");
                return -1;
            }
            y = new int[s.Length - 1];
            for (int i = 0, j = 0; i < s.Length; i++) if (i != axis.Value) y[j++] = s[i];
        }
        return p.AddNode(Name, new[] { x }, y, new[] { axis.Value, keep.Value ? 1 : 0, s[axis.Value] }, 0, 0, "", call.Location);
    }

    public override bool IsView(Node n, bool train) => n.Ints[2] == 1;

    /// <summary>ReduceMean or ReduceSum over the per-sample axis + 1, keeping it as PyTorch's keepdim does.</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.Reduce{Name}({o.In(n, 0)}, new int[] {{ {n.Ints[0] + 1} }}, keepDims: {OnnxContext.Bool(n.Ints[1] != 0)})";

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), cx.Grad(x)), 1);
    }

    /// <summary>"outer, len, inner, scale" of the input seen as [outer, len, inner].</summary>
    static string Args(Node n)
    {
        int axis = n.Ints[0], len = n.Ints[2];
        int outer = Axes.Product(n.Shape, 0, axis);
        int inner = n.Size / outer;
        return $"{outer}, {len}, {inner}, {EmitCommon.F(((ReduceOp)n.Def).Scale(len))}";
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Reduce",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ReduceKernel.Forward({c.N}, {Args(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.ReduceForward({g.N}, {Args(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = new("ReduceBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ReduceKernel.Backward({c.N}, {Args(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.ReduceBackward({g.N}, {Args(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}

internal sealed class MeanOp : ReduceOp
{
    public override string Name => OpKind.Mean;

    protected override float Scale(int len) => 1f / len;
}

internal sealed class SumOp : ReduceOp
{
    public override string Name => OpKind.Sum;

    protected override float Scale(int len) => 1f;
}
