// The one place each op is defined. A definition binds the op's DSL surface (an Ops method or a layer type) to
// IR nodes with its shape rule, lowers a node to kernel steps, derives the backward steps of the steps it lowered,
// and owns the kernels that emit those steps for each backend. The passes and emitters only iterate definitions
// and steps (OpRegistry); none of them switches over op kinds. See docs/adding-an-op.md.
using System;
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

/// <summary>Names of ops (<see cref="Node.Op"/>). Each op's file adds its own constant to this partial class next
/// to its definition, so adding an op never edits a shared list.</summary>
internal static partial class OpKind
{
}

/// <summary>What the passes need to know about an op without knowing the op.</summary>
[Flags]
internal enum OpTraits
{
    None = 0,
    /// <summary>Owns trainable parameters: differentiated even when no input needs a gradient.</summary>
    Parameters = 1,
    /// <summary>A member of fused element-wise trees (the definition implements <see cref="IElementwise"/>).</summary>
    Elementwise = 2,
    /// <summary>A conv or linear whose kernel applies act(scale * acc + shift) in its epilogue: in evaluation a
    /// following BatchNorm and activation fold into it.</summary>
    EpilogueHost = 4,
    /// <summary>A BatchNorm: folds into a preceding epilogue host in evaluation, absorbs a following activation.</summary>
    Normalization = 8,
    /// <summary>A unary activation with a Runtime functor (<see cref="ActKind"/> in Ints[0]): can be fused into an
    /// epilogue host's or a normalization's kernel.</summary>
    Activation = 16,
}

/// <summary>Derives the backward steps of a forward step this definition lowered.</summary>
internal interface IDifferentiable
{
    /// <summary>Adds the steps that write the gradients of <paramref name="forward"/>'s inputs and parameters,
    /// reading the gradient of its output.</summary>
    void Backward(Autodiff cx, Step forward);
}

/// <summary>An op: its DSL binding, shape rule, lowering and kernels. One sealed subclass per op, one file each.</summary>
internal abstract class OpDef : IDifferentiable
{
    /// <summary>The name nodes carry in <see cref="Node.Op"/>; unique across the registry.</summary>
    public abstract string Name { get; }

    public virtual OpTraits Traits => OpTraits.None;

    public bool Has(OpTraits t) => (Traits & t) == t;

    // ---- front end ----

    /// <summary>Methods of <c>Authoring.Ops</c> this definition binds (e.g. "Relu").</summary>
    public virtual IEnumerable<string> OpsMethods => Array.Empty<string>();

    /// <summary>Layer classes of the DSL this definition binds (e.g. "Conv2d", "DepthwiseConv2d").</summary>
    public virtual IEnumerable<string> LayerTypes => Array.Empty<string>();

    /// <summary>Layers without parameters or statistics (pools, dropout) may be applied more than once.</summary>
    public virtual bool LayerIsStateless => false;

    /// <summary>Builds the node(s) of a call to one of <see cref="OpsMethods"/>; -1 after reporting a diagnostic.</summary>
    public virtual int BindCall(ModelParser p, OpCall call) => throw new NotSupportedException(Name + " has no Ops method");

    /// <summary>Builds the node(s) of <c>layer.Forward(x)</c> for one of <see cref="LayerTypes"/>; -1 after reporting.</summary>
    public virtual int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc) => throw new NotSupportedException(Name + " is not a layer");

    // ---- lowering ----

    /// <summary>Words per sample when the node's value is stored as packed bits (BitPack's layout, in the program's bit
    /// arena) rather than floats; 0 for a float value. Only ops whose consumers read bits return more than 0.</summary>
    public virtual int PackedWords(Node n) => 0;

    /// <summary>True when the node's value is its first input's storage (a view): no step computes it.</summary>
    public virtual bool IsView(Node n, bool train) => false;

    /// <summary>True for a value its inputs are written into in place (a concat along its first axis): it has a buffer
    /// of its own but no kernel of its own, and its parts are placed in slices of that buffer where they can be.</summary>
    public virtual bool WrittenByParts(Node n) => false;

    /// <summary>Element shift of a view inside its input (a channel slice).</summary>
    public virtual int ViewShift(Node n) => 0;

    /// <summary>Adds the forward steps computing <paramref name="n"/> (called for nodes that are not views, not
    /// absorbed into another kernel and not members of an element-wise tree).</summary>
    public virtual void Lower(Lowering cx, Node n) => throw new NotSupportedException($"{Name} cannot be lowered on its own");

    public virtual void Backward(Autodiff cx, Step forward) => throw new NotSupportedException($"{Name} has no backward");

    // ---- interchange ----

    /// <summary>ONNX export: the C# expression (calls on the generated code's <c>OnnxGraphBuilder b</c> and
    /// <c>ParameterStore p</c>) whose value is the ONNX name of <paramref name="n"/>'s output in evaluation mode, the
    /// inputs' names read through <see cref="OnnxContext.In"/>. Null: the op has no mapping, and the generated
    /// ExportOnnx throws OnnxExportException naming it and its layer (never a file computing something else).</summary>
    public virtual string? Onnx(OnnxContext o, Node n) => null;

    /// <summary>In training, the op's kernel can apply a BatchNorm's affine and activation (statistics taken by the
    /// BatchNorm's producer) to its first input as it reads it (<see cref="Step.Prologue"/>), so act(BatchNorm(x)) is
    /// never stored; its backward then reads x through the same prologue.</summary>
    public virtual bool TakesInputPrologue(Node n) => false;

    /// <summary>Deployment: how this op runs inside the popcount epilogue of the packed binary layer whose value (after its
    /// BatchNorm and shortcut) it alone reads (Passes/Deploy.Binary.cs); null: it stays an op of its own.</summary>
    public virtual PackedEpilogueAct? PackedEpilogue(Node n) => null;

    public override string ToString() => Name;

    /// <summary>The input's leading axes (all but its last <paramref name="keep"/>) followed by <paramref name="tail"/>;
    /// an error when the result has more elements per sample than the generated code's int arithmetic allows.</summary>
    public static (int[]? Shape, string? Error) WithLeading(int[] x, int keep, long[] tail)
    {
        var shape = new int[x.Length - keep + tail.Length];
        long size = 1;
        for (int i = 0; i < x.Length - keep; i++) size *= shape[i] = x[i];
        for (int i = 0; i < tail.Length; i++)
        {
            size *= tail[i];
            if (tail[i] > int.MaxValue || size > int.MaxValue)
                return (null, $"the result has more than {int.MaxValue} elements per sample");
            shape[x.Length - keep + i] = (int)tail[i];
        }
        return (shape, null);
    }
}

/// <summary>How one step becomes code on each backend. Op definitions create these once (static fields) and
/// attach them to the steps they lower.</summary>
internal sealed class Kernel
{
    readonly Action<CpuContext, Step> _cpu;
    readonly Action<GpuContext, Step> _gpu;

    public Kernel(string name, Action<CpuContext, Step> cpu, Action<GpuContext, Step> gpu)
    {
        Name = name;
        _cpu = cpu;
        _gpu = gpu;
    }

    /// <summary>Names the step in generated comments and plan dumps.</summary>
    public string Name { get; }

    public void EmitCpu(CpuContext c, Step s) => _cpu(c, s);

    public void EmitGpu(GpuContext c, Step s) => _gpu(c, s);

    public override string ToString() => Name;
}

/// <summary>An element-wise op as code inside a fused tree: its value and the contribution of the output's
/// adjoint to each operand's adjoint, as expressions over the lanes the tree is emitted for.</summary>
internal interface IElementwise
{
    /// <summary>The value of <paramref name="n"/> from its operands' expressions.</summary>
    string Value(Node n, Lanes l, IReadOnlyList<string> x);

    /// <summary>What output adjoint <paramref name="a"/> (an identifier) contributes to operand
    /// <paramref name="i"/>'s adjoint.</summary>
    string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i);

    /// <summary>Formula text for the generated code's comments.</summary>
    string Describe(Node n, IReadOnlyList<string> x);
}
