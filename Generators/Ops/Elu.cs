// ELU(x, alpha): x for x > 0, else alpha * (exp(x) - 1), as PyTorch's F.elu; the gradient is 1, or alpha * exp(x).
// Its alpha is a per-node constant, so it is written inline in element-wise trees rather than as a functor.
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Elu = "Elu";
}

/// <summary>ELU attributes: F0 = alpha.</summary>
internal sealed class EluOp : OpDef, IElementwise
{
    public override string Name => OpKind.Elu;

    public override OpTraits Traits => OpTraits.Elementwise;

    public override IEnumerable<string> OpsMethods => new[] { "Elu" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        float? alpha = call.Float(1);
        if (x < 0 || alpha is null) return -1;
        if (float.IsNaN(alpha.Value) || float.IsInfinity(alpha.Value))
        {
            p.Report(Diagnostics.DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(1), "Elu", $"alpha must be finite, got {alpha.Value}");
            return -1;
        }
        return p.AddNode(Name, new[] { x }, p.ShapeOf(x), System.Array.Empty<int>(), alpha.Value, 0, "", call.Location);
    }

    public override string? Onnx(OnnxContext o, Node n) => $"b.Elu({o.In(n, 0)}, {OnnxContext.F(n.F0)})";

    public string Value(Node n, Lanes l, IReadOnlyList<string> x) =>
        l.IfPositive(x[0], x[0], $"{l.Const(n.F0)} * ({l.Exp(x[0])} - {l.Const(1f)})");

    public string Adjoint(Node n, Lanes l, IReadOnlyList<string> x, string a, int i) =>
        $"{a} * {l.IfPositive(x[0], l.Const(1f), $"{l.Const(n.F0)} * {l.Exp(x[0])}")}";

    public string Describe(Node n, IReadOnlyList<string> x) => $"Elu({x[0]}, {n.F0.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})";
}
