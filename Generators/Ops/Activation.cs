// Unary activations with a Runtime functor (Authoring.Runtime.Cpu.IActivation: scalar and vector forms and the
// derivative): Relu, Relu6, HardSwish, HardSigmoid, Sigmoid, Tanh, Gelu (exact or tanh), Silu, Exp. They fuse
// into conv/linear epilogues and BatchNorm kernels, and otherwise into element-wise trees.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Activation = "Activation";
}

/// <summary>Activation attributes: Ints [ActKind].</summary>
internal sealed class ActivationOp : OpDef, IElementwise
{
    public override string Name => OpKind.Activation;

    public override OpTraits Traits => OpTraits.Elementwise | OpTraits.Activation;

    static readonly Dictionary<string, ActKind> Methods = new()
    {
        ["Relu"] = ActKind.Relu,
        ["Relu6"] = ActKind.Relu6,
        ["HardSwish"] = ActKind.HardSwish,
        ["HardSigmoid"] = ActKind.HardSigmoid,
        ["Sigmoid"] = ActKind.Sigmoid,
        ["Tanh"] = ActKind.Tanh,
        ["Gelu"] = ActKind.Gelu,
        ["Silu"] = ActKind.Silu,
        ["Exp"] = ActKind.Exp,
    };

    public override IEnumerable<string> OpsMethods => Methods.Keys;

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        var act = Methods[call.Name];
        if (act == ActKind.Gelu)
        {
            // PyTorch's F.gelu(x, approximate='none' | 'tanh').
            var mode = call.String(1);
            if (mode is null) return -1;
            if (mode == "tanh") act = ActKind.GeluTanh;
            else if (mode != "none")
            {
                p.Report(Diagnostics.DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(1), "Gelu", $"approximate must be \"none\" or \"tanh\", got \"{mode}\"");
                return -1;
            }
        }
        return Apply(p, act, x, call.Location);
    }

    /// <summary>An activation node over <paramref name="x"/> (blocks build them too).</summary>
    public static int Apply(ModelParser p, ActKind act, int x, Diagnostics.LocationInfo? loc) =>
        p.AddNode(OpKind.Activation, new[] { x }, p.ShapeOf(x), new[] { (int)act }, 0, 0, "", loc);

    /// <summary>Each activation as PyTorch defines it (the builder writes ReLU6 as Clip, SiLU as x * Sigmoid(x), GELU as
    /// the Gelu op from opset 20 and from Erf or Tanh before).</summary>
    public override string? Onnx(OnnxContext o, Node n) => OnnxOf((ActKind)n.Ints[0], o.In(n, 0));

    /// <summary>The ONNX expression of <paramref name="act"/> applied to the ONNX value <paramref name="x"/> (also used by the
    /// packed binary layers that run an activation in their epilogue).</summary>
    public static string? OnnxOf(ActKind act, string x)
    {
        return act switch
        {
            ActKind.Identity => x,
            ActKind.Relu => $"b.Relu({x})",
            ActKind.Relu6 => $"b.Relu6({x})",
            ActKind.HardSwish => $"b.HardSwish({x})",
            ActKind.HardSigmoid => $"b.HardSigmoid({x})",
            ActKind.Sigmoid => $"b.Sigmoid({x})",
            ActKind.Tanh => $"b.Tanh({x})",
            ActKind.Gelu => $"b.Gelu({x}, tanhApproximation: false)",
            ActKind.GeluTanh => $"b.Gelu({x}, tanhApproximation: true)",
            ActKind.Silu => $"b.Silu({x})",
            ActKind.Exp => $"b.Exp({x})",
            _ => null,
        };
    }

    static string Functor(Node n) => EmitCommon.Act((ActKind)n.Ints[0]);

    /// <summary>Any activation runs in a packed binary layer's epilogue as its functor (element-wise, after the shortcut).</summary>
    public override PackedEpilogueAct? PackedEpilogue(Node n) => new((ActKind)n.Ints[0], null);

    public string Value(Node n, Lanes l, IReadOnlyList<string> x) => $"default({Functor(n)}).Apply({x[0]})";

    public string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) => $"{a} * default({Functor(n)}).Derivative({x[0]})";

    public string Describe(Node n, IReadOnlyList<string> x) => $"{(ActKind)n.Ints[0]}({x[0]})";
}
