// Emits a fused element-wise tree as one vectorised pass (Vector512, else Vector256, then a scalar
// tail), forward and backward. The backward recomputes the tree's internal values from its stored
// leaves and accumulates the adjoints of broadcast (per-channel) leaves over each channel plane.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Cpu;

internal static class EltwiseCpu
{
    public static string MethodName(Step s, bool train) =>
        (s.Kind == StepKind.Eltwise ? "__Elt" : "__EltBack") + (train ? "T" : "I") + s.Index;

    sealed class Lanes
    {
        public Lanes(string? vec, int width) { Vec = vec; Width = width; }
        public string? Vec { get; }
        public int Width { get; }
        public string Load(string arr, string idx) => Vec is null ? $"{arr}[{idx}]" : $"global::System.Runtime.Intrinsics.{Vec}.LoadUnsafe(ref {arr}[{idx}])";
        public string Splat(string scalar) => Vec is null ? scalar : $"global::System.Runtime.Intrinsics.{Vec}.Create({scalar})";
        // Static form, not the extension method: the value may be an expression ('a * b'), and
        // generated code cannot count on the user's usings.
        public string Store(string value, string arr, string idx) => Vec is null ? $"{arr}[{idx}] = {value};" : $"global::System.Runtime.Intrinsics.{Vec}.StoreUnsafe({value}, ref {arr}[{idx}]);";
        public string Zero => Vec is null ? "0f" : $"global::System.Runtime.Intrinsics.{Vec}<float>.Zero";
        public string Sum(string v) => Vec is null ? v : $"global::System.Runtime.Intrinsics.{Vec}.Sum({v})";
    }

    static readonly Lanes[] All = { new("Vector512", 16), new("Vector256", 8), new(null, 1) };

    public static void Emit(CodeWriter w, ModelIr m, Step s, bool train)
    {
        var g = s.Group!;
        bool back = s.Kind == StepKind.EltwiseBack;
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
        w.Line($"// {(back ? "backward of " : "")}fused element-wise: {Formula(m, g)}");
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

        foreach (var lanes in All)
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
                w.Line($"var t{mem.Id} = {Expr(mem, val)};");
                val[mem.Id] = "t" + mem.Id;
            }
            if (!back)
            {
                w.Line(lanes.Store(val[g.Root.Id], "y.Data", "oy + i"));
            }
            else
            {
                var adj = Adjoints(m, g, val, lanes.Load("dy.Data", "od + i"), w);
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

    static string Expr(Node mem, Dictionary<int, string> val) => mem.Op switch
    {
        OpKind.Add => $"{val[mem.Inputs[0]]} + {val[mem.Inputs[1]]}",
        OpKind.Mul => $"{val[mem.Inputs[0]]} * {val[mem.Inputs[1]]}",
        _ => $"default({Act((ActKind)mem.Ints[0])}).Apply({val[mem.Inputs[0]]})",
    };

    /// <summary>Reverse sweep over the tree: writes each member's adjoint and returns the contributions
    /// to every leaf (a leaf may feed several members).</summary>
    static Dictionary<int, List<string>> Adjoints(ModelIr m, EltGroup g, Dictionary<int, string> val, string dyLoad, CodeWriter w)
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
            string a = "a" + mem.Id;
            w.Line($"var {a} = {string.Join(" + ", contrib[mem.Id])};");
            switch (mem.Op)
            {
                case OpKind.Add:
                    Add(mem.Inputs[0], a);
                    Add(mem.Inputs[1], a);
                    break;
                case OpKind.Mul:
                    Add(mem.Inputs[0], $"{a} * {val[mem.Inputs[1]]}");
                    Add(mem.Inputs[1], $"{a} * {val[mem.Inputs[0]]}");
                    break;
                default:
                    Add(mem.Inputs[0], $"{a} * default({Act((ActKind)mem.Ints[0])}).Derivative({val[mem.Inputs[0]]})");
                    break;
            }
        }
        return contrib;
    }

    public static string Formula(ModelIr m, EltGroup g)
    {
        var names = new Dictionary<int, string>();
        for (int i = 0; i < g.Leaves.Count; i++) names[g.Leaves[i]] = "x" + i;
        foreach (var mem in g.Members)
            names[mem.Id] = mem.Op switch
            {
                OpKind.Add => $"({names[mem.Inputs[0]]} + {names[mem.Inputs[1]]})",
                OpKind.Mul => $"({names[mem.Inputs[0]]} * {names[mem.Inputs[1]]})",
                _ => $"{(ActKind)mem.Ints[0]}({names[mem.Inputs[0]]})",
            };
        return names[g.Root.Id];
    }
}
