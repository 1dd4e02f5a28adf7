// The iteration space of a fused element-wise tree, shared by both backends' code: the root's axes with
// size-1 axes dropped and neighbours merged wherever every leaf is contiguous across them, and per leaf the
// element stride along each remaining axis (0 where the leaf is broadcast). The last axis is the vectorised one;
// there every leaf's stride is 0 or 1.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Emit;

internal sealed class EltLayout
{
    EltLayout(int[] extents, long[][] strides)
    {
        Extents = extents;
        LeafStrides = strides;
    }

    /// <summary>Extents of the merged axes, outermost first (at least one axis).</summary>
    public int[] Extents { get; }
    /// <summary>Per leaf, its stride along each merged axis.</summary>
    public long[][] LeafStrides { get; }
    public int Rank => Extents.Length;
    /// <summary>Elements of the root per sample.</summary>
    public int Size => Extents.Aggregate(1, (a, b) => a * b);
    /// <summary>Stride of the (dense) output along each merged axis.</summary>
    public long OutStride(int d)
    {
        long s = 1;
        for (int k = d + 1; k < Extents.Length; k++) s *= Extents[k];
        return s;
    }

    /// <summary>True when leaf <paramref name="i"/> covers the whole root (no broadcast axis).</summary>
    public bool IsFull(int i)
    {
        for (int d = 0; d < Rank; d++) if (LeafStrides[i][d] != OutStride(d)) return false;
        return true;
    }

    /// <summary>Whether leaf <paramref name="i"/> is read with a vector load (stride 1) along the last axis, or splatted (0).</summary>
    public bool VaryInner(int i) => LeafStrides[i][Rank - 1] != 0;

    public static EltLayout Of(ModelIr m, EltGroup g)
    {
        var root = g.Root.Shape;
        int r = root.Count;
        var full = g.Leaves.Select(l => Broadcast.Strides(m.Nodes[l.Node].Shape, l.Axes, root)).ToList();
        var outStrides = Broadcast.Strides(root, Broadcast.Identity(r), root);
        var extents = new List<int>();
        var strides = g.Leaves.Select(_ => new List<long>()).ToList();
        var outs = new List<long>();
        for (int k = 0; k < r; k++)
        {
            if (root[k] == 1) continue;
            int last = extents.Count - 1;
            bool merge = last >= 0 && outs[last] == outStrides[k] * root[k];
            for (int i = 0; merge && i < full.Count; i++)
                merge = strides[i][last] == full[i][k] * root[k];
            if (merge)
            {
                extents[last] *= root[k];
                for (int i = 0; i < full.Count; i++) strides[i][last] = full[i][k];
                outs[last] = outStrides[k];
            }
            else
            {
                extents.Add(root[k]);
                for (int i = 0; i < full.Count; i++) strides[i].Add(full[i][k]);
                outs.Add(outStrides[k]);
            }
        }
        if (extents.Count == 0)
        {
            extents.Add(1);
            foreach (var s in strides) s.Add(0);
        }
        return new EltLayout(extents.ToArray(), strides.Select(s => s.ToArray()).ToArray());
    }
}
