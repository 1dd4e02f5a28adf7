// SLAB's progressive re-parameterized BatchNorm (PRepBN, the reference's LinearNorm(norm1 = LayerNorm,
// norm2 = RepBN)): the mix of a LayerNorm branch and a RepBN branch, RepBN(x) = BN(x) + alpha * x. The two norms
// are ordinary LayerNorm / BatchNorm1d nodes (the block builds them on normX.norm1 and normX.norm2.bn); this op
// takes their outputs and x and holds the rest of the reference module's state under its names:
// normX.norm2.alpha (trainable scalar, init 1) and the buffers normX.warm, normX.iter, normX.total_step.
// Training, once per forward as the reference: while warm > 0 it counts warm down and outputs the LayerNorm
// (lambda = 1); then lambda = iter / total_step (r0 = 1) and iter counts down to 0:
//   y = lambda * LN(x) + (1 - lambda) * (BN(x) + alpha * x).
// The lambda a forward used is kept in the state array for its backward. Evaluation is pure RepBN whatever
// lambda is, so the deploy pass can fold BN(x) + alpha * x (a per-channel affine) into the next linear layer.
// Kernels: Runtime PRepBNKernel and GpuKernels.PRepBN*.
using System;
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string PRepBNMix = "PRepBNMix";
}

/// <summary>PRepBNMix: inputs LN(x), BN(x), x; no attributes (the layer name is the LinearNorm's path).</summary>
internal sealed class PRepBNMixOp : OpDef
{
    public override string Name => OpKind.PRepBNMix;

    public override OpTraits Traits => OpTraits.Parameters;

    /// <summary>The tensors under the layer's name, in the kernels' order (alpha, warm, iter, total_step).</summary>
    public static readonly string[] Suffixes = { ".norm2.alpha", ".warm", ".iter", ".total_step" };

    /// <summary>Adds the mix node and its tensors; <paramref name="warm"/> and <paramref name="total"/> are steps
    /// (checked by the caller: warm &gt;= 0, total &gt;= 1).</summary>
    public static int Add(ModelParser p, string layer, int ln, int bn, int x, int warm, int total, LocationInfo? loc)
    {
        int id = p.AddNode(OpKind.PRepBNMix, new[] { ln, bn, x }, p.ShapeOf(x), Array.Empty<int>(), 0, 0, layer, loc);
        if (id < 0) return -1;
        var one = new[] { 1 }.ToEquatableArray();
        p.AddParam(new ParamSpec(layer + Suffixes[0], one, "NormWeight", "Ones", 0, 0));
        p.AddParam(new ParamSpec(layer + Suffixes[1], one, "Buffer", "Constant", Bits(warm), 0));
        p.AddParam(new ParamSpec(layer + Suffixes[2], one, "Buffer", "Constant", Bits(total), 0));
        p.AddParam(new ParamSpec(layer + Suffixes[3], one, "Buffer", "Constant", Bits(total), 0));
        return id;
    }

    static int Bits(float f) => BitConverter.ToInt32(BitConverter.GetBytes(f), 0);

    public override void Lower(Lowering cx, Node n)
    {
        if (!cx.Train)
        {
            // Evaluation is RepBN alone: the LayerNorm input is not read.
            cx.Add(new Step(Eval, n, cx.Value(n.Inputs[1]), cx.Value(n.Inputs[2]), cx.Value(n.Id)));
            return;
        }
        cx.Add(new Step(Train, n, cx.Value(n.Inputs[0]), cx.Value(n.Inputs[1]), cx.Value(n.Inputs[2]), cx.Value(n.Id)) { State = cx.State(1), Owner = this });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        var dy = cx.Grad(n.Id);
        for (int i = 0; i < 3; i++)
        {
            int v = n.Inputs[i];
            if (cx.NeedsGrad(v)) cx.Contribute(v, new Step(BackScale, n, dy, cx.Grad(v)) { State = f.State, Arg = i }, 1);
        }
        cx.Add(new Step(BackAlpha, n, dy, f.Io[2]) { State = f.State });
    }

    /// <summary>Evaluation form: BN(x) + alpha * x (alpha a one-element tensor, broadcast).</summary>
    public override string? Onnx(OnnxContext o, Node n) =>
        $"b.Add({o.In(n, 1)}, b.Mul(b.Parameter(p, {OnnxContext.Str(n.Layer + Suffixes[0])}), {o.In(n, 2)}))";

    static string Cpu(string name) => EmitCommon.CpuNs + ".PRepBNKernel." + name;

    static string CpuOffsets(CpuContext c, Node n) =>
        $"{c.Offset(n.Layer + Suffixes[0])}, {c.Offset(n.Layer + Suffixes[1])}, {c.Offset(n.Layer + Suffixes[2])}, {c.Offset(n.Layer + Suffixes[3])}";

    /// <summary>Io: ln, bn, x, y. Lambda of this step written to the state array at <c>State</c>; counters updated.</summary>
    static readonly Kernel Train = new("PRepBNTrain",
        (c, s) => c.Line($"{Cpu("ForwardTrain")}({c.N}, {s.Node!.Size}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, P, {CpuOffsets(c, s.Node!)}, S, {s.State}, {c.V(s.Io[3])});"),
        (g, s) =>
        {
            var n = s.Node!;
            g.Line($"__k.PRepBNForwardTrain({g.N}, {n.Size}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])}, {g.Param(n.Layer + Suffixes[0])}, {g.Param(n.Layer + Suffixes[1])}, {g.Param(n.Layer + Suffixes[2])}, {g.Param(n.Layer + Suffixes[3])}, {GpuContext.State(s.State, 1)}, {g.V(s.Io[3])});");
        });

    /// <summary>Io: bn, x, y.</summary>
    static readonly Kernel Eval = new("PRepBNEval",
        (c, s) => c.Line($"{Cpu("ForwardEval")}({c.N}, {s.Node!.Size}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, P, {c.Offset(s.Node!.Layer + Suffixes[0])}, {c.V(s.Io[2])});"),
        (g, s) => g.Line($"__k.PRepBNForwardEval({g.N}, {s.Node!.Size}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.Param(s.Node!.Layer + Suffixes[0])}, {g.V(s.Io[2])});"));

    /// <summary>Io: dy, d(input). Arg is which input: 0 LN (lambda dy), 1 BN ((1 - lambda) dy), 2 x ((1 - lambda) alpha dy).</summary>
    static readonly Kernel BackScale = new("PRepBNBackScale",
        (c, s) => c.Line($"{Cpu("BackwardInput")}({c.N}, {s.Node!.Size}, {s.Arg}, P, {c.Offset(s.Node!.Layer + Suffixes[0])}, S, {s.State}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.PRepBNBackwardInput({g.N}, {s.Node!.Size}, {s.Arg}, {g.Param(s.Node!.Layer + Suffixes[0])}, {GpuContext.State(s.State, 1)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));

    /// <summary>Io: dy, x. The alpha gradient accumulates (1 - lambda) * sum(dy * x).</summary>
    static readonly Kernel BackAlpha = new("PRepBNBackAlpha",
        (c, s) => c.Line($"{Cpu("BackwardAlpha")}({c.N}, {s.Node!.Size}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, S, {s.State}, G, {c.Offset(s.Node!.Layer + Suffixes[0])});"),
        (g, s) => g.Line($"__k.PRepBNBackwardAlpha({g.N}, {s.Node!.Size}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {GpuContext.State(s.State, 1)}, {g.Grad(s.Node!.Layer + Suffixes[0])});"));
}
