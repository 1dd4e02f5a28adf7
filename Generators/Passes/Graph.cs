// Read-only facts about a model's graph that every pass needs: which nodes the output depends on, who
// consumes each value, and which values need a gradient.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal sealed class Graph
{
    readonly List<int>[] _consumers;

    public Graph(ModelIr model)
    {
        Model = model;
        Nodes = model.Nodes.ToArray();
        int n = Nodes.Length;
        _consumers = new List<int>[n];
        Reachable = new bool[n];
        NeedsGrad = new bool[n];
        for (int i = 0; i < n; i++) _consumers[i] = new List<int>();

        var stack = new Stack<int>();
        stack.Push(model.Output);
        while (stack.Count > 0)
        {
            int v = stack.Pop();
            if (Reachable[v]) continue;
            Reachable[v] = true;
            foreach (int i in Nodes[v].Inputs) stack.Push(i);
        }
        foreach (var node in Nodes)
        {
            if (!Reachable[node.Id]) continue;
            foreach (int i in node.Inputs) if (!_consumers[i].Contains(node.Id)) _consumers[i].Add(node.Id);
            NeedsGrad[node.Id] = node.Def.Has(OpTraits.Parameters) || node.Inputs.Any(i => NeedsGrad[i]);
        }
    }

    public ModelIr Model { get; }
    public Node[] Nodes { get; }
    public int Output => Model.Output;
    /// <summary>Nodes the output depends on; the others are never computed.</summary>
    public bool[] Reachable { get; }
    /// <summary>Values whose gradient a training step needs (they lead to a parameter).</summary>
    public bool[] NeedsGrad { get; }

    public IReadOnlyList<int> Consumers(int v) => _consumers[v];

    /// <summary>The only consumer of <paramref name="v"/>, unless it has several or is the model's output.</summary>
    public int? SingleConsumer(int v) => _consumers[v].Count == 1 && v != Output ? _consumers[v][0] : null;
}
