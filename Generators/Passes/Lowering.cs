// Lowering: the forward program. Each node that needs a kernel is lowered by its op's definition (or, for an
// element-wise tree, by the tree's kernel); views and values absorbed into another kernel produce no step.
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal sealed class Lowering : PassContext
{
    public Lowering(Graph graph, Fusion fusion, Storage storage, bool train, StateAllocator state)
        : base(graph, fusion, storage, train, state)
    {
    }

    /// <summary>The value of input <paramref name="v"/> for a kernel folding <paramref name="fold"/> leading axes into
    /// the batch: the value itself, or a dense copy when it is a slice of a larger buffer.</summary>
    public Ref Input(int v, int fold)
    {
        var r = Value(v);
        if (fold == 1 || IsDense(r, v)) return r;
        var copy = NewBuffer(Node(v).Size, "dense " + Storage.Label(Node(v)));
        Add(new Step(Utility.Copy, null, r, copy) { Size = Node(v).Size });
        return copy;
    }

    readonly System.Collections.Generic.Dictionary<int, int> _statistics = new();

    /// <summary>The state region of a training BatchNorm whose statistics its producer takes (4 C floats: mean and
    /// inverse std as ForwardTrain saves them, then the affine scale and shift its output is computed with), taken once
    /// and shared by the producer, the BatchNorm and a consumer applying it.</summary>
    public int StatisticsState(Ir.Node bn)
    {
        if (!_statistics.TryGetValue(bn.Id, out int st)) _statistics[bn.Id] = st = State(4 * bn.Channels);
        return st;
    }

    public void Run()
    {
        Program.Input = Value(0);
        foreach (var node in Graph.Nodes)
        {
            int v = node.Id;
            if (!Graph.Reachable[v] || Fusion.Absorbed[v] || Storage.IsView(node)) continue;
            if (Fusion.GroupOf[v] is { } group) ElementwiseTree.Lower(this, group);
            else node.Def.Lower(this, node);
        }
        Program.Output = Value(Model.Output);
    }
}
