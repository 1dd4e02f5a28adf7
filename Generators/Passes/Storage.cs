// Where every value and gradient of one program lives: root buffers of the arena, with views (reshape, slice)
// and concat parts resolved to a shift inside another buffer. Lowering and autodiff share these rules.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal sealed class Storage
{
    readonly Graph _g;
    readonly Fusion _f;
    readonly bool _train;
    readonly (int Parent, int Shift)?[] _placed;

    public Storage(Graph g, Fusion f, bool train)
    {
        _g = g;
        _f = f;
        _train = train;
        _placed = new (int, int)?[g.Nodes.Length];
        Place();
    }

    public Program Program { get; } = new();

    public bool IsView(Node n) => n.Def.IsView(n, _train);

    /// <summary>Stored in a buffer of its own: a kernel's output (even when its op, a folded BatchNorm or a fused
    /// activation, was absorbed into that kernel: the kernel writes it) or a value written by its parts (concat).</summary>
    public bool Materialized(int v)
    {
        var n = _g.Nodes[v];
        return !IsView(n) && (_f.KernelOut.Contains(v) || (!_f.Absorbed[v] && n.Def.WrittenByParts(n)));
    }

    /// <summary>The concat (and shift in it) a value is written into, if it was placed there.</summary>
    public (int Parent, int Shift)? PlacedIn(int v) => _placed[v];

    void Place()
    {
        // Outer concats first, so a concat placed inside another resolves through it.
        var nodes = _g.Nodes;
        for (int i = nodes.Length - 1; i >= 0; i--)
        {
            var node = nodes[i];
            if (!_g.Reachable[i] || !node.Def.WrittenByParts(node)) continue;
            int shift = 0;
            foreach (int part in node.Inputs)
            {
                bool once = node.Inputs.Count(x => x == part) == 1;
                // Values with leading axes stay dense: the kernels that write them fold those axes into the batch.
                if (once && _placed[part] is null && Materialized(part) && nodes[part].Op != OpKind.Input && nodes[part].Leading == 1)
                    _placed[part] = (i, shift);
                shift += nodes[part].Size;
            }
        }
    }

    public Ref Value(int v) => Resolve(v, Program.Values, "act ", Value);

    public Ref Grad(int v) => Resolve(v, Program.Grads, "grad ", Grad);

    /// <summary>Values and gradients share one placement rule: a concat part lives in its slice of the
    /// concat's buffer, a view in its input's buffer, anything else in a buffer of its own.</summary>
    Ref Resolve(int v, Dictionary<int, Ref> known, string label, System.Func<int, Ref> parentOf)
    {
        if (known.TryGetValue(v, out var r)) return r;
        var node = _g.Nodes[v];
        if (_placed[v] is { } pl)
        {
            var parent = parentOf(pl.Parent);
            r = new Ref(parent.Buffer, parent.Shift + pl.Shift);
        }
        else if (IsView(node))
        {
            var inner = parentOf(node.Inputs[0]);
            r = new Ref(inner.Buffer, inner.Shift + node.Def.ViewShift(node));
        }
        else
        {
            // A value its op stores packed (OpDef.PackedWords) lives in the bit arena; gradients never are.
            int words = ReferenceEquals(known, Program.Values) ? node.Def.PackedWords(node) : 0;
            r = new Ref(words > 0 ? NewBuffer(words, label + Label(node), bits: true) : NewBuffer(node.Size, label + Label(node)), 0);
        }
        known[v] = r;
        return r;
    }

    public static string Label(Node n) => n.Layer.Length > 0 ? n.Layer : n.Op + "#" + n.Id;

    public int NewBuffer(int perSample, string label, bool bits = false)
    {
        var b = new Buffer(Program.Buffers.Count, perSample, label, bits);
        Program.Buffers.Add(b);
        return b.Id;
    }
}
