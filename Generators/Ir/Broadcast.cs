// Element-wise broadcasting, as PyTorch does it (shapes aligned from the right, size-1 axes stretched), plus
// one rule kept from the first version of the DSL: a (C) vector against a (..., C, H, W) value (H * W > 1)
// lines up with the channel axis, as the squeeze-excite idiom writes it. Every decision returns the axis map
// it used, so fusion places each operand exactly as the op's shape rule did.
using System.Collections.Generic;

namespace Authoring.Generators.Ir;

internal static class Broadcast
{
    /// <summary>The result of a binary element-wise op and, per operand, the result axis each of its axes lies on;
    /// or the reason the shapes do not broadcast.</summary>
    public static (int[]? Shape, int[] AxesA, int[] AxesB, string? Error) Plan(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (OpRules.Same(a, b)) return (Copy(a), Identity(a.Count), Identity(b.Count), null);
        if (IsChannelVector(a, b)) return (Copy(b), new[] { b.Count - 3 }, Identity(b.Count), null);
        if (IsChannelVector(b, a)) return (Copy(a), Identity(a.Count), new[] { a.Count - 3 }, null);
        int r = System.Math.Max(a.Count, b.Count);
        var shape = new int[r];
        for (int k = 0; k < r; k++)
        {
            int da = k - (r - a.Count) >= 0 ? a[k - (r - a.Count)] : 1;
            int db = k - (r - b.Count) >= 0 ? b[k - (r - b.Count)] : 1;
            if (da != db && da != 1 && db != 1)
                return (null, new int[0], new int[0],
                    $"shapes {OpRules.Format(a)} and {OpRules.Format(b)} do not broadcast: aligned from the right, axis {k} has {da} and {db} (each pair must be equal or contain a 1; a (C) vector against (C, H, W) follows the channels)");
            shape[k] = System.Math.Max(da, db);
        }
        long size = 1;
        foreach (int d in shape) size *= d;
        if (size > int.MaxValue) return (null, new int[0], new int[0], $"the result {OpRules.Format(shape)} has more than {int.MaxValue} elements per sample");
        return (shape, RightAligned(a.Count, r), RightAligned(b.Count, r), null);
    }

    /// <summary>A (C) vector against (..., C, H, W) with H * W &gt; 1: it follows the channel axis.</summary>
    static bool IsChannelVector(IReadOnlyList<int> v, IReadOnlyList<int> full) =>
        v.Count == 1 && full.Count >= 3 && v[0] == full[full.Count - 3] && (long)full[full.Count - 2] * full[full.Count - 1] != 1;

    public static int[] Identity(int rank)
    {
        var axes = new int[rank];
        for (int i = 0; i < rank; i++) axes[i] = i;
        return axes;
    }

    static int[] RightAligned(int rank, int resultRank)
    {
        var axes = new int[rank];
        for (int i = 0; i < rank; i++) axes[i] = resultRank - rank + i;
        return axes;
    }

    static int[] Copy(IReadOnlyList<int> s)
    {
        var c = new int[s.Count];
        for (int i = 0; i < c.Length; i++) c[i] = s[i];
        return c;
    }

    /// <summary>Where each axis of operand <paramref name="i"/> of an element-wise node lies in the node's own shape.</summary>
    public static int[] OperandAxes(Node n, int i, IReadOnlyList<Node> nodes)
    {
        if (n.Inputs.Count != 2) return Identity(nodes[n.Inputs[i]].Shape.Count);
        var plan = Plan(nodes[n.Inputs[0]].Shape, nodes[n.Inputs[1]].Shape);
        return i == 0 ? plan.AxesA : plan.AxesB;
    }

    /// <summary>Maps an operand's axes through a member's axes (operand axis -> member axis -> root axis).</summary>
    public static int[] Compose(int[] inner, int[] outer)
    {
        var axes = new int[inner.Length];
        for (int i = 0; i < inner.Length; i++) axes[i] = outer[inner[i]];
        return axes;
    }

    /// <summary>Per root axis, the element stride of an operand of shape <paramref name="shape"/> placed on
    /// <paramref name="axes"/>: 0 where it is broadcast (absent or size 1).</summary>
    public static long[] Strides(IReadOnlyList<int> shape, int[] axes, IReadOnlyList<int> root)
    {
        var strides = new long[root.Count];
        long st = 1;
        for (int j = shape.Count - 1; j >= 0; j--)
        {
            strides[axes[j]] = shape[j] == 1 ? 0 : st;
            st *= shape[j];
        }
        return strides;
    }
}
