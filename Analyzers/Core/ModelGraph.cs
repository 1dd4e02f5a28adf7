// Read-only views over a parsed ModelIr that rules share: consumers of each node, ancestry, and the
// re-parameterizable multi-branch blocks several rules must agree on (so each problem is reported once).
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Analyzers.Core;

/// <summary>Parallel linear branches from one tensor summed by an Add tree (RepVGG / MobileOne style).</summary>
internal sealed record RepBlock(int Root, int Fork, int Branches, int Convs, HashSet<int> Members);

internal sealed class ModelGraph
{
    readonly List<int>[] _consumers;
    List<RepBlock>? _repBlocks;

    public ModelGraph(ModelIr ir)
    {
        Ir = ir;
        Nodes = ir.Nodes.ToArray();
        _consumers = new List<int>[Nodes.Length];
        for (int i = 0; i < Nodes.Length; i++) _consumers[i] = new List<int>();
        foreach (var n in Nodes)
            foreach (int input in n.Inputs)
                if (input >= 0 && input < Nodes.Length && !_consumers[input].Contains(n.Id)) _consumers[input].Add(n.Id);
    }

    public ModelIr Ir { get; }

    public Node[] Nodes { get; }

    public int Output => Ir.Output;

    public IReadOnlyList<int> Consumers(int id) => _consumers[id];

    public Node Input(Node n, int i = 0) => Nodes[n.Inputs[i]];

    public bool SingleConsumer(int id) => _consumers[id].Count == 1 && id != Output;

    /// <summary>The model input's H*W, or 0 for a (features) input.</summary>
    public int InputSpatial => Nodes.Length > 0 && Nodes[0].Op == OpKind.Input ? Nodes[0].Spatial : 0;

    /// <summary>True when <paramref name="ancestor"/> is reachable backwards from <paramref name="id"/>.</summary>
    public bool DependsOn(int id, int ancestor)
    {
        if (id == ancestor) return true;
        if (ancestor > id) return false; // nodes are created in dependency order
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        stack.Push(id);
        while (stack.Count > 0)
        {
            int n = stack.Pop();
            if (n == ancestor) return true;
            if (n < ancestor || !seen.Add(n)) continue;
            foreach (int i in Nodes[n].Inputs) stack.Push(i);
        }
        return false;
    }

    public static bool IsDepthwise(Node n) =>
        n.Op == OpKind.Conv2d && new ConvAttrs(n) is var c && c.Groups == c.Cin && c.Cin == c.Cout && c.Groups > 1;

    /// <summary>Add trees whose summands are Conv(x), BN(Conv(x)), BN(x) or x for one x, with at least one conv.</summary>
    public IReadOnlyList<RepBlock> RepBlocks => _repBlocks ??= FindRepBlocks();

    List<RepBlock> FindRepBlocks()
    {
        var blocks = new List<RepBlock>();
        foreach (var n in Nodes)
        {
            if (n.Op != OpKind.Add) continue;
            // Only roots: an Add feeding a single Add is part of a larger tree.
            if (SingleConsumer(n.Id) && Nodes[_consumers[n.Id][0]].Op == OpKind.Add) continue;
            var summands = new List<int>();
            var members = new HashSet<int>();
            Collect(n.Id, summands, members, root: true);
            int fork = -1, convs = 0;
            bool ok = summands.Count >= 2;
            foreach (int s in summands)
            {
                int t = s;
                if (Nodes[t].Op == OpKind.BatchNorm && SingleConsumer(t)) { members.Add(t); t = Nodes[t].Inputs[0]; }
                if (Nodes[t].Op == OpKind.Conv2d && SingleConsumer(t)) { members.Add(t); convs++; t = Nodes[t].Inputs[0]; }
                if (fork < 0) fork = t;
                else if (fork != t) { ok = false; break; }
            }
            if (ok && convs >= 1) blocks.Add(new RepBlock(n.Id, fork, summands.Count, convs, members));
        }
        return blocks;
    }

    void Collect(int id, List<int> summands, HashSet<int> members, bool root)
    {
        var n = Nodes[id];
        if (n.Op == OpKind.Add && (root || SingleConsumer(id)))
        {
            members.Add(id);
            foreach (int i in n.Inputs) Collect(i, summands, members, root: false);
        }
        else summands.Add(id);
    }
}
