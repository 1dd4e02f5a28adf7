// What the two multi-head attention ops share: the binding of (q, k, v, heads, ..., causal) with its checks, and
// the node attributes. Per sample q, k and v are (N, D) token matrices with the heads interleaved in each row (head h
// owns columns [h * D / heads, (h + 1) * D / heads)), which is how a Linear projection writes them and what Runtime's
// AttentionShape means, so no Reshape/Transpose into (H, N, Dh) is needed around the kernels.
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;

namespace Authoring.Generators.Ops;

/// <summary>Attention attributes: Ints [seqLen, heads, headSize, causal, featureMap (linear attention only)].</summary>
internal static class Attention
{
    /// <summary>The device kernels keep a head's vector in a local array of this many floats (GpuKernels.MaxHeadSize).</summary>
    public const int MaxHeadSize = 256;

    public static int SeqLen(Node n) => n.Ints[0];
    public static int Heads(Node n) => n.Ints[1];
    public static int HeadSize(Node n) => n.Ints[2];
    public static bool Causal(Node n) => n.Ints[3] != 0;

    /// <summary>q, k and v must be equal (N, D) matrices per sample.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] q, int[] k, int[] v)
    {
        if (q.Length != 2)
            return (null, $"expects per-sample (N, D) token matrices, got q of shape {OpRules.Format(q)}");
        if (!Same(q, k) || !Same(q, v))
            return (null, $"q, k and v must have the same (N, D) shape, got {OpRules.Format(q)}, {OpRules.Format(k)} and {OpRules.Format(v)}");
        return (q, null);
    }

    static bool Same(int[] a, int[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>Binds <c>Op(q, k, v, heads, ...)</c> with the causal flag at argument <paramref name="causalArg"/> and
    /// <paramref name="extra"/> appended to the attributes; -1 after a located diagnostic.</summary>
    public static int Bind(OpDef def, ModelParser p, OpCall call, int causalArg, int extra)
    {
        int q = call.Tensor(0), k = call.Tensor(1), v = call.Tensor(2);
        int? heads = call.Int(3);
        bool? causal = call.Bool(causalArg);
        if (q < 0 || k < 0 || v < 0 || heads is null || causal is null) return -1;
        string what = call.Name;
        var rule = Shape(p.ShapeOf(q), p.ShapeOf(k), p.ShapeOf(v));
        if (rule.Shape is not { } y) return p.Shaped(def.Name, what, new[] { q, k, v }, rule, System.Array.Empty<int>(), 0, 0, "", call.Location);
        int d = y[1];
        if (heads.Value <= 0 || d % heads.Value != 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(3), what,
                $"heads must be positive and divide the feature size D = {d} of q, k and v, got {heads.Value}");
            return -1;
        }
        int dh = d / heads.Value;
        if (dh > MaxHeadSize)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(3), what,
                $"a head of {dh} features (D = {d} over {heads.Value} heads) exceeds the kernels' limit of {MaxHeadSize}; use more heads");
            return -1;
        }
        var ints = new[] { y[0], heads.Value, dh, causal.Value ? 1 : 0, extra };
        return p.Shaped(def.Name, what, new[] { q, k, v }, rule, ints, 0, 0, "", call.Location);
    }

    /// <summary>The Runtime AttentionShape of a node, as a shared static field (CPU) or an expression (GPU).</summary>
    public static string CpuShape(CpuContext c, Node n) =>
        c.ShapeField("AttentionShape", $"new({SeqLen(n)}, {Heads(n)}, {HeadSize(n)})");

    public static string GpuShape(Node n) =>
        $"new {EmitCommon.CpuNs}.AttentionShape({SeqLen(n)}, {Heads(n)}, {HeadSize(n)})";

    public static string Flag(bool b) => b ? "true" : "false";

    /// <summary>"A, offset" of a scratch buffer's first sample: the kernels index their workspace per (sample, head)
    /// themselves, so they take the arena and the start of the batch's region.</summary>
    public static string CpuRegion(CpuContext c, Passes.Ref r) => $"A, n * {c.Program.Buffers[r.Buffer].Offset}";

    public static string GpuRegion(GpuContext g, Passes.Ref r)
    {
        var b = g.Program.Buffers[r.Buffer];
        return $"A.SubView((long)n * {b.Offset}, n * {b.PerSample})";
    }

    /// <summary>The backward steps write dq, dk and dv together with one accumulate flag and must not write a buffer
    /// they read; q, k and v are often one value (self-attention on one projection), so the kernel writes fresh
    /// temporaries that copies then add into each gradient, overwriting or accumulating as the gradient needs.</summary>
    public static void ContributeAll(Passes.Autodiff cx, Node n, Passes.Ref dq, Passes.Ref dk, Passes.Ref dv)
    {
        var temps = new[] { dq, dk, dv };
        for (int i = 0; i < 3; i++)
        {
            int x = n.Inputs[i];
            if (cx.NeedsGrad(x)) cx.Contribute(x, new Passes.Step(Utility.Copy, null, temps[i], cx.Grad(x)) { Size = n.Size }, 1);
        }
    }
}
