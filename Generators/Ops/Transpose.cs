// Transpose(x, a, b): PyTorch's x.transpose(a, b) of two per-sample axes (negative axes count from the end),
// materialised contiguous by a copy kernel; a swap that leaves the elements in order (at most one of the swapped
// axes and the axes between them longer than 1) is a view. The backward pass is the same swap of dy. Kernels:
// Runtime TransposeKernel and GpuKernels.Transpose.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Transpose = "Transpose";
}

/// <summary>Transpose attributes: Ints [a, b], normalised, a &lt; b.</summary>
internal sealed class TransposeOp : OpDef
{
    public override string Name => OpKind.Transpose;

    public override IEnumerable<string> OpsMethods => new[] { "Transpose" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        var s = p.ShapeOf(x);
        int? a = Axes.Read(p, call, 1, s), b = Axes.Read(p, call, 2, s);
        if (a is null || b is null) return -1;
        // transpose(a, a) is x itself, as in PyTorch.
        if (a == b) return x;
        int lo = System.Math.Min(a.Value, b.Value), hi = System.Math.Max(a.Value, b.Value);
        var y = (int[])s.Clone();
        (y[lo], y[hi]) = (y[hi], y[lo]);
        return p.AddNode(Name, new[] { x }, y, new[] { lo, hi }, 0, 0, "", call.Location);
    }

    /// <summary>The input seen as [outer, A, mid, B, inner] around the swapped axes A and B (from the output's shape,
    /// where they are swapped back).</summary>
    static (int Outer, int A, int Mid, int B, int Inner) Dims(Node n)
    {
        int lo = n.Ints[0], hi = n.Ints[1];
        var s = n.Shape;
        return (Axes.Product(s, 0, lo), s[hi], Axes.Product(s, lo + 1, hi), s[lo], Axes.Product(s, hi + 1, s.Count));
    }

    /// <summary>Elements keep their order when at most one of A, mid and B is longer than 1.</summary>
    public override bool IsView(Node n, bool train)
    {
        var (_, a, mid, b, _) = Dims(n);
        return (a > 1 ? 1 : 0) + (mid > 1 ? 1 : 0) + (b > 1 ? 1 : 0) <= 1;
    }

    /// <summary>Transpose swapping the two per-sample axes (each + 1: the batch is axis 0).</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        var perm = Enumerable.Range(0, n.Shape.Count + 1).ToArray();
        (perm[n.Ints[0] + 1], perm[n.Ints[1] + 1]) = (perm[n.Ints[1] + 1], perm[n.Ints[0] + 1]);
        return $"b.Transpose({o.In(n, 0)}, {OnnxContext.Ints(perm)})";
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), cx.Grad(x)), 1);
    }

    static string Args(Node n, bool back)
    {
        var (o, a, m, b, i) = Dims(n);
        // dy has the output's layout [outer, B, mid, A, inner]: swapping back exchanges the roles of A and B.
        return back ? $"{o}, {b}, {m}, {a}, {i}" : $"{o}, {a}, {m}, {b}, {i}";
    }

    static Kernel Make(string name, bool back) => new(name,
        (c, s) => c.Line($"{EmitCommon.CpuNs}.TransposeKernel.Swap({c.N}, {Args(s.Node!, back)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.Transpose({g.N}, {Args(s.Node!, back)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = Make("Transpose", back: false);

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = Make("TransposeBack", back: true);
}
