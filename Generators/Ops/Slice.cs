// Slice(x, start, count): channels [start, start + count) of a (C, H, W) value (or features of (F)): a view.
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Slice = "Slice";
}

/// <summary>Slice attributes: [start, count].</summary>
internal sealed class SliceOp : OpDef
{
    public override string Name => OpKind.Slice;

    public override IEnumerable<string> OpsMethods => new[] { "Slice" };

    public override bool IsView(Node n, bool train) => true;

    /// <summary>Slices along the first per-sample axis are contiguous: the view starts start * (elements per index) in.</summary>
    public override int ViewShift(Node n) => n.Ints[0] * (n.Size / n.Shape[0]);

    public static (int[]? Shape, string? Error) Shape(int[] x, int start, int count)
    {
        if (start < 0 || count <= 0 || (long)start + count > x[0])
            return (null, $"channels [{start}, {(long)start + count}) are outside the input's {x[0]} channels");
        var shape = (int[])x.Clone();
        shape[0] = count;
        return (shape, null);
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        int? start = call.Int(1), count = call.Int(2);
        if (x < 0 || start is null || count is null) return -1;
        return p.Shaped(Name, "Slice", new[] { x }, Shape(p.ShapeOf(x), start.Value, count.Value), new[] { start.Value, count.Value }, 0, 0, "", call.Location);
    }
}
