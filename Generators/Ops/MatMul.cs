// MatMul(a, b, transposeA, transposeB): PyTorch's matmul of per-sample matrices (..., M, K) x (..., K, N) with equal
// leading axes (attention's (H, N, Dh) x (H, Dh, N)); a transposed operand is read as its last two axes swapped,
// without a copy. Both gradients are products of the same kind (dA = dC op(B)^T, dB = op(A)^T dC, read through
// the stored operands' layouts), so one kernel with transposition flags serves all three steps. Kernels: Runtime
// MatMulKernel (packed GEMM for large matrices, a direct path for small ones) and GpuKernels.MatMul.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string MatMul = "MatMul";
}

/// <summary>MatMul attributes: Ints [transposeA, transposeB, batch (matrices per sample), M, K, N].</summary>
internal sealed class MatMulOp : OpDef
{
    public override string Name => OpKind.MatMul;

    public override IEnumerable<string> OpsMethods => new[] { "MatMul" };

    /// <summary>(..., M, K) x (..., K, N) -> (..., M, N), each operand's last two axes swapped first when transposed.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] a, int[] b, bool ta, bool tb)
    {
        if (a.Length < 2 || b.Length < 2)
            return (null, $"expects matrices (..., M, K) and (..., K, N) of rank 2 or more, got {OpRules.Format(a)} and {OpRules.Format(b)}");
        if (a.Length != b.Length)
            return (null, $"operands {OpRules.Format(a)} and {OpRules.Format(b)} must have the same rank (equal leading axes)");
        for (int i = 0; i < a.Length - 2; i++)
            if (a[i] != b[i])
                return (null, $"leading axes of {OpRules.Format(a)} and {OpRules.Format(b)} differ at axis {i} ({a[i]} and {b[i]})");
        int r = a.Length;
        int m = ta ? a[r - 1] : a[r - 2], k = ta ? a[r - 2] : a[r - 1];
        int k2 = tb ? b[r - 1] : b[r - 2], cols = tb ? b[r - 2] : b[r - 1];
        if (k != k2)
            return (null, $"inner sizes differ: {OpRules.Format(a)}{(ta ? " transposed" : "")} has K = {k}, {OpRules.Format(b)}{(tb ? " transposed" : "")} has K = {k2}");
        return WithLeading(a, 2, new long[] { m, cols });
    }

    public override int BindCall(ModelParser p, OpCall call)
    {
        int a = call.Tensor(0), b = call.Tensor(1);
        bool? ta = call.Bool(2), tb = call.Bool(3);
        if (a < 0 || b < 0 || ta is null || tb is null) return -1;
        var sa = p.ShapeOf(a);
        var rule = Shape(sa, p.ShapeOf(b), ta.Value, tb.Value);
        int[] ints = System.Array.Empty<int>();
        if (rule.Shape is { } y)
        {
            int r = y.Length;
            ints = new[] { ta.Value ? 1 : 0, tb.Value ? 1 : 0, Axes.Outer(y, r - 2), y[r - 2], ta.Value ? sa[r - 2] : sa[r - 1], y[r - 1] };
        }
        return p.Shaped(Name, "MatMul", new[] { a, b }, rule, ints, 0, 0, "", call.Location);
    }

    /// <summary>MatMul; a transposed operand through a Transpose of its last two axes.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        string Operand(int i, bool transposed)
        {
            if (!transposed) return o.In(n, i);
            int r = o.ShapeOf(n.Inputs[i]).Length + 1;
            var perm = Enumerable.Range(0, r).ToArray();
            (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
            return $"b.Transpose({o.In(n, i)}, {OnnxContext.Ints(perm)})";
        }
        return $"b.MatMul({Operand(0, n.Ints[0] != 0)}, {Operand(1, n.Ints[1] != 0)})";
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Inputs[1]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        var dc = cx.Grad(n.Id);
        int a = n.Inputs[0], b = n.Inputs[1];
        if (cx.NeedsGrad(a)) cx.Contribute(a, new Step(BackA, n, f.Io[1], dc, cx.Grad(a)), 2);
        if (cx.NeedsGrad(b)) cx.Contribute(b, new Step(BackB, n, f.Io[0], dc, cx.Grad(b)), 2);
    }

    enum Product { Forward, GradA, GradB }

    /// <summary>The kernel's (m, cols, k, transX, transY, X, Y) for a step: Z = op(X) op(Y), X and Y named by their
    /// place in the step's Io (the forward: a, b; gradient steps: the other operand and dC).</summary>
    static (int M, int Cols, int K, bool TX, bool TY, int X, int Y) Args(Node n, Product which)
    {
        bool ta = n.Ints[0] != 0, tb = n.Ints[1] != 0;
        int m = n.Ints[3], k = n.Ints[4], cols = n.Ints[5];
        // Io of the gradient steps: [other operand, dC, target]. A is stored M x K (K x M when ta), B K x N (N x K when tb).
        const int Other = 0, DC = 1;
        return (which, ta, tb) switch
        {
            (Product.Forward, _, _) => (m, cols, k, ta, tb, 0, 1),
            (Product.GradA, false, false) => (m, k, cols, false, true, DC, Other),   // dA = dC B^T
            (Product.GradA, false, true) => (m, k, cols, false, false, DC, Other),   // dA = dC B
            (Product.GradA, true, false) => (k, m, cols, false, true, Other, DC),    // dA (K x M) = B dC^T
            (Product.GradA, true, true) => (k, m, cols, true, true, Other, DC),      // dA (K x M) = B^T dC^T
            (Product.GradB, false, false) => (k, cols, m, true, false, Other, DC),   // dB = A^T dC
            (Product.GradB, false, true) => (cols, k, m, true, false, DC, Other),    // dB (N x K) = dC^T A
            (Product.GradB, true, false) => (k, cols, m, false, false, Other, DC),   // dB = A dC
            _ => (cols, k, m, true, true, DC, Other),                                // dB (N x K) = dC^T A^T
        };
    }

    static Kernel Make(string name, Product which) => new(name,
        (c, s) =>
        {
            var (m, cols, k, tx, ty, x, y) = Args(s.Node!, which);
            c.Line($"{EmitCommon.CpuNs}.MatMulKernel.Multiply({c.N}, {s.Node!.Ints[2]}, {m}, {cols}, {k}, {B(tx)}, {B(ty)}, {c.V(s.Io[x])}, {c.V(s.Io[y])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)});");
        },
        (g, s) =>
        {
            var (m, cols, k, tx, ty, x, y) = Args(s.Node!, which);
            g.Line($"__k.MatMul({g.N}, {s.Node!.Ints[2]}, {m}, {cols}, {k}, {B(tx)}, {B(ty)}, {g.V(s.Io[x])}, {g.V(s.Io[y])}, {g.V(s.Io[2])}, {EmitContext.Acc(s)});");
        });

    static string B(bool b) => b ? "true" : "false";

    /// <summary>Io: a, b, c.</summary>
    static readonly Kernel Forward = Make("MatMul", Product.Forward);

    /// <summary>Io: b, dc, da.</summary>
    static readonly Kernel BackA = Make("MatMulBackA", Product.GradA);

    /// <summary>Io: a, dc, db.</summary>
    static readonly Kernel BackB = Make("MatMulBackB", Product.GradB);
}
