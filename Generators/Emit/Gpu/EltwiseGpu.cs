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
        var fields = new List<string>();
        var g = s.Group!;
        bool back = s.Kernel == Ops.ElementwiseTree.BackwardKernel;
        bool channel = NeedsChannelLoop(m, g);
        var bcast = g.Leaves.Select(l => channel && LeafIsBroadcast(m, g, l)).ToArray();
        var gradLeaves = back ? Enumerable.Range(0, g.Leaves.Count).Where(i => s.LeafGrads![i] is not null).ToArray() : new int[0];
        bool perPlane = gradLeaves.Any(i => bcast[i]);
        fields.AddRange(g.Leaves.Select((_, i) => "l" + i));
        fields.Add(back ? "dy" : "y");
        fields.AddRange(gradLeaves.Select(i => "g" + i));
        int c = g.C, l = g.S, per = g.C * g.S;
        string count;
        var sb = new CodeWriter();
        if (perPlane)
        {
            count = $"n * {c}";
            sb.Line($"int b = i / {c}, c = i - b * {c};");
            foreach (int k in gradLeaves) if (bcast[k]) sb.Line($"float r{k} = 0f;");
            sb.Open($"for (int s = 0; s < {l}; s++)");
            sb.Line($"int e = c * {l} + s;");
        }
        else
        {
            count = $"n * {per}";
            sb.Line($"int b = i / {per}, e = i - b * {per};");
            if (channel) sb.Line($"int c = e / {l};");
        }
        var val = new Dictionary<int, string>();
        for (int k = 0; k < g.Leaves.Count; k++)
        {
            sb.Line($"float x{k} = a.l{k}.Data[a.l{k}.At(b) + {(bcast[k] ? "c" : "e")}];");
            val[g.Leaves[k]] = "x" + k;
        }
        foreach (var mem in g.Members)
        {
            sb.Line($"float t{mem.Id} = {EltwiseCpu.Elementwise(mem).Value(mem, Lanes.Scalar, EltwiseCpu.Operands(mem, val))};");
            val[mem.Id] = "t" + mem.Id;
        }
        if (!back)
        {
            sb.Line($"a.y.Data[a.y.At(b) + e] = {val[g.Root.Id]};");
        }
        else
        {
            var contrib = EltwiseCpu.Adjoints(g, val, Lanes.Scalar, "a.dy.Data[a.dy.At(b) + e]", sb, prefix: "d", type: "float");
            foreach (int k in gradLeaves)
            {
                string sum = contrib.TryGetValue(g.Leaves[k], out var list) ? string.Join(" + ", list) : "0f";
                string op = s.LeafAccumulate![k] ? "+=" : "=";
                if (bcast[k]) sb.Line($"r{k} += {sum};");
                else sb.Line($"a.g{k}.Data[a.g{k}.At(b) + e] {op} {sum};");
            }
        }
        if (perPlane)
        {
            sb.Close();
            foreach (int k in gradLeaves)
                if (bcast[k]) sb.Line($"a.g{k}.Data[a.g{k}.At(b) + c] {(s.LeafAccumulate![k] ? "+=" : "=")} r{k};");
        }
        GpuElementwiseKernel.Write(w, name, fields, count, sb.ToString());
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
