// Emits fused element-wise trees (and dropout's backward) as ILGPU kernels: one thread per element, or
// one per (sample, channel) when a broadcast leaf's gradient must be summed over the plane, which keeps
// the reduction deterministic without atomics.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Gpu;

internal static class EltwiseGpu
{
    const string GView = "global::Authoring.Gpu.GView";

    public static string MethodName(Step s, bool train) => "__Gpu" + s.Kind + (train ? "T" : "I") + s.Index;

    public static void Emit(CodeWriter w, ModelIr m, Step s, bool train)
    {
        string name = MethodName(s, train);
        var fields = new List<string> { "n" };
        string body;
        string count;
        if (s.Kind == StepKind.DropoutBack)
        {
            fields.AddRange(new[] { "dy", "mask", "dx" });
            string op = s.Accumulate ? "+=" : "=";
            count = $"n * {s.Size}";
            body = $"int b = i / {s.Size}, r = i - b * {s.Size};\n" +
                   $"a.dx.Data[a.dx.At(b) + r] {op} a.dy.Data[a.dy.At(b) + r] * a.mask.Data[a.mask.At(b) + r];";
        }
        else
        {
            var g = s.Group!;
            bool back = s.Kind == StepKind.EltwiseBack;
            bool channel = NeedsChannelLoop(m, g);
            var bcast = g.Leaves.Select(l => channel && LeafIsBroadcast(m, g, l)).ToArray();
            var gradLeaves = back ? Enumerable.Range(0, g.Leaves.Count).Where(i => s.LeafGrads![i] is not null).ToArray() : new int[0];
            bool perPlane = gradLeaves.Any(i => bcast[i]);
            fields.AddRange(g.Leaves.Select((_, i) => "l" + i));
            fields.Add(back ? "dy" : "y");
            fields.AddRange(gradLeaves.Select(i => "g" + i));
            int c = g.C, l = g.S, per = g.C * g.S;
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
                sb.Line($"float t{mem.Id} = {Expr(mem, val)};");
                val[mem.Id] = "t" + mem.Id;
            }
            if (!back)
            {
                sb.Line($"a.y.Data[a.y.At(b) + e] = {val[g.Root.Id]};");
            }
            else
            {
                var contrib = new Dictionary<int, List<string>>();
                void Add(int id, string e)
                {
                    if (!contrib.TryGetValue(id, out var list)) contrib[id] = list = new List<string>();
                    list.Add(e);
                }
                Add(g.Root.Id, "a.dy.Data[a.dy.At(b) + e]");
                for (int k = g.Members.Count - 1; k >= 0; k--)
                {
                    var mem = g.Members[k];
                    string adj = "d" + mem.Id;
                    sb.Line($"float {adj} = {string.Join(" + ", contrib[mem.Id])};");
                    switch (mem.Op)
                    {
                        case OpKind.Add: Add(mem.Inputs[0], adj); Add(mem.Inputs[1], adj); break;
                        case OpKind.Mul: Add(mem.Inputs[0], $"{adj} * {val[mem.Inputs[1]]}"); Add(mem.Inputs[1], $"{adj} * {val[mem.Inputs[0]]}"); break;
                        default: Add(mem.Inputs[0], $"{adj} * default({Act((ActKind)mem.Ints[0])}).Derivative({val[mem.Inputs[0]]})"); break;
                    }
                }
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
            body = sb.ToString();
        }

        w.Line($"internal struct {name}Args");
        w.Line("{");
        w.Line("    public int n;");
        foreach (var f in fields.Skip(1)) w.Line($"    public {GView} {f};");
        w.Line("}");
        w.Line();
        w.Open($"static void {name}Kernel(global::ILGPU.Index1D index, {name}Args a)");
        w.Line("int i = index;");
        w.Block(body);
        w.Close();
        w.Line();
        w.Line($"global::System.Action<global::ILGPU.Index1D, {name}Args>? {name}Launch;");
        w.Line();
        var parms = new[] { "int n" }.Concat(fields.Skip(1).Select(f => $"{GView} {f}"));
        w.Open($"void {name}({string.Join(", ", parms)})");
        w.Line($"var args = new {name}Args {{ n = n, {string.Join(", ", fields.Skip(1).Select(f => $"{f} = {f}"))} }};");
        w.Line($"({name}Launch ??= global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedStreamKernel<global::ILGPU.Index1D, {name}Args>(__device.Accelerator, {name}Kernel))({count}, args);");
        w.Close();
        w.Line();
    }

    static string Expr(Node mem, Dictionary<int, string> val) => mem.Op switch
    {
        OpKind.Add => $"{val[mem.Inputs[0]]} + {val[mem.Inputs[1]]}",
        OpKind.Mul => $"{val[mem.Inputs[0]]} * {val[mem.Inputs[1]]}",
        _ => $"default({Act((ActKind)mem.Ints[0])}).Apply({val[mem.Inputs[0]]})",
    };
}
