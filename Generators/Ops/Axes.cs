// What the ops over a chosen per-sample axis share (Transpose, Mean/Sum, Concat and Slice on any axis): axes
// counted as PyTorch counts them (negative from the end), reported at the argument when out of range, and a
// sample seen as [outer, axis, inner] around one axis.
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static class Axes
{
    /// <summary>Axis <paramref name="axis"/> of a rank-<paramref name="rank"/> value (negative counts from the end,
    /// as PyTorch's dim), or null when out of range.</summary>
    public static int? Normalize(int axis, int rank) => axis >= -rank && axis < rank ? (axis < 0 ? axis + rank : axis) : null;

    /// <summary>The axis argument <paramref name="arg"/> of <paramref name="call"/> normalised against <paramref name="shape"/>,
    /// or null after reporting it (AUT0011 at the argument).</summary>
    public static int? Read(ModelParser p, OpCall call, int arg, int[] shape)
    {
        int? axis = call.Int(arg);
        if (axis is null) return null;
        if (Normalize(axis.Value, shape.Length) is int a) return a;
        p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(arg), call.Name,
            $"{call.ArgName(arg)} {axis.Value} is out of range for a {OpRules.Format(shape)} input (axes {-shape.Length} to {shape.Length - 1})");
        return null;
    }

    /// <summary>Product of <paramref name="shape"/>[from, to).</summary>
    public static int Product(System.Collections.Generic.IReadOnlyList<int> shape, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    /// <summary>Elements before axis <paramref name="axis"/> (one per index of the axes left of it).</summary>
    public static int Outer(System.Collections.Generic.IReadOnlyList<int> shape, int axis) => Product(shape, 0, axis);

    /// <summary>Elements per index of axis <paramref name="axis"/> (the product of the axes right of it).</summary>
    public static int Inner(System.Collections.Generic.IReadOnlyList<int> shape, int axis) => Product(shape, axis + 1, shape.Count);
}
