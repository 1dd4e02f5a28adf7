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
        var layout = EltLayout.Of(m, g);
        var leaves = g.Leaves;
        int rank = layout.Rank, inner = layout.Extents[rank - 1];
        var gradLeaves = back ? Enumerable.Range(0, leaves.Count).Where(i => s.LeafGrads![i] is not null).ToArray() : new int[0];
        var direct = new HashSet<int>(gradLeaves.Where(i => IsDirect(g, layout, s, i)));

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
        w.Line($"const int L = {inner};");
        foreach (var v in views) w.Line($"var {v} = this.{v};");
        for (int i = 0; i < leaves.Count; i++) w.Line($"int o{i} = l{i}.At(b);");
        w.Line(back ? "int od = dy.At(b);" : "int oy = y.At(b);");
        foreach (int i in gradLeaves) w.Line($"int q{i} = g{i}.At(b);");
        // A gradient reduced over broadcast axes (or written by several leaves) is summed into: cleared first
        // when this is its first writer.
        foreach (int i in gradLeaves)
            if (!direct.Contains(i) && !s.LeafAccumulate![i] && FirstSlot(g, s, i))
                w.Line($"new global::System.Span<float>(g{i}.Data, q{i}, {m.Nodes[leaves[i].Node].Size}).Clear();");
        for (int d = 0; d < rank - 1; d++) w.Open($"for (int d{d} = 0; d{d} < {layout.Extents[d]}; d{d}++)");
        string Offset(string baseName, System.Func<int, long> stride)
        {
            var terms = new List<string> { baseName };
            for (int d = 0; d < rank - 1; d++)
            {
                long st = stride(d);
                if (st != 0) terms.Add(st == 1 ? $"d{d}" : $"d{d} * {st}");
            }
            return string.Join(" + ", terms);
        }
        for (int i = 0; i < leaves.Count; i++)
        {
            int li = i;
            w.Line($"int p{i} = {Offset("o" + i, d => layout.LeafStrides[li][d])};");
            if (!layout.VaryInner(i)) w.Line($"float s{i} = l{i}.Data[p{i}];");
        }
        w.Line(back ? $"int pd = {Offset("od", layout.OutStride)};" : $"int py = {Offset("oy", layout.OutStride)};");
        foreach (int i in gradLeaves)
        {
            int li = i;
            w.Line($"int pg{i} = {Offset("q" + i, d => layout.LeafStrides[li][d])};");
            if (!layout.VaryInner(i)) w.Line($"float r{i} = 0f;");
        }
        w.Line("int i = 0;");

        foreach (var lanes in Lanes.Cpu)
        {
            bool vector = lanes.Vec is not null;
            if (vector)
            {
                w.Open($"if (global::System.Runtime.Intrinsics.{lanes.Vec}.IsHardwareAccelerated)");
                foreach (int i in gradLeaves)
                    if (!layout.VaryInner(i)) w.Line($"var v{i} = {lanes.Zero};");
                w.Open($"for (; i <= L - {lanes.Width}; i += {lanes.Width})");
            }
            else
            {
                w.Open("for (; i < L; i++)");
            }
            var val = new Dictionary<int, string>();
            var leafVal = new string[leaves.Count];
            for (int i = 0; i < leaves.Count; i++)
            {
                w.Line($"var x{i} = {(layout.VaryInner(i) ? lanes.Load($"l{i}.Data", $"p{i} + i") : lanes.Splat("s" + i))};");
                leafVal[i] = "x" + i;
            }
            foreach (var mem in g.Members)
            {
                w.Line($"var t{mem.Id} = {Elementwise(mem).Value(mem, lanes, Operands(g, mem, val, leafVal))};");
                val[mem.Id] = "t" + mem.Id;
            }
            if (!back)
            {
                w.Line(lanes.Store(val[g.Root.Id], "y.Data", "py + i"));
            }
            else
            {
                var adj = Adjoints(g, val, leafVal, lanes, lanes.Load("dy.Data", "pd + i"), w);
                foreach (int i in gradLeaves)
                {
                    string sum = adj[i].Count > 0 ? string.Join(" + ", adj[i]) : lanes.Zero;
                    if (!layout.VaryInner(i))
                        w.Line(vector ? $"v{i} += {sum};" : $"r{i} += {sum};");
                    else if (!direct.Contains(i) || s.LeafAccumulate![i])
                        w.Line(lanes.Store($"{lanes.Load($"g{i}.Data", $"pg{i} + i")} + ({sum})", $"g{i}.Data", $"pg{i} + i"));
                    else
                        w.Line(lanes.Store(sum, $"g{i}.Data", $"pg{i} + i"));
                }
            }
            w.Close();
            if (vector)
            {
                foreach (int i in gradLeaves)
                    if (!layout.VaryInner(i)) w.Line($"r{i} += {lanes.Sum("v" + i)};");
                w.Close();
            }
        }
        foreach (int i in gradLeaves)
            if (!layout.VaryInner(i)) w.Line($"g{i}.Data[pg{i}] += r{i};");
        for (int d = 0; d < rank - 1; d++) w.Close();
        w.Close();
        w.Close();
        w.Line();
    }

    /// <summary>A leaf gradient written element by element (= or +=): the only leaf of its node and not broadcast.
    /// Others are summed into the gradient.</summary>
    public static bool IsDirect(EltGroup g, EltLayout layout, Step s, int i) =>
        layout.IsFull(i) && g.Leaves.Where((l, k) => l.Node == g.Leaves[i].Node && s.LeafGrads![k] is not null).Count() == 1;

    /// <summary>True for the first leaf (in leaf order) of its node that writes a gradient.</summary>
    public static bool FirstSlot(EltGroup g, Step s, int i)
    {
        for (int k = 0; k < i; k++)
            if (g.Leaves[k].Node == g.Leaves[i].Node && s.LeafGrads![k] is not null) return false;
        return true;
    }

    public static IElementwise Elementwise(Node n) => (IElementwise)n.Def;

    /// <summary>The expressions of a member's operands: members by value, leaves by their slot for this operand.</summary>
    public static string[] Operands(EltGroup g, Node mem, Dictionary<int, string> val, string[] leafVal)
    {
        var x = new string[mem.Inputs.Count];
        for (int k = 0; k < x.Length; k++) x[k] = LeafOf(g, mem, k) is int leaf && leaf >= 0 ? leafVal[leaf] : val[mem.Inputs[k]];
        return x;
    }

    /// <summary>The leaf slot operand <paramref name="k"/> of <paramref name="mem"/> reads.</summary>
    public static int LeafOf(EltGroup g, Node mem, int k) => g.OperandLeaves[mem.Id][k];

    /// <summary>Reverse sweep over the tree: writes each member's adjoint and returns, per leaf slot, its
    /// contributions (a leaf may feed several members).</summary>
    public static List<string>[] Adjoints(EltGroup g, Dictionary<int, string> val, string[] leafVal, Lanes lanes, string dyLoad, CodeWriter w, string prefix = "a", string type = "var")
    {
        var contrib = new Dictionary<int, List<string>>();
        var leaves = g.Leaves.Select(_ => new List<string>()).ToArray();
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
            var x = Operands(g, mem, val, leafVal);
            for (int i = 0; i < mem.Inputs.Count; i++)
            {
                string e = Elementwise(mem).Adjoint(mem, lanes, x, a, i);
                if (LeafOf(g, mem, i) is int leaf && leaf >= 0) leaves[leaf].Add(e);
                else Add(mem.Inputs[i], e);
            }
        }
        return leaves;
    }

    public static string Formula(EltGroup g)
    {
        var names = new Dictionary<int, string>();
        var leafNames = g.Leaves.Select((_, i) => "x" + i).ToArray();
        foreach (var mem in g.Members)
            names[mem.Id] = Elementwise(mem).Describe(mem, Operands(g, mem, names, leafNames));
        return names[g.Root.Id];
    }
}
