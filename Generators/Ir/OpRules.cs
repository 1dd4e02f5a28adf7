// Shape helpers every op's rule uses: formatting for messages, equality, and the element-wise broadcast rule.
// Each op's own shape rule lives in its definition (Ops/).
using System.Collections.Generic;

namespace Authoring.Generators.Ir;

internal static class OpRules
{
    static string Fmt(IReadOnlyList<int> s) => "(" + string.Join(", ", s) + ")";

    public static string Format(IEnumerable<int> s) => Fmt(new List<int>(s));

    /// <summary>Element-wise binary ops: PyTorch broadcasting (see <see cref="Broadcast"/>).</summary>
    public static (int[]? Shape, string? Error) Elementwise(int[] a, int[] b)
    {
        var plan = Broadcast.Plan(a, b);
        return (plan.Shape, plan.Error);
    }

    /// <summary>True when <paramref name="v"/> is (C) or (C, 1, 1) and <paramref name="full"/> is (C, H, W).</summary>
    public static bool IsChannelVector(IReadOnlyList<int> v, IReadOnlyList<int> full) =>
        full.Count == 3 && v[0] == full[0] && (v.Count == 1 || (v.Count == 3 && v[1] == 1 && v[2] == 1)) && !(full[1] == 1 && full[2] == 1);

    public static bool Same(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }
}
