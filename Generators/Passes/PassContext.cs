// What op definitions see while they lower a node (Lowering) or differentiate a step (Autodiff): the graph,
// the fusion decisions, value storage, the state array and the program being built.
using Authoring.Generators.Ir;

namespace Authoring.Generators.Passes;

/// <summary>Offsets in the model's state array (folded BatchNorm scale/shift, saved statistics), shared by
/// the inference and training programs so each region is distinct.</summary>
internal sealed class StateAllocator
{
    public int Size { get; private set; }

    public int Take(int size)
    {
        int off = Size;
        Size = checked(Size + size);
        return off;
    }
}

internal abstract class PassContext
{
    readonly StateAllocator _state;

    protected PassContext(Graph graph, Fusion fusion, Storage storage, bool train, StateAllocator state)
    {
        Graph = graph;
        Fusion = fusion;
        Storage = storage;
        Train = train;
        _state = state;
    }

    public Graph Graph { get; }
    public Fusion Fusion { get; }
    public Storage Storage { get; }
    /// <summary>True while building the training step, false for inference.</summary>
    public bool Train { get; }
    public ModelIr Model => Graph.Model;
    public Program Program => Storage.Program;

    public Node Node(int id) => Graph.Nodes[id];

    /// <summary>Where a value lives in this program.</summary>
    public Ref Value(int v) => Storage.Value(v);

    /// <summary>The value a kernel anchor's kernel writes (its own, or the last op fused into it).</summary>
    public int KernelOut(Node n) => Fusion.KernelOut[n.Id];

    /// <summary>The activation fused into <paramref name="n"/>'s kernel.</summary>
    public ActKind Act(Node n) => Fusion.Act[n.Id];

    /// <summary>The BatchNorm folded into an epilogue host's kernel (evaluation), if any.</summary>
    public Node? FoldedBn(Node n) => Fusion.FoldedBn[n.Id];

    /// <summary>The training BatchNorm whose batch statistics <paramref name="n"/>'s kernel takes, if any.</summary>
    public Node? Statistics(Node n) => Fusion.StatisticsOf[n.Id];

    /// <summary>The training BatchNorm that <paramref name="n"/>'s kernel applies to its input as it reads it, if any.</summary>
    public Node? Prologue(Node n) => Fusion.Prologue[n.Id];

    /// <summary>A region of <paramref name="size"/> floats in the model's state array.</summary>
    public int State(int size) => _state.Take(size);

    /// <summary>A fresh arena buffer of <paramref name="perSample"/> floats per sample (masks, saved statistics);
    /// pinned buffers live until the end of the step (the backward reads them).</summary>
    public Ref NewBuffer(int perSample, string label, bool pinned = false)
    {
        int id = Storage.NewBuffer(perSample, label);
        if (pinned) Program.Buffers[id].Pinned = true;
        return new Ref(id, 0);
    }

    /// <summary>True when <paramref name="r"/> holds value <paramref name="v"/> contiguously, sample after sample
    /// (no shift, nothing else in its buffer): a kernel may then fold leading axes into the batch.</summary>
    public bool IsDense(Ref r, int v) => r.Shift == 0 && Program.Buffers[r.Buffer].PerSample == Node(v).Size;

    public Step Add(Step s)
    {
        s.Index = Program.Steps.Count;
        Program.Steps.Add(s);
        return s;
    }
}
