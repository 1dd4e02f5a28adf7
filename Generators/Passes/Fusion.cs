// Fusion: which nodes one kernel computes together. In evaluation a conv/linear absorbs a following
// BatchNorm (running statistics) and activation into its epilogue; a BatchNorm kernel absorbs a following
// activation (in training too, its backward recomputes the pre-activation); element-wise ops grow into
// trees evaluated in one pass, grown from each root towards its producers. In training (where the backend's kernels
// allow it, see Planner) a host whose definition takes batch statistics (EpilogueHostOp.TakesBatchStatistics) computes
// the following BatchNorm's per-channel sums while writing its output, and a host that takes an input prologue
// (OpDef.TakesInputPrologue: a conv, max pooling) applies such a BatchNorm's affine and activation to its input as it reads it, so
// act(BatchNorm(x)) is never stored. Decided from op traits and those per-op hooks only.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal sealed class Fusion
{
    readonly Graph _g;
    readonly bool _train;
    readonly bool _trainEpilogues;

    Fusion(Graph g, bool train, bool trainEpilogues, List<EltGroup> groups)
    {
        _g = g;
        _train = train;
        _trainEpilogues = train && trainEpilogues;
        Groups = groups;
        int n = g.Nodes.Length;
        KernelOut = Enumerable.Repeat(-1, n).ToArray();
        Absorbed = new bool[n];
        FoldedBn = new Node?[n];
        Act = new ActKind[n];
        GroupOf = new EltGroup?[n];
        StatisticsOf = new Node?[n];
        StatisticsHost = new Node?[n];
        Prologue = new Node?[n];
        AppliedByConsumer = new bool[n];
    }

    /// <summary>For a kernel anchor: the node whose value its kernel writes (itself, or the last op it absorbed); -1 otherwise.</summary>
    public int[] KernelOut { get; }
    /// <summary>Computed inside another node's kernel, never stored on its own.</summary>
    public bool[] Absorbed { get; }
    /// <summary>Epilogue host -> the BatchNorm folded into it (evaluation).</summary>
    public Node?[] FoldedBn { get; }
    /// <summary>Kernel anchor -> the activation fused into its kernel.</summary>
    public ActKind[] Act { get; }
    public EltGroup?[] GroupOf { get; }
    /// <summary>Training epilogue host -> the BatchNorm whose batch statistics its kernel takes.</summary>
    public Node?[] StatisticsOf { get; }
    /// <summary>Training BatchNorm -> the epilogue host that takes its batch statistics.</summary>
    public Node?[] StatisticsHost { get; }
    /// <summary>Training consumer (conv, max pool) -> the BatchNorm (statistics taken by its producer) applied in its input prologue.</summary>
    public Node?[] Prologue { get; }
    /// <summary>Training BatchNorm whose affine and activation its consumer applies (<see cref="Prologue"/>): its
    /// output (<see cref="KernelOut"/>) is never stored.</summary>
    public bool[] AppliedByConsumer { get; }
    /// <summary>Element-wise trees of both phases (ids are shared by the two programs).</summary>
    public List<EltGroup> Groups { get; }

    /// <param name="trainEpilogues">The backend's training kernels take BatchNorm statistics in a conv epilogue and
    /// a BatchNorm's affine in a conv's input prologue (the CPU's do; the ILGPU kernels do not).</param>
    public static Fusion Run(Graph g, bool train, bool trainEpilogues, List<EltGroup> groups)
    {
        var f = new Fusion(g, train, trainEpilogues, groups);
        f.FuseKernels();
        f.FuseElementwise();
        return f;
    }

    void FuseKernels()
    {
        foreach (var node in _g.Nodes)
        {
            if (!_g.Reachable[node.Id] || Absorbed[node.Id]) continue;
            var def = node.Def;
            if (def.Has(OpTraits.Elementwise) || def.WrittenByParts(node) || def.IsView(node, _train)) continue;
            if (def.Has(OpTraits.EpilogueHost))
            {
                int outId = node.Id;
                if (!_train && _g.SingleConsumer(outId) is int c && _g.Nodes[c].Def.Has(OpTraits.Normalization))
                {
                    FoldedBn[node.Id] = _g.Nodes[c];
                    Absorbed[c] = true;
                    outId = c;
                }
                if (!_train) outId = FuseActivation(node.Id, outId);
                KernelOut[node.Id] = outId;
                if (_trainEpilogues && ((EpilogueHostOp)def).TakesBatchStatistics(node)
                    && _g.SingleConsumer(outId) is int b && _g.Nodes[b].Def is BatchNormOp)
                {
                    StatisticsOf[node.Id] = _g.Nodes[b];
                    StatisticsHost[b] = node;
                }
            }
            else if (def.Has(OpTraits.Normalization))
            {
                int outId = FuseActivation(node.Id, node.Id);
                KernelOut[node.Id] = outId;
                // The affine needs the statistics before the consumer's kernel runs: only a BatchNorm whose producer
                // took them can be applied by its consumer.
                if (StatisticsHost[node.Id] is not null && _g.SingleConsumer(outId) is int k && _g.Reachable[k]
                    && _g.Nodes[k].Def.TakesInputPrologue(_g.Nodes[k]) && _g.Nodes[k].Inputs[0] == outId)
                {
                    Prologue[k] = node;
                    AppliedByConsumer[node.Id] = true;
                }
            }
            else
            {
                KernelOut[node.Id] = node.Id;
            }
        }
    }

    int FuseActivation(int anchor, int outId)
    {
        if (_g.SingleConsumer(outId) is int a && _g.Nodes[a].Def.Has(OpTraits.Activation))
        {
            Act[anchor] = (ActKind)_g.Nodes[a].Ints[0];
            Absorbed[a] = true;
            return a;
        }
        return outId;
    }

    static bool IsElementwise(Node n) => n.Def.Has(OpTraits.Elementwise);

    void FuseElementwise()
    {
        var nodes = _g.Nodes;
        for (int i = nodes.Length - 1; i >= 0; i--)
        {
            var node = nodes[i];
            if (!_g.Reachable[i] || Absorbed[i] || !IsElementwise(node)) continue;
            EltGroup? group = null;
            int[]? axes = null;
            if (_g.SingleConsumer(i) is int u && GroupOf[u] is { } g && IsElementwise(nodes[u]))
            {
                // Where this node's axes lie in the consumer, then in the root: fusion reproduces each op's broadcast.
                int k = 0;
                while (nodes[u].Inputs[k] != i) k++;
                axes = Broadcast.Compose(Broadcast.OperandAxes(nodes[u], k, nodes), g.MemberAxes[u]);
                group = g;
            }
            if (group is null)
            {
                group = new EltGroup(Groups.Count, node);
                Groups.Add(group);
                KernelOut[i] = i;
            }
            else
            {
                Absorbed[i] = true;
                group.MemberAxes[i] = axes!;
            }
            GroupOf[i] = group;
            group.Members.Add(node);
        }
        foreach (var g in Groups)
        {
            if (g.Members.Count == 0 || !ReferenceEquals(GroupOf[g.Root.Id], g)) continue;
            g.Members.Sort((a, b) => a.Id.CompareTo(b.Id));
            foreach (var member in g.Members)
            {
                var slots = new int[member.Inputs.Count];
                for (int k = 0; k < slots.Length; k++)
                {
                    int inp = member.Inputs[k];
                    slots[k] = ReferenceEquals(GroupOf[inp], g) ? -1
                        : g.LeafIndex(inp, Broadcast.Compose(Broadcast.OperandAxes(member, k, nodes), g.MemberAxes[member.Id]));
                }
                g.OperandLeaves[member.Id] = slots;
            }
        }
    }
}
