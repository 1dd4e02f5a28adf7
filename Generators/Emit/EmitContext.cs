// What a kernel sees while it writes one step's code: the plan, the program (inference or training step),
// how to name operands (arena views, parameters, state) on its backend, and a place for extra members
// (generated kernels of fused trees) that the emitter appends to the class once.
using System;
using System.Collections.Generic;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Emit;

internal abstract class EmitContext
{
    readonly Dictionary<string, int> _offsets;
    readonly Dictionary<string, int> _lengths = new();
    readonly Dictionary<string, int> _bitOffsets;
    readonly Dictionary<string, int> _bitLengths = new();
    readonly HashSet<string> _memberKeys = new();
    readonly List<Action<CodeWriter>> _members = new();

    protected EmitContext(Plan plan)
    {
        Plan = plan;
        _offsets = EmitCommon.Offsets(plan.Model);
        foreach (var p in plan.Model.Params) _lengths[p.Name] = p.Length;
        _bitOffsets = EmitCommon.BitOffsets(plan.Model);
        foreach (var p in plan.Model.BitParams) _bitLengths[p.Name] = p.Length;
    }

    public Plan Plan { get; }
    public ModelIr Model => Plan.Model;
    /// <summary>The program being written (set per phase).</summary>
    public Program Program { get; set; } = null!;
    public bool Train => ReferenceEquals(Program, Plan.Train);
    public CodeWriter Writer { get; set; } = new();
    /// <summary>The step being written (set by the emitter before each kernel writes it).</summary>
    public Step? Step { get; set; }

    /// <summary>The batch a kernel of the current step runs on: n, or n times its folded leading axes.</summary>
    public string N => Step is { Fold: > 1 } s ? $"n * {s.Fold}" : "n";

    /// <summary>Per-sample stride of an operand for the current step (its buffer's, divided by the fold).</summary>
    protected int Stride(Passes.Buffer b) => Step is { Fold: > 1 } s ? b.PerSample / s.Fold : b.PerSample;

    public void Line(string text) => Writer.Line(text);

    /// <summary>Offset of a parameter tensor in the flat store.</summary>
    public int Offset(string name) => _offsets[name];

    public int Length(string name) => _lengths[name];

    /// <summary>Offset of a bit tensor in the flat word store.</summary>
    public int BitOffset(string name) => _bitOffsets[name];

    public int BitLength(string name) => _bitLengths[name];

    public static string Acc(Step s) => s.Accumulate ? "true" : "false";

    public static string F(float f) => EmitCommon.F(f);

    /// <summary>Adds a member (a generated kernel) once per key, written after the phases' methods.</summary>
    public void Member(string key, Action<CodeWriter> emit)
    {
        if (_memberKeys.Add(key)) _members.Add(emit);
    }

    public void WriteMembers(CodeWriter w)
    {
        foreach (var m in _members) m(w);
    }
}

/// <summary>The CPU SIMD backend: operands are Runtime <c>View</c>s over the arena <c>A</c>, parameters are
/// (array, offset) pairs over <c>P</c> (values), <c>G</c> (gradients) and <c>S</c> (state).</summary>
internal sealed class CpuContext : EmitContext
{
    readonly List<string> _shapes = new();
    readonly Dictionary<string, string> _shapeNames = new();

    public CpuContext(Plan plan) : base(plan) { }

    public IReadOnlyList<string> ShapeFields => _shapes;

    /// <summary>The View of an operand: sample b of it starts at A[n * offset + shift + b * perSample].</summary>
    public string V(Ref r)
    {
        var b = Program.Buffers[r.Buffer];
        string off = b.Offset == 0 ? "" : $"n * {b.Offset}";
        string shift = r.Shift == 0 ? "" : r.Shift.ToString();
        string o = off.Length == 0 && shift.Length == 0 ? "0" : off.Length == 0 ? shift : shift.Length == 0 ? off : off + " + " + shift;
        return $"new {EmitCommon.CpuNs}.View(A, {o}, {Stride(b)})";
    }

    /// <summary>The BitView of an operand in the bit arena <c>B</c> (a packed value, OpDef.PackedWords).</summary>
    public string BV(Ref r)
    {
        var b = Program.Buffers[r.Buffer];
        return $"new {EmitCommon.CpuNs}.BitView(B, n * {b.Offset} + {r.Shift}, {Stride(b)})";
    }

    /// <summary>"BP, offset" of a bit tensor's words.</summary>
    public string BitParam(string name) => $"BP, {BitOffset(name)}";

    /// <summary>"P, offset" of a parameter's values.</summary>
    public string Param(string name) => $"P, {Offset(name)}";

    /// <summary>"G, offset" of a parameter's gradient.</summary>
    public string Grad(string name) => $"G, {Offset(name)}";

    /// <summary>"S, offset" of a state region.</summary>
    public static string State(int offset) => $"S, {offset}";

    /// <summary>A static readonly shape struct of the Runtime, shared by steps with equal arguments.</summary>
    public string ShapeField(string type, string init)
    {
        string key = type + init;
        if (_shapeNames.TryGetValue(key, out var name)) return name;
        name = "__shape" + _shapeNames.Count;
        _shapeNames[key] = name;
        _shapes.Add($"static readonly {EmitCommon.CpuNs}.{type} {name} = {init};");
        return name;
    }
}

/// <summary>The ILGPU backend: operands are <c>GView</c>s over the device arena <c>A</c>; parameters are
/// sub-views of <c>P</c> (values) and <c>Gr</c> (gradients), state of <c>S</c>.</summary>
internal sealed class GpuContext : EmitContext
{
    public const string G = "global::Authoring.Gpu";

    public GpuContext(Plan plan) : base(plan) { }

    public string V(Ref r)
    {
        var b = Program.Buffers[r.Buffer];
        return $"new {G}.GView(A, n * {b.Offset} + {r.Shift}, {Stride(b)})";
    }

    public string Param(string name) => $"P.SubView({Offset(name)}, {Length(name)})";

    /// <summary>The GBitView of a packed operand in the device bit arena <c>B</c>.</summary>
    public string BV(Ref r)
    {
        var b = Program.Buffers[r.Buffer];
        return $"new {G}.GBitView(B, n * {b.Offset} + {r.Shift}, {Stride(b)})";
    }

    /// <summary>The device view of a bit tensor's words.</summary>
    public string BitParam(string name) => $"BP.SubView({BitOffset(name)}, {BitLength(name)})";

    public string Grad(string name) => $"Gr.SubView({Offset(name)}, {Length(name)})";

    public static string State(int offset, int length) => $"S.SubView({offset}, {length})";
}
