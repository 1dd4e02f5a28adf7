// Element-wise Add, Sub, Mul and Div (also the +, -, * and / operators) with PyTorch broadcasting (Broadcast).
// Always fused into element-wise trees.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Add = "Add";
    public const string Mul = "Mul";
    public const string Sub = "Sub";
    public const string Div = "Div";
}

internal abstract class BinaryOp : OpDef, IElementwise
{
    public override OpTraits Traits => OpTraits.Elementwise;

    public override IEnumerable<string> OpsMethods => new[] { Name };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0), y = call.Tensor(1);
        if (x < 0 || y < 0) return -1;
        return Apply(p, Name, call.Name, x, y, call.Location);
    }

    /// <summary>The node for <paramref name="x"/> op <paramref name="y"/>, or -1 after reporting a shape mismatch.</summary>
    public static int Apply(ModelParser p, string op, string what, int x, int y, LocationInfo? loc)
    {
        var (shape, error) = OpRules.Elementwise(p.ShapeOf(x), p.ShapeOf(y));
        if (shape is null)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, error!);
            return -1;
        }
        return p.AddNode(op, new[] { x, y }, shape, System.Array.Empty<int>(), 0, 0, "", loc);
    }

    /// <summary>The ONNX op (Add, Sub, Mul, Div: the names are the same). Our broadcasting aligns operands by the per-sample
    /// axes it chose (a (C) vector follows the channels), ONNX's from the right across the batch too: each operand of
    /// lower rank is reshaped to the result's rank with 1 on the axes it does not cover, so the two agree.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        var a = o.ShapeOf(n.Inputs[0]);
        var c = o.ShapeOf(n.Inputs[1]);
        var plan = Broadcast.Plan(a, c);
        if (plan.Shape is null) return null;
        string Operand(int i, int[] s, int[] axes)
        {
            if (s.Length == plan.Shape.Length) return o.In(n, i);
            var target = new int[plan.Shape.Length];
            for (int k = 0; k < target.Length; k++) target[k] = 1;
            for (int k = 0; k < s.Length; k++) target[axes[k]] = s[k];
            return $"b.ReshapeSamples({o.In(n, i)}, {OnnxContext.Ints(target)})";
        }
        return $"b.{Name}({Operand(0, a, plan.AxesA)}, {Operand(1, c, plan.AxesB)})";
    }

    public abstract string Value(Node n, Lanes l, IReadOnlyList<string> x);

    public abstract string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i);

    public abstract string Describe(Node n, IReadOnlyList<string> x);
}

internal sealed class AddOp : BinaryOp
{
    public override string Name => OpKind.Add;

    public override string Value(Node n, Lanes l, IReadOnlyList<string> x) => $"{x[0]} + {x[1]}";

    public override string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) => a;

    public override string Describe(Node n, IReadOnlyList<string> x) => $"({x[0]} + {x[1]})";
}

internal sealed class MulOp : BinaryOp
{
    public override string Name => OpKind.Mul;

    public override string Value(Node n, Lanes l, IReadOnlyList<string> x) => $"{x[0]} * {x[1]}";

    public override string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) => $"{a} * {x[1 - i]}";

    public override string Describe(Node n, IReadOnlyList<string> x) => $"({x[0]} * {x[1]})";
}

internal sealed class SubOp : BinaryOp
{
    public override string Name => OpKind.Sub;

    public override string Value(Node n, Lanes l, IReadOnlyList<string> x) => $"{x[0]} - {x[1]}";

    public override string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) => i == 0 ? a : $"-{a}";

    public override string Describe(Node n, IReadOnlyList<string> x) => $"({x[0]} - {x[1]})";
}

internal sealed class DivOp : BinaryOp
{
    public override string Name => OpKind.Div;

    public override string Value(Node n, Lanes l, IReadOnlyList<string> x) => $"{x[0]} / {x[1]}";

    /// <summary>d(x0 / x1) = dx0 / x1 - x0 dx1 / x1^2.</summary>
    public override string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) =>
        i == 0 ? $"{a} / {x[1]}" : $"-({a} * {x[0]}) / ({x[1]} * {x[1]})";

    public override string Describe(Node n, IReadOnlyList<string> x) => $"({x[0]} / {x[1]})";
}
