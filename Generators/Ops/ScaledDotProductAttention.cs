// ScaledDotProductAttention(q, k, v, heads, causal): multi-head softmax attention, PyTorch's
// F.scaled_dot_product_attention on q, k, v split into heads (scale 1/sqrt(headSize), causal: query i sees keys
// j <= i), heads interleaved in each (N, D) token row (Attention.cs). The kernels never form the N x N scores: the
// forward keeps one log-sum-exp per (head, query), which training pins for the backward; the backward recomputes the
// probabilities. Kernels: Runtime SoftmaxAttention and GpuKernels.SoftmaxAttention*.
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string ScaledDotProductAttention = "ScaledDotProductAttention";
}

internal sealed class ScaledDotProductAttentionOp : OpDef
{
    public override string Name => OpKind.ScaledDotProductAttention;

    public override IEnumerable<string> OpsMethods => new[] { "ScaledDotProductAttention" };

    public override int BindCall(ModelParser p, OpCall call) => Attention.Bind(this, p, call, causalArg: 4, extra: 0);

    static int LsePerSample(Node n) => Attention.Heads(n) * Attention.SeqLen(n);

    public override void Lower(Lowering cx, Node n)
    {
        var lse = cx.NewBuffer(LsePerSample(n), "lse " + Storage.Label(n), pinned: cx.Train);
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Inputs[1]), cx.Value(n.Inputs[2]), cx.Value(n.Id), lse) { Owner = this });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        string label = Storage.Label(n);
        var work = cx.NewBuffer(LsePerSample(n), "row dots " + label);
        Ref dq = cx.NewBuffer(n.Size, "dq " + label), dk = cx.NewBuffer(n.Size, "dk " + label), dv = cx.NewBuffer(n.Size, "dv " + label);
        cx.Add(new Step(Back, n, f.Io[0], f.Io[1], f.Io[2], f.Io[3], cx.Grad(n.Id), f.Io[4], work, dq, dk, dv));
        Attention.ContributeAll(cx, n, dq, dk, dv);
    }

    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.ScaledDotProductAttention({o.In(n, 0)}, {o.In(n, 1)}, {o.In(n, 2)}, {Attention.SeqLen(n)}, {Attention.Heads(n)}, {Attention.HeadSize(n)}, {Attention.Flag(Attention.Causal(n))})";

    static string Cpu(string name) => EmitCommon.CpuNs + ".SoftmaxAttention." + name;

    /// <summary>Io: q, k, v, y, lse.</summary>
    static readonly Kernel Forward = new("ScaledDotProductAttention",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{Cpu("Forward")}({c.N}, {Attention.CpuShape(c, n)}, {Attention.Flag(Attention.Causal(n))}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {c.V(s.Io[3])}, {Attention.CpuRegion(c, s.Io[4])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.SoftmaxAttentionForward({g.N}, {Attention.GpuShape(n)}, {Attention.Flag(Attention.Causal(n))}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.V(s.Io[3])}, {Attention.GpuRegion(g, s.Io[4])});");
        });

    /// <summary>Io: q, k, v, y, dy, lse, work, dq, dk, dv (the last three fresh temporaries, overwritten).</summary>
    static readonly Kernel Back = new("ScaledDotProductAttentionBack",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{Cpu("Backward")}({c.N}, {Attention.CpuShape(c, n)}, {Attention.Flag(Attention.Causal(n))}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {c.V(s.Io[3])}, {c.V(s.Io[4])}, " +
                $"{Attention.CpuRegion(c, s.Io[5])}, {Attention.CpuRegion(c, s.Io[6])}, {c.V(s.Io[7])}, {c.V(s.Io[8])}, {c.V(s.Io[9])}, false);");
        },
        (g, s) =>
        {
            var n = s.Node!;
            // The device backward keeps its row dots in the library's scratch; the arena's work buffer is unused there.
            g.Line($"__k.SoftmaxAttentionBackward({g.N}, {Attention.GpuShape(n)}, {Attention.Flag(Attention.Causal(n))}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.V(s.Io[3])}, {g.V(s.Io[4])}, " +
                $"{Attention.GpuRegion(g, s.Io[5])}, {g.V(s.Io[7])}, {g.V(s.Io[8])}, {g.V(s.Io[9])}, false);");
        });
}
