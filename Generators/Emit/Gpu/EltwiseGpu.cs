// Emits fused element-wise trees as ILGPU kernels: one thread per element, or one per (sample, channel) when
// a broadcast leaf's gradient must be summed over the plane, which keeps the reduction deterministic without
// atomics. The expressions come from the ops' definitions (IElementwise) on scalar lanes.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Emit.Cpu;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Gpu;

internal static class EltwiseGpu
{
    public static string MethodName(Step s, bool train) => "__Gpu" + s.Kernel.Name + (train ? "T" : "I") + s.Index;

    public static void Emit(CodeWriter w, ModelIr m, Step s, bool train)
    {
        string name = MethodName(s, train);
        var g = s.Group!;
        bool back = s.Kernel == Ops.ElementwiseTree.BackwardKernel;
        var layout = EltLayout.Of(m, g);
        int rank = layout.Rank, size = layout.Size;
        var gradLeaves = back ? Enumerable.Range(0, g.Leaves.Count).Where(i => s.LeafGrads![i] is not null).ToArray() : new int[0];
        var direct = gradLeaves.Where(i => EltwiseCpu.IsDirect(g, layout, s, i)).ToArray();
        var reduced = gradLeaves.Where(i => !direct.Contains(i)).ToArray();
        var fields = g.Leaves.Select((_, i) => "l" + i).Concat(new[] { back ? "dy" : "y" }).Concat(gradLeaves.Select(i => "g" + i)).ToList();

        // Main kernel: one thread per element of the root.
        var sb = new CodeWriter();
        sb.Line($"int b = i / {size}, e = i - b * {size};");
        Decompose(sb, layout, "e");
        var (val, leafVal) = Tree(sb, g, layout, Enumerable.Range(0, rank).ToArray());
        if (!back)
        {
            sb.Line($"a.y.Data[a.y.At(b) + e] = {val[g.Root.Id]};");
        }
        else if (direct.Length > 0)
        {
            var adj = EltwiseCpu.Adjoints(g, val, leafVal, Lanes.Scalar, "a.dy.Data[a.dy.At(b) + e]", sb, prefix: "d", type: "float");
            foreach (int k in direct)
                sb.Line($"a.g{k}.Data[a.g{k}.At(b) + e] {(s.LeafAccumulate![k] ? "+=" : "=")} {Sum(adj[k])};");
        }
        var calls = new List<string>();
        if (!back || direct.Length > 0)
        {
            GpuElementwiseKernel.Write(w, name, fields, $"n * {size}", sb.ToString());
            calls.Add($"{name}(n, {string.Join(", ", fields)});");
        }

        // A gradient summed over broadcast axes: one thread per element of the leaf, looping over the root
        // elements that read it, so the sum is deterministic without atomics.
        foreach (int k in reduced)
        {
            var rb = new CodeWriter();
            int leafSize = m.Nodes[g.Leaves[k].Node].Size;
            var strides = layout.LeafStrides[k];
            rb.Line($"int b = i / {leafSize}, f = i - b * {leafSize};");
            var own = Enumerable.Range(0, rank).Where(d => strides[d] != 0).ToArray();
            foreach (int d in own) rb.Line($"int d{d} = f / {strides[d]} % {layout.Extents[d]};");
            rb.Line("float acc = 0f;");
            var loops = Enumerable.Range(0, rank).Where(d => strides[d] == 0).ToArray();
            foreach (int d in loops) rb.Open($"for (int d{d} = 0; d{d} < {layout.Extents[d]}; d{d}++)");
            rb.Line($"int e = {string.Join(" + ", Enumerable.Range(0, rank).Select(d => $"d{d} * {layout.OutStride(d)}"))};");
            var (rv, rleaf) = Tree(rb, g, layout, Enumerable.Range(0, rank).ToArray());
            var adj = EltwiseCpu.Adjoints(g, rv, rleaf, Lanes.Scalar, "a.dy.Data[a.dy.At(b) + e]", rb, prefix: "d", type: "float");
            rb.Line($"acc += {Sum(adj[k])};");
            foreach (int _ in loops) rb.Close();
            bool overwrite = !s.LeafAccumulate![k] && EltwiseCpu.FirstSlot(g, s, k);
            rb.Line($"a.g{k}.Data[a.g{k}.At(b) + f] {(overwrite ? "=" : "+=")} acc;");
            string kname = $"{name}G{k}";
            GpuElementwiseKernel.Write(w, kname, fields, $"n * {leafSize}", rb.ToString());
            calls.Add($"{kname}(n, {string.Join(", ", fields)});");
        }

        // The step's host method launches them in order (sums into a gradient run after its direct writes).
        var parms = new[] { "int n" }.Concat(fields.Select(f => $"global::Authoring.Gpu.GView {f}"));
        w.Open($"void {name}All({string.Join(", ", parms)})");
        foreach (var c in calls) w.Line(c);
        w.Close();
        w.Line();
    }

    static string Sum(List<string> terms) => terms.Count > 0 ? string.Join(" + ", terms) : "0f";

    /// <summary>Merged-axis indices d0.. of root element <paramref name="e"/>.</summary>
    static void Decompose(CodeWriter w, EltLayout layout, string e)
    {
        int rank = layout.Rank;
        if (rank == 1)
        {
            w.Line($"int d0 = {e};");
            return;
        }
        w.Line($"int rem = {e};");
        for (int d = rank - 1; d > 0; d--)
        {
            w.Line($"int d{d} = rem % {layout.Extents[d]};");
            w.Line($"rem /= {layout.Extents[d]};");
        }
        w.Line("int d0 = rem;");
    }

    /// <summary>Loads every leaf at the current indices and evaluates the members.</summary>
    static (Dictionary<int, string> Val, string[] LeafVal) Tree(CodeWriter w, EltGroup g, EltLayout layout, int[] axes)
    {
        var leafVal = new string[g.Leaves.Count];
        for (int k = 0; k < g.Leaves.Count; k++)
        {
            var st = layout.LeafStrides[k];
            var terms = axes.Where(d => st[d] != 0).Select(d => st[d] == 1 ? $"d{d}" : $"d{d} * {st[d]}").ToList();
            string off = terms.Count == 0 ? "" : " + " + string.Join(" + ", terms);
            w.Line($"float x{k} = a.l{k}.Data[a.l{k}.At(b){off}];");
            leafVal[k] = "x" + k;
        }
        var val = new Dictionary<int, string>();
        foreach (var mem in g.Members)
        {
            w.Line($"float t{mem.Id} = {EltwiseCpu.Elementwise(mem).Value(mem, Lanes.Scalar, EltwiseCpu.Operands(g, mem, val, leafVal))};");
            val[mem.Id] = "t" + mem.Id;
        }
        return (val, leafVal);
    }
}

/// <summary>Writes a generated ILGPU kernel over GViews: its argument struct, the kernel (one thread per
/// index i in [0, count)), a cached launcher and the host method that launches it.</summary>
internal static class GpuElementwiseKernel
{
    const string GView = "global::Authoring.Gpu.GView";

    public static void Write(CodeWriter w, string name, IReadOnlyList<string> fields, string count, string body)
    {
        w.Line($"internal struct {name}Args");
        w.Line("{");
        w.Line("    public int n;");
        foreach (var f in fields) w.Line($"    public {GView} {f};");
        w.Line("}");
        w.Line();
        w.Open($"static void {name}Kernel(global::ILGPU.Index1D index, {name}Args a)");
        w.Line("int i = index;");
        w.Block(body);
        w.Close();
        w.Line();
        w.Line($"global::System.Action<global::ILGPU.Index1D, {name}Args>? {name}Launch;");
        w.Line();
        var parms = new[] { "int n" }.Concat(fields.Select(f => $"{GView} {f}"));
        w.Open($"void {name}({string.Join(", ", parms)})");
        w.Line($"var args = new {name}Args {{ n = n, {string.Join(", ", fields.Select(f => $"{f} = {f}"))} }};");
        w.Line($"({name}Launch ??= global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedStreamKernel<global::ILGPU.Index1D, {name}Args>(__device.Accelerator, {name}Kernel))({count}, args);");
        w.Close();
        w.Line();
    }
}
