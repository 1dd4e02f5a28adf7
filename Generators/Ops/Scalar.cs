// Arithmetic with a compile-time constant: x * c, x + c, c - x, x / c, c / x (and x - c = x + (-c), -x = x * -1,
// both exact in float). Written as operators on Tensor; fused into element-wise trees.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Scalar = "Scalar";
}

/// <summary>The constant's place in a scalar op (Ints[0]); the constant is F0.</summary>
internal enum ScalarKind
{
    Mul,
    Add,
    /// <summary>c - x.</summary>
    RSub,
    Div,
    /// <summary>c / x.</summary>
    RDiv,
}

internal sealed class ScalarOp : OpDef, IElementwise
{
    public override string Name => OpKind.Scalar;

    public override OpTraits Traits => OpTraits.Elementwise;

    /// <summary>The node for <paramref name="x"/> combined with constant <paramref name="c"/>.</summary>
    public static int Apply(ModelParser p, ScalarKind kind, float c, int x, LocationInfo? loc) =>
        p.AddNode(OpKind.Scalar, new[] { x }, p.ShapeOf(x), new[] { (int)kind }, c, 0, "", loc);

    static ScalarKind Kind(Node n) => (ScalarKind)n.Ints[0];

    /// <summary>The constant as a rank-0 initializer, broadcast by ONNX's element-wise op.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string x = o.In(n, 0), c = $"b.Scalar({OnnxContext.F(n.F0)})";
        return Kind(n) switch
        {
            ScalarKind.Mul => $"b.Mul({x}, {c})",
            ScalarKind.Add => $"b.Add({x}, {c})",
            ScalarKind.RSub => $"b.Sub({c}, {x})",
            ScalarKind.Div => $"b.Div({x}, {c})",
            _ => $"b.Div({c}, {x})",
        };
    }

    public string Value(Node n, Lanes l, IReadOnlyList<string> x)
    {
        string c = l.Const(n.F0);
        return Kind(n) switch
        {
            ScalarKind.Mul => $"{x[0]} * {c}",
            ScalarKind.Add => $"{x[0]} + {c}",
            ScalarKind.RSub => $"{c} - {x[0]}",
            ScalarKind.Div => $"{x[0]} / {c}",
            _ => $"{c} / {x[0]}",
        };
    }

    public string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i)
    {
        string c = l.Const(n.F0);
        return Kind(n) switch
        {
            ScalarKind.Mul => $"{a} * {c}",
            ScalarKind.Add => a,
            ScalarKind.RSub => $"-{a}",
            ScalarKind.Div => $"{a} / {c}",
            _ => $"-({a} * {c}) / ({x[0]} * {x[0]})",
        };
    }

    public string Describe(Node n, IReadOnlyList<string> x)
    {
        string c = n.F0.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return Kind(n) switch
        {
            ScalarKind.Mul => $"({x[0]} * {c})",
            ScalarKind.Add => $"({x[0]} + {c})",
            ScalarKind.RSub => $"({c} - {x[0]})",
            ScalarKind.Div => $"({x[0]} / {c})",
            _ => $"({c} / {x[0]})",
        };
    }
}
