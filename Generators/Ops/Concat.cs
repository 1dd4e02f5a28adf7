// Concat(parts): joins (C, H, W) values along channels (or (F) values along features). Its parts are written
// straight into slices of its buffer where they can be (kernel outputs used once); the rest are copied in.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Concat = "Concat";
}

internal sealed class ConcatOp : OpDef
{
    public override string Name => OpKind.Concat;

    public override IEnumerable<string> OpsMethods => new[] { "Concat" };

    public override bool WrittenByParts => true;

    public static (int[]? Shape, string? Error) Shape(IReadOnlyList<int[]> parts)
    {
        if (parts.Count == 0) return (null, "needs at least one input");
        var first = parts[0];
        if (first.Length != 3 && first.Length != 1) return (null, $"expects (C, H, W) or (F) inputs, got {OpRules.Format(first)}");
        long c = 0;
        foreach (var part in parts)
        {
            if (part.Length != first.Length || (part.Length == 3 && (part[1] != first[1] || part[2] != first[2])))
                return (null, $"inputs {OpRules.Format(first)} and {OpRules.Format(part)} differ in more than the channel count");
            c += part[0];
        }
        long size = c;
        for (int i = 1; i < first.Length; i++) size *= first[i];
        if (size > int.MaxValue) return (null, $"the result has more than {int.MaxValue} elements per sample");
        var shape = (int[])first.Clone();
        shape[0] = (int)c;
        return (shape, null);
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        var ids = call.Tensors(0);
        if (ids is null) return -1;
        return p.Shaped(Name, "Concat", ids.ToArray(), Shape(ids.Select(p.ShapeOf).ToList()), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }

    public override void Lower(Lowering cx, Node n)
    {
        var outRef = cx.Value(n.Id);
        int shift = 0;
        foreach (int part in n.Inputs)
        {
            if (cx.Storage.PlacedIn(part) is not { } pl || pl.Parent != n.Id)
                cx.Add(new Step(Utility.Copy, n, cx.Value(part), new Ref(outRef.Buffer, outRef.Shift + shift)) { Size = cx.Node(part).Size, Operand = part, Owner = this });
            shift += cx.Node(part).Size;
        }
    }

    /// <summary>A part that could not be written in place: route its slice of the gradient back.</summary>
    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int part = f.Operand;
        if (!cx.NeedsGrad(part)) return;
        var concatGrad = cx.Grad(n.Id);
        var src = new Ref(concatGrad.Buffer, concatGrad.Shift + (f.Io[1].Shift - cx.Value(n.Id).Shift));
        cx.Contribute(part, new Step(Utility.Copy, n, src, cx.Grad(part)) { Size = f.Size }, 1);
    }
}
