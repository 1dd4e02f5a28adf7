// Softmax(x): PyTorch's F.softmax(x, dim=-1) over the last axis of a value of any rank (every leading axis is one
// more row). Its backward reads only the stored output: dx = y (dy - sum(dy y)). Kernels: Runtime SoftmaxKernel and
// GpuKernels.Softmax*.
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Softmax = "Softmax";
}

internal sealed class SoftmaxOp : OpDef
{
    public override string Name => OpKind.Softmax;

    public override IEnumerable<string> OpsMethods => new[] { "Softmax" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        return p.AddNode(Name, new[] { x }, p.ShapeOf(x), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }

    public override string? Onnx(OnnxContext o, Node n) => $"b.Softmax({o.In(n, 0)}, -1)";

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, f.Io[1], cx.Grad(n.Id), cx.Grad(x)), 2);
    }

    static string Dims(Node n)
    {
        int cols = n.Shape[n.Shape.Count - 1];
        return $"{n.Size / cols}, {cols}";
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Softmax",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.SoftmaxKernel.Forward({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.SoftmaxForward({g.N}, {Dims(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: y (the forward's output), dy, dx.</summary>
    static readonly Kernel Back = new("SoftmaxBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.SoftmaxKernel.Backward({c.N}, {Dims(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.SoftmaxBackward({g.N}, {Dims(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {EmitContext.Acc(s)});"));
}
