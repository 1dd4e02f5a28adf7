// LinearAttention(q, k, v, heads, featureMap, causal): multi-head linear attention ("Transformers are RNNs",
// Katharopoulos et al. 2020): y_i = phi(q_i)^T S / (phi(q_i)^T z + 1e-6), S = sum_j phi(k_j) v_j^T, z = sum_j phi(k_j),
// over every key or (causal) keys j <= i, per head; phi is elu(x) + 1 ("elu") or ReLU ("relu", SLAB's simplified
// linear attention kernel). Heads interleaved in each (N, D) token row (Attention.cs). The kernels run a chunked plan
// in O(N) memory (never an N x d x d tensor) and recompute the states in the backward pass, so nothing but the
// inputs and the output is kept for it. Kernels: Runtime LinearAttention and GpuKernels.LinearAttention*.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string LinearAttention = "LinearAttention";
}

internal sealed class LinearAttentionOp : OpDef
{
    public override string Name => OpKind.LinearAttention;

    public override IEnumerable<string> OpsMethods => new[] { "LinearAttention" };

    /// <summary>Feature maps by their DSL name, in the order of Ints[4], with their Runtime functors.</summary>
    static readonly string[] Maps = { "elu", "relu" };
    static readonly string[] Functors = { EmitCommon.CpuNs + ".EluPlusOne", EmitCommon.CpuNs + ".Relu" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        string? map = call.String(4);
        if (map is null) return -1;
        int index = System.Array.IndexOf(Maps, map);
        if (index < 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(4), call.Name,
                $"featureMap must be \"elu\" (elu(x) + 1) or \"relu\", got \"{map}\"");
            return -1;
        }
        return Attention.Bind(this, p, call, causalArg: 5, extra: index);
    }

    /// <summary>Floats of Runtime LinearAttention.WorkspaceSize for one sample: per head, (chunks + 2) states of
    /// dh x P + P floats (P = dh rounded up to 16 lanes) and two floats per token; chunks of 64 tokens when causal,
    /// 256 otherwise. The kernel checks the size it is given, so a drift between the two is an exception, not a
    /// silent overrun.</summary>
    static int WorkPerSample(Node n)
    {
        int seq = Attention.SeqLen(n), dh = Attention.HeadSize(n);
        int chunk = Attention.Causal(n) ? 64 : 256;
        int chunks = (seq + chunk - 1) / chunk, pw = (dh + 15) / 16 * 16;
        long perPair = (long)(chunks + 2) * (dh * pw + pw) + 2L * seq;
        return checked((int)(perPair * Attention.Heads(n)));
    }

    public override void Lower(Lowering cx, Node n)
    {
        // Scratch only; training keeps it alive (every forward buffer is) and the backward reuses it.
        var work = cx.NewBuffer(WorkPerSample(n), "work " + Storage.Label(n));
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Inputs[1]), cx.Value(n.Inputs[2]), cx.Value(n.Id), work) { Owner = this });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        string label = Storage.Label(n);
        Ref dq = cx.NewBuffer(n.Size, "dq " + label), dk = cx.NewBuffer(n.Size, "dk " + label), dv = cx.NewBuffer(n.Size, "dv " + label);
        cx.Add(new Step(Back, n, f.Io[0], f.Io[1], f.Io[2], f.Io[3], cx.Grad(n.Id), f.Io[4], dq, dk, dv));
        Attention.ContributeAll(cx, n, dq, dk, dv);
    }

    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.LinearAttention({o.In(n, 0)}, {o.In(n, 1)}, {o.In(n, 2)}, {Attention.SeqLen(n)}, {Attention.Heads(n)}, {Attention.HeadSize(n)}, {Attention.Flag(Attention.Causal(n))}, elu: {Attention.Flag(n.Ints[4] == 0)})";

    static string Map(Node n) => Functors[n.Ints[4]];

    static string Cpu(string name, Node n) => $"{EmitCommon.CpuNs}.LinearAttention.{name}<{Map(n)}>";

    /// <summary>Io: q, k, v, y, work.</summary>
    static readonly Kernel Forward = new("LinearAttention",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{Cpu("Forward", n)}({c.N}, {Attention.CpuShape(c, n)}, {Attention.Flag(Attention.Causal(n))}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {c.V(s.Io[3])}, {Attention.CpuRegion(c, s.Io[4])});");
        },
        (g, s) =>
        {
            var n = s.Node!;
            // The device plan keeps its states in the library's scratch; the arena's work buffer is unused there.
            g.Line($"__k.LinearAttentionForward<{Map(n)}>({g.N}, {Attention.GpuShape(n)}, {Attention.Flag(Attention.Causal(n))}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.V(s.Io[3])});");
        });

    /// <summary>Io: q, k, v, y, dy, work, dq, dk, dv (the last three fresh temporaries, overwritten).</summary>
    static readonly Kernel Back = new("LinearAttentionBack",
        (c, s) =>
        {
            var n = s.Node!;
            c.Line($"{Cpu("Backward", n)}({c.N}, {Attention.CpuShape(c, n)}, {Attention.Flag(Attention.Causal(n))}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {c.V(s.Io[3])}, {c.V(s.Io[4])}, " +
                $"{Attention.CpuRegion(c, s.Io[5])}, {c.V(s.Io[6])}, {c.V(s.Io[7])}, {c.V(s.Io[8])}, false);");
        },
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.LinearAttentionBackward<{Map(n)}>({g.N}, {Attention.GpuShape(n)}, {Attention.Flag(Attention.Causal(n))}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.V(s.Io[3])}, {g.V(s.Io[4])}, " +
                $"{g.V(s.Io[6])}, {g.V(s.Io[7])}, {g.V(s.Io[8])}, false);");
        });
}
