// Emits a fused element-wise tree as one vectorised pass (Vector512, else Vector256, then a scalar
// tail), forward and backward. The backward recomputes the tree's internal values from its stored
// leaves and accumulates the adjoints of broadcast (per-channel) leaves over each channel plane.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Cpu;

internal static class EltwiseCpu
{
    public static string MethodName(Step s, bool train) =>
        (s.Kernel == ElementwiseTree.ForwardKernel ? "__Elt" : "__EltBack") + (train ? "T" : "I") + s.Index;

    public static void Emit(CodeWriter w, ModelIr m, Step s, bool train)
    {
        var g = s.Group!;
        bool back = s.Kernel == ElementwiseTree.BackwardKernel;
        bool channelLoop = NeedsChannelLoop(m, g);
        int len = channelLoop ? g.S : g.C * g.S;
        var leaves = g.Leaves;
        var bcast = leaves.Select(l => channelLoop && LeafIsBroadcast(m, g, l)).ToArray();
        var gradLeaves = back ? Enumerable.Range(0, leaves.Count).Where(i => s.LeafGrads![i] is not null).ToArray() : new int[0];

        var views = new List<string>();
        views.AddRange(leaves.Select((_, i) => "l" + i));
        views.Add(back ? "dy" : "y");
        views.AddRange(gradLeaves.Select(i => "g" + i));
        string name = MethodName(s, train);

        // One sample per job index: the worker pool spreads the batch over the cores without allocating.
        w.Line($"// {(back ? "backward of " : "")}fused element-wise: {Formula(g)}");
        w.Open($"static void {name}(int n, {string.Join(", ", views.Select(v => $"{CpuNs}.View {v}"))})");
        w.Line($"var job = new {name}Job {{ {string.Join(", ", views.Select(v => $"{v} = {v}"))} }};");
        w.Line($"{CpuNs}.WorkerPool.For(n, ref job);");
        w.Close();
        w.Line();
        w.Open($"struct {name}Job : {CpuNs}.IParallelJob");
        w.Line($"public {CpuNs}.View {string.Join(", ", views)};");
        w.Line();
        w.Open("public void Run(int b)");
        w.Line($"const int L = {len};");
        foreach (var v in views) w.Line($"var {v} = this.{v};");
        if (channelLoop) w.Open($"for (int c = 0; c < {g.C}; c++)");
        string plane = channelLoop ? " + c * L" : "";
        for (int i = 0; i < leaves.Count; i++)
        {
            if (bcast[i]) w.Line($"float s{i} = l{i}.Data[l{i}.At(b) + c];");
            else w.Line($"int o{i} = l{i}.At(b){plane};");
        }
        w.Line(back ? $"int od = dy.At(b){plane};" : $"int oy = y.At(b){plane};");
        foreach (int i in gradLeaves)
            if (!bcast[i]) w.Line($"int q{i} = g{i}.At(b){plane};");
        w.Line("int i = 0;");
        foreach (int i in gradLeaves)
            if (bcast[i]) w.Line($"float r{i} = 0f;");

        foreach (var lanes in Lanes.Cpu)
        {
            bool vector = lanes.Vec is not null;
            if (vector)
            {
                w.Open($"if (global::System.Runtime.Intrinsics.{lanes.Vec}.IsHardwareAccelerated)");
                foreach (int i in gradLeaves)
                    if (bcast[i]) w.Line($"var v{i} = {lanes.Zero};");
                w.Open($"for (; i <= L - {lanes.Width}; i += {lanes.Width})");
            }
            else
            {
                w.Open("for (; i < L; i++)");
            }
            var val = new Dictionary<int, string>();
            for (int i = 0; i < leaves.Count; i++)
            {
                w.Line($"var x{i} = {(bcast[i] ? lanes.Splat("s" + i) : lanes.Load($"l{i}.Data", $"o{i} + i"))};");
                val[leaves[i]] = "x" + i;
            }
            foreach (var mem in g.Members)
            {
                w.Line($"var t{mem.Id} = {Elementwise(mem).Value(mem, lanes, Operands(mem, val))};");
                val[mem.Id] = "t" + mem.Id;
            }
            if (!back)
            {
                w.Line(lanes.Store(val[g.Root.Id], "y.Data", "oy + i"));
            }
            else
            {
                var adj = Adjoints(g, val, lanes, lanes.Load("dy.Data", "od + i"), w);
                foreach (int i in gradLeaves)
                {
                    string sum = adj.TryGetValue(leaves[i], out var list) && list.Count > 0 ? string.Join(" + ", list) : lanes.Zero;
                    if (bcast[i])
                    {
                        w.Line(vector ? $"v{i} += {sum};" : $"r{i} += {sum};");
                    }
                    else if (s.LeafAccumulate![i])
                    {
                        w.Line(lanes.Store($"{lanes.Load($"g{i}.Data", $"q{i} + i")} + ({sum})", $"g{i}.Data", $"q{i} + i"));
                    }
                    else
                    {
                        w.Line(lanes.Store(sum, $"g{i}.Data", $"q{i} + i"));
                    }
                }
            }
            w.Close();
            if (vector)
            {
                foreach (int i in gradLeaves)
                    if (bcast[i]) w.Line($"r{i} += {lanes.Sum("v" + i)};");
                w.Close();
            }
        }
        foreach (int i in gradLeaves)
        {
            if (!bcast[i]) continue;
            string op = s.LeafAccumulate![i] ? "+=" : "=";
            w.Line($"g{i}.Data[g{i}.At(b) + c] {op} r{i};");
        }
        if (channelLoop) w.Close();
        w.Close();
        w.Close();
        w.Line();
    }

    public static IElementwise Elementwise(Node n) => (IElementwise)n.Def;

    public static string[] Operands(Node mem, Dictionary<int, string> val) => mem.Inputs.Select(i => val[i]).ToArray();

    /// <summary>Reverse sweep over the tree: writes each member's adjoint and returns the contributions
    /// to every leaf (a leaf may feed several members).</summary>
    public static Dictionary<int, List<string>> Adjoints(EltGroup g, Dictionary<int, string> val, Lanes lanes, string dyLoad, CodeWriter w, string prefix = "a", string type = "var")
    {
        var contrib = new Dictionary<int, List<string>>();
        void Add(int id, string e)
        {
            if (!contrib.TryGetValue(id, out var l)) contrib[id] = l = new List<string>();
            l.Add(e);
        }
        Add(g.Root.Id, dyLoad);
        for (int k = g.Members.Count - 1; k >= 0; k--)
        {
            var mem = g.Members[k];
            string a = prefix + mem.Id;
            w.Line($"{type} {a} = {string.Join(" + ", contrib[mem.Id])};");
            var x = Operands(mem, val);
            for (int i = 0; i < mem.Inputs.Count; i++)
                Add(mem.Inputs[i], Elementwise(mem).Adjoint(mem, lanes, x, a, i));
        }
        return contrib;
    }

    public static string Formula(EltGroup g)
    {
        var names = new Dictionary<int, string>();
        for (int i = 0; i < g.Leaves.Count; i++) names[g.Leaves[i]] = "x" + i;
        foreach (var mem in g.Members)
            names[mem.Id] = Elementwise(mem).Describe(mem, Operands(mem, names));
        return names[g.Root.Id];
    }
}
