// Element-wise Add and Mul (also the + and * operators): equal shapes, or a (C) / (C, 1, 1) operand broadcast
// over a (C, H, W) one. Always fused into element-wise trees.
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
