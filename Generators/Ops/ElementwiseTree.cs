// A fused tree of element-wise ops (Fusion's EltGroup) as one kernel: forward evaluates the tree from its
// stored leaves in one pass; backward recomputes the tree's internal values from the leaves and writes every
// leaf's gradient in one pass (reducing over broadcast leaves). The code comes from each member's
// IElementwise definition (EltwiseCpu / EltwiseGpu write it per model).
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit;
using Authoring.Generators.Emit.Cpu;
using Authoring.Generators.Emit.Gpu;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal sealed class ElementwiseTree : IDifferentiable
{
    static readonly ElementwiseTree Instance = new();

    public static void Lower(Lowering cx, EltGroup g)
    {
        var io = g.Leaves.Select(l => cx.Value(l.Node)).Concat(new[] { cx.Value(g.Root.Id) }).ToArray();
        cx.Add(new Step(ForwardKernel, g.Root, io) { Group = g, Owner = Instance });
    }

    public void Backward(Autodiff cx, Step f)
    {
        var g = f.Group!;
        var back = new Step(BackwardKernel, f.Node, g.Leaves.Select(l => cx.Value(l.Node)).Concat(new[] { cx.Grad(g.Root.Id) }).ToArray())
        {
            Group = g,
            LeafGrads = new Ref?[g.Leaves.Count],
            LeafAccumulate = new bool[g.Leaves.Count],
        };
        var seen = new HashSet<int>();
        for (int li = 0; li < g.Leaves.Count; li++)
        {
            int leaf = g.Leaves[li].Node;
            if (!cx.NeedsGrad(leaf)) continue;
            var gr = cx.Grad(leaf);
            back.LeafGrads[li] = gr;
            // A value read through several leaves is written by the first and summed into by the rest.
            back.LeafAccumulate[li] = seen.Add(leaf) ? cx.NeedsAccumulate(leaf, gr) : true;
        }
        cx.Add(back);
    }

    /// <summary>Io: leaves..., y.</summary>
    public static readonly Kernel ForwardKernel = new("Eltwise", EmitCpu, EmitGpu);

    /// <summary>Io: leaves..., dy; LeafGrads: the leaves' gradients (null: not needed).</summary>
    public static readonly Kernel BackwardKernel = new("EltwiseBack", EmitCpu, EmitGpu);

    static List<string> Args(System.Func<Ref, string> view, Step s)
    {
        var args = new List<string> { "n" };
        args.AddRange(s.Io.Select(view));
        if (s.LeafGrads is not null)
            foreach (var g in s.LeafGrads) if (g is { } gr) args.Add(view(gr));
        return args;
    }

    static void EmitCpu(CpuContext c, Step s)
    {
        string name = EltwiseCpu.MethodName(s, c.Train);
        c.Line($"{name}({string.Join(", ", Args(c.V, s))});");
        bool train = c.Train;
        var m = c.Model;
        c.Member(name, w => EltwiseCpu.Emit(w, m, s, train));
    }

    static void EmitGpu(GpuContext c, Step s)
    {
        string name = EltwiseGpu.MethodName(s, c.Train);
        c.Line($"{name}All({string.Join(", ", Args(c.V, s))});");
        bool train = c.Train;
        var m = c.Model;
        c.Member(name, w => EltwiseGpu.Emit(w, m, s, train));
    }
}
