// The value-equatable graph a model's Forward method lowers to: nodes with static per-sample shapes
// (batch stays a run-time dimension), op attributes and source locations for diagnostics.
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;

namespace Authoring.Generators.Ir;

internal enum ActKind
{
    Identity,
    Relu,
    Relu6,
    HardSwish,
    HardSigmoid,
    Sigmoid,
    Tanh,
    Gelu,
    GeluTanh,
    Silu,
    Exp,
}

/// <summary>One op. <see cref="Op"/> names its definition (Ops/, looked up in <see cref="Authoring.Generators.Ops.OpRegistry"/>);
/// <see cref="Ints"/> and <see cref="F0"/>/<see cref="F1"/> carry attributes whose meaning that definition names;
/// <see cref="Layer"/> is the field that owns its parameters.</summary>
internal sealed record Node(int Id, string Op, EquatableArray<int> Inputs, EquatableArray<int> Shape,
    EquatableArray<int> Ints, float F0, float F1, string Layer, LocationInfo? Location)
{
    public int Size
    {
        get
        {
            int s = 1;
            foreach (int d in Shape) s *= d;
            return s;
        }
    }

    /// <summary>Channels: axis -3 of a (..., C, H, W) value, the last axis of (F) or (N, F).</summary>
    public int Channels => Shape.Count >= 3 ? Shape[Shape.Count - 3] : Shape[Shape.Count - 1];

    /// <summary>Elements per channel: H*W of a (..., C, H, W) value, 1 for (F) or (N, F).</summary>
    public int Spatial => Shape.Count >= 3 ? Shape[Shape.Count - 2] * Shape[Shape.Count - 1] : 1;

    /// <summary>The leading axes a layer folds into the batch: T of (T, C, H, W), N of (N, F); 1 for (C, H, W) or (F).</summary>
    public int Leading
    {
        get
        {
            int keep = Shape.Count >= 3 ? 3 : 1, l = 1;
            for (int i = 0; i < Shape.Count - keep; i++) l *= Shape[i];
            return l;
        }
    }

    /// <summary>The definition of this node's op.</summary>
    public Authoring.Generators.Ops.OpDef Def => Authoring.Generators.Ops.OpRegistry.Get(Op);
}

/// <summary>Roles match Authoring.Runtime.ParameterRole; inits match Authoring.Runtime.InitKind.</summary>
internal sealed record ParamSpec(string Name, EquatableArray<int> Shape, string Role, string Init, int FanIn, int FanOut)
{
    public int Length
    {
        get
        {
            int s = 1;
            foreach (int d in Shape) s *= d;
            return s;
        }
    }
}

/// <summary>A tensor of 64-bit words (packed binary weights of a deploy model; Authoring.Runtime.BitStore).</summary>
internal sealed record BitParamSpec(string Name, EquatableArray<int> Shape)
{
    public int Length
    {
        get
        {
            int s = 1;
            foreach (int d in Shape) s *= d;
            return s;
        }
    }
}

/// <summary>A parsed model: its class, graph and parameters, or the diagnostics that stop it.</summary>
internal sealed record ModelIr(string Namespace, string ClassName, string Modifiers, string InputName,
    EquatableArray<Node> Nodes, int Output, EquatableArray<ParamSpec> Params, EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>False also when the parser stopped quietly (the source has C# errors): then there is no output node.</summary>
    public bool IsValid => Diagnostics.Count == 0 && Output >= 0 && Output < Nodes.Count;

    /// <summary>Packed bit tensors (a deploy model's binary weights), stored apart from the float <see cref="Params"/>.</summary>
    public EquatableArray<BitParamSpec> BitParams { get; init; } = EquatableArray<BitParamSpec>.Empty;

    /// <summary>True for a class only generated code declares (a deploy model): the emitters write its accessibility.</summary>
    public bool DeclaresClass { get; init; }

    /// <summary>The training loss ([Model(Loss = ...)]), by the name of its Authoring.Loss member.</summary>
    public string Loss { get; init; } = "CrossEntropy";

    /// <summary>Label smoothing of the cross-entropy.</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>For a model that cannot be compiled: whether its class can take generated members (it is partial,
    /// top-level, non-generic, non-static and non-abstract). Then it gets stub members that throw, so code using the
    /// model still compiles and the model's own diagnostics are the only errors (Emit/StubEmitter.cs).</summary>
    public bool Stubbable { get; init; }

    /// <summary>Whether the name of the deploy twin (<c>{ClassName}Deploy</c>) is free for a stub of it.</summary>
    public bool DeployNameFree { get; init; }

    /// <summary>True when the input is token ids (a Tokens parameter) rather than floats.</summary>
    public bool TakesTokens => Nodes.Count > 0 && Nodes[0].Op == Authoring.Generators.Ops.OpKind.Tokens;

    /// <summary>What the generator caches: a valid model without node positions. They only serve
    /// diagnostics, which a valid model has none of, and keeping them made any edit that moves the model
    /// (a comment above it) re-run planning and emission. Invalid models keep them for their diagnostics.</summary>
    public ModelIr ForCache()
    {
        if (!IsValid) return this;
        var nodes = new Node[Nodes.Count];
        for (int i = 0; i < nodes.Length; i++) nodes[i] = Nodes[i] with { Location = null };
        return this with { Nodes = new EquatableArray<Node>(nodes) };
    }
}
