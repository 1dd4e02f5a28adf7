// The lowered program one backend emits: fused kernel steps over arena buffers, for inference
// (evaluation mode) and for a training step (forward, loss, backward). Built by Planner from a ModelIr.
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

/// <summary>Where a value lives: a root buffer plus a per-sample element shift (channel slices, concat parts).</summary>
internal readonly record struct Ref(int Buffer, int Shift);

/// <summary>An arena region of <see cref="PerSample"/> floats per sample at <see cref="Offset"/> per-sample units (or,
/// for <see cref="Bits"/>, 64-bit words in the program's bit arena).</summary>
internal sealed class Buffer
{
    public Buffer(int id, int perSample, string label, bool bits = false)
    {
        Id = id;
        PerSample = perSample;
        Label = label;
        Bits = bits;
    }

    public int Id { get; }
    public int PerSample { get; }
    /// <summary>Packed ±1 values (BitPack's layout) in the bit arena, not floats.</summary>
    public bool Bits { get; }
    public string Label { get; }
    public int Offset { get; set; } = -1;
    public int FirstUse { get; set; } = int.MaxValue;
    public int LastUse { get; set; } = -1;
    /// <summary>Kept from its first use to the end of the program (activations saved for backward).</summary>
    public bool Pinned { get; set; }

    public void Touch(int step)
    {
        if (step < FirstUse) FirstUse = step;
        if (step > LastUse) LastUse = step;
    }
}

/// <summary>One kernel launch. <see cref="Kernel"/> emits it for each backend; <see cref="Owner"/> is the definition
/// that lowered it and derives its backward; <see cref="Node"/> is the IR node it implements (conv, bn, pool...);
/// <see cref="Io"/> lists its tensor operands in the order its kernel documents.</summary>
internal sealed class Step
{
    public Step(Kernel kernel, Node? node, params Ref[] io)
    {
        Kernel = kernel;
        Node = node;
        Io = io;
    }

    public Kernel Kernel { get; }
    public Node? Node { get; }
    public Ref[] Io { get; }
    /// <summary>The definition whose Backward differentiates this forward step (null: nothing to differentiate).</summary>
    public IDifferentiable? Owner { get; set; }
    public bool Accumulate { get; set; }
    public ActKind Act { get; set; }
    /// <summary>State-array offset of per-channel scale/shift (folded BN) or BN saved statistics; -1 if none.</summary>
    public int State { get; set; } = -1;
    /// <summary>For conv/linear with a folded BN: the BN node; BnFold: the producer conv/linear (bias), if any.</summary>
    public Node? Bn { get; set; }
    /// <summary>A training conv: the BatchNorm whose batch statistics its epilogue takes; <see cref="State"/> is then that
    /// BatchNorm's region (<see cref="Lowering.StatisticsState"/>).</summary>
    public Node? Statistics { get; set; }
    /// <summary>A training conv reading act(BatchNorm(x)) without it being stored: that BatchNorm, whose affine (at
    /// <see cref="PrologueState"/>) and activation (<see cref="PrologueAct"/>) the kernel applies to x as it reads it.
    /// Io[0] is then x, the BatchNorm's input.</summary>
    public Node? Prologue { get; set; }
    public int PrologueState { get; set; } = -1;
    public ActKind PrologueAct { get; set; }
    /// <summary>Element-wise group (Eltwise / EltwiseBack).</summary>
    public EltGroup? Group { get; set; }
    /// <summary>EltwiseBack: per leaf, the gradient target (null when the leaf needs none) and whether it accumulates.</summary>
    public Ref?[]? LeafGrads { get; set; }
    public bool[]? LeafAccumulate { get; set; }
    /// <summary>Leading axes the kernel folds into the batch (T of (T, C, H, W)): it runs on n * Fold samples of
    /// 1/Fold of each operand's per-sample size. Every operand of such a step is dense in its buffer.</summary>
    public int Fold { get; set; } = 1;
    /// <summary>The node whose value the step's first operand is (a concat part a Copy moves), or -1.</summary>
    public int Operand { get; set; } = -1;
    /// <summary>Copy / Clear: floats per sample.</summary>
    public int Size { get; set; }
    /// <summary>An integer the owning definition's kernels read, with the meaning that definition gives it (e.g. which
    /// input of a concat along an inner axis the step copies).</summary>
    public int Arg { get; set; }
    public int Index { get; set; }

    /// <summary>Every operand the step reads or writes (its Io and its leaf gradients).</summary>
    public IEnumerable<Ref> Operands()
    {
        foreach (var r in Io) yield return r;
        if (LeafGrads is not null)
            foreach (var r in LeafGrads)
                if (r is { } rr) yield return rr;
    }
}

/// <summary>A fused tree of element-wise ops evaluated in one pass over the root's elements. Leaves are stored
/// values; internal nodes are recomputed per element, never stored.</summary>
internal sealed class EltGroup
{
    public EltGroup(int id, Node root)
    {
        Id = id;
        Root = root;
        MemberAxes[root.Id] = Broadcast.Identity(root.Shape.Count);
    }

    public int Id { get; }
    public Node Root { get; }
    /// <summary>Group members in topological order (root last).</summary>
    public List<Node> Members { get; } = new();
    /// <summary>Per member, the root axis each of its axes lies on (members may be broadcast, e.g. a (C) gate).</summary>
    public Dictionary<int, int[]> MemberAxes { get; } = new();
    /// <summary>External inputs, each read once per element through its placement on the root's axes. A value
    /// feeding the tree through two different placements is two leaves.</summary>
    public List<EltLeaf> Leaves { get; } = new();
    /// <summary>Per member, per operand: the leaf it reads, or -1 when the operand is another member.</summary>
    public Dictionary<int, int[]> OperandLeaves { get; } = new();

    /// <summary>The leaf reading <paramref name="node"/> on <paramref name="axes"/>, added if new.</summary>
    public int LeafIndex(int node, int[] axes)
    {
        for (int i = 0; i < Leaves.Count; i++)
            if (Leaves[i].Node == node && System.Linq.Enumerable.SequenceEqual(Leaves[i].Axes, axes)) return i;
        Leaves.Add(new EltLeaf(node, axes));
        return Leaves.Count - 1;
    }
}

/// <summary>A leaf of an element-wise tree: a stored value and the root axis each of its axes lies on.</summary>
internal sealed class EltLeaf
{
    public EltLeaf(int node, int[] axes)
    {
        Node = node;
        Axes = axes;
    }

    public int Node { get; }
    public int[] Axes { get; }
}

/// <summary>A phase of the program (inference or a training step).</summary>
internal sealed class Program
{
    public List<Step> Steps { get; } = new();
    public List<Buffer> Buffers { get; } = new();
    public Dictionary<int, Ref> Values { get; } = new();
    public Dictionary<int, Ref> Grads { get; } = new();
    public int ArenaPerSample { get; set; }
    /// <summary>Words per sample of the bit arena (packed activations between binary layers); 0 when none.</summary>
    public int BitArenaPerSample { get; set; }
    public Ref Input { get; set; }
    public Ref Output { get; set; }
    public Ref OutputGrad { get; set; }
    public int LossStep { get; set; } = -1;
}

internal sealed class Plan
{
    public Plan(ModelIr model, Program infer, Program train, int stateSize, List<EltGroup> groups)
    {
        Model = model;
        Infer = infer;
        Train = train;
        StateSize = stateSize;
        Groups = groups;
    }

    public ModelIr Model { get; }
    public Program Infer { get; }
    public Program Train { get; }
    public int StateSize { get; }
    public List<EltGroup> Groups { get; }

    public int ParamOffset(string name)
    {
        int off = 0;
        foreach (var p in Model.Params)
        {
            if (p.Name == name) return off;
            off += p.Length;
        }
        return -1;
    }
}
