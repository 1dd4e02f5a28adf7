// Reshape(x, dims) and Flatten(x): the same elements under another per-sample shape: a view.
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Reshape = "Reshape";
}

internal sealed class ReshapeOp : OpDef
{
    public override string Name => OpKind.Reshape;

    public override IEnumerable<string> OpsMethods => new[] { "Reshape", "Flatten" };

    public override bool IsView(Node n, bool train) => true;

    public static (int[]? Shape, string? Error) Shape(int[] x, int[] target)
    {
        long a = 1, b = 1;
        foreach (int d in x) a *= d;
        foreach (int d in target)
        {
            if (d <= 0) return (null, $"target shape {OpRules.Format(target)} must have positive dimensions");
            b *= d;
            if (b > int.MaxValue) return (null, $"target shape {OpRules.Format(target)} has more than {int.MaxValue} elements");
        }
        if (target.Length < 1 || target.Length > 4) return (null, $"target shape {OpRules.Format(target)} must have 1 to 4 axes");
        if (a != b) return (null, $"cannot reshape {OpRules.Format(x)} ({a} elements) to {OpRules.Format(target)} ({b} elements)");
        return (target, null);
    }

    /// <summary>Reshape of each sample to the node's shape, the batch kept (0 copies it); Flatten as ONNX's Flatten.</summary>
    public override string? Onnx(Emit.OnnxContext o, Node n) =>
        n.Shape.Count == 1 ? $"b.Flatten({o.In(n, 0)})" : $"b.ReshapeSamples({o.In(n, 0)}, {Emit.OnnxContext.Ints(n.Shape)})";

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        if (call.Name == "Flatten")
            return p.AddNode(Name, new[] { x }, new[] { p.NodeAt(x).Size }, System.Array.Empty<int>(), 0, 0, "", call.Location);
        var target = call.Ints(1, "shape");
        if (target is null) return -1;
        return p.Shaped(Name, "Reshape", new[] { x }, Shape(p.ShapeOf(x), target), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }
}
