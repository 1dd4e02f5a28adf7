// Which values carry a leading time axis (T, ...), for the spiking ops that need one (neurons, MeanOverTime). Shapes
// alone cannot tell (T, F) from (N, F) or (C, H, W) from (T, N, D), so the axis is traced through the graph: encoders
// and neurons produce it, MeanOverTime removes it, a time-major model input ((T, F) or (T, C, H, W)) has it, and any
// other op keeps it when its result still leads with the same extent as a time-major input.
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static class TimeAxis
{
    // Per parser (one model), the answer per node id: nodes only grow while a model is parsed, and graphs with shared
    // branches would otherwise be walked once per path.
    static readonly ConditionalWeakTable<ModelParser, Dictionary<int, bool>> Memo = new();

    /// <summary>True when value <paramref name="v"/> is time-major: its first axis is the time axis.</summary>
    public static bool Has(ModelParser p, int v)
    {
        var memo = Memo.GetOrCreateValue(p);
        if (memo.TryGetValue(v, out bool known)) return known;
        bool has = Compute(p, p.NodeAt(v), memo);
        memo[v] = has;
        return has;
    }

    static bool Compute(ModelParser p, Node n, Dictionary<int, bool> memo)
    {
        if (n.Shape.Count < 2) return false;
        switch (n.Op)
        {
            case OpKind.Repeat:
            case OpKind.Poisson:
            case OpKind.Neuron:
            case OpKind.ParametricNeuron:
                return true;
            case OpKind.MeanOverTime:
            case OpKind.Tokens:
                return false;
            case OpKind.Input:
                return n.Shape.Count is 2 or 4;
        }
        foreach (int i in n.Inputs)
        {
            var m = p.NodeAt(i);
            if (m.Shape.Count >= 2 && m.Shape[0] == n.Shape[0] && Has(p, i)) return true;
        }
        return false;
    }

    /// <summary>The message for <paramref name="what"/> applied to a value without a time axis.</summary>
    public static string Missing(string what, int[] shape) =>
        $"{what} acts on a time-major value (T, ...), but {OpRules.Format(shape)} has no time axis: " +
        "encode the input with Repeat(x, T) or Poisson(x, T), or declare a time-major input such as [Shape(T, C, H, W)]";
}
