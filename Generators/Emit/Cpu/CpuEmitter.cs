// Emits the CPU SIMD backend: the model class implements IModel; each step becomes a call to a Runtime
// microkernel specialised by an activation functor, or a generated Vector512/Vector256 loop for fused
// element-wise trees. Shapes are constants; the arena is sized once per batch capacity.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Cpu;

internal sealed class CpuEmitter
{
    readonly Plan _plan;
    readonly ModelIr _m;
    readonly CodeWriter _w = new();
    readonly CpuContext _cx;

    CpuEmitter(Plan plan)
    {
        _plan = plan;
        _m = plan.Model;
        _cx = new CpuContext(plan);
    }

    public static string Emit(Plan plan) => new CpuEmitter(plan).Run();

    string Run()
    {
        var body = new CodeWriter();
        EmitInfer(body);
        EmitTrain(body);

        var w = _w;
        Header(w, _m);
        w.Line($"/// <summary>Compiled CPU SIMD backend of <c>{_m.ClassName}</c>.</summary>");
        w.Line(GeneratedCode);
        w.Open($"{(_m.DeclaresClass ? _m.Modifiers + " sealed " : "")}partial class {_m.ClassName} : {Rt}.IModel");
        int inSize = _m.Nodes[0].Size, outSize = _m.Nodes[_m.Output].Size;
        int infer = _plan.Infer.ArenaPerSample, train = _plan.Train.ArenaPerSample;
        w.Line($"const int __InputSize = {inSize}, __OutputSize = {outSize}, __StateSize = {_plan.StateSize};");
        w.Line($"const int __InferArena = {infer}, __TrainArena = {train};");
        w.Line($"const int __InferChunk = {EntryPoints.Chunk(EntryPoints.MaxArray, infer)}, __MaxTrainBatch = {EntryPoints.Chunk(EntryPoints.MaxArray, train)};");
        EntryPoints.Shared(w, _m);
        ParameterTable(w, _m);
        w.Line($"readonly {Rt}.ParameterStore __parameters = {NewStore(_m, targetTyped: true)};");
        w.Line("float[] __arena = global::System.Array.Empty<float>();");
        if (Bits) w.Line("ulong[] __bitArena = global::System.Array.Empty<ulong>();");
        if (_m.TakesTokens) w.Line("int[] __tokens = global::System.Array.Empty<int>();");
        w.Line("readonly float[] __state = new float[__StateSize];");
        w.Line("ulong __steps;");
        w.Line("bool __trace;");
        w.Line($"{Rt}.NonFiniteOrigin? __origin;");
        w.Line();
        EntryPoints.Members(w, _m, "");
        if (HasBits(_m))
        {
            w.Line("/// <summary>Writes this model's deploy checkpoint: the packed binary weights as U64 bits (1 bit per weight), every");
            w.Line("/// other tensor as F32 (PackedCheckpoint.SaveStore; float-only Safetensors refuses a store with bits).</summary>");
            w.Line($"public void Save(string path) => {Rt}.Checkpoints.PackedCheckpoint.SaveStore(__parameters, path, new global::System.Collections.Generic.Dictionary<string, string> {{ [\"model\"] = \"{_m.ClassName}\" }});");
            w.Line("/// <summary>Loads a checkpoint <see cref=\"Save\"/> wrote; nothing changes unless every tensor is there with its dtype and shape.</summary>");
            w.Line($"/// <exception cref=\"global::System.IO.InvalidDataException\">The file is truncated or malformed, or holds another model's tensors.</exception>");
            w.Line($"public void Load(string path) => {Rt}.Checkpoints.PackedCheckpoint.LoadStore(__parameters, path);");
            w.Line();
        }
        w.Line($"/// <summary>Floats per sample of the arena (activations and gradients of one training step).</summary>");
        w.Line("public static int ArenaFloatsPerSample => __TrainArena;");
        w.Line();
        foreach (var s in _cx.ShapeFields) w.Line(s);
        w.Line();
        w.Open("void __Ensure(int batch, int perSample)");
        w.Line("long need = (long)batch * perSample;");
        w.Open("if (need > __arena.Length)");
        w.Line("// Grows only when a larger batch arrives: steady-state steps allocate nothing.");
        w.Line("try { __arena = global::System.GC.AllocateUninitializedArray<float>((int)need); }");
        w.Line("catch (global::System.OutOfMemoryException e) { throw new global::System.InsufficientMemoryException($\"" + _m.ClassName + " needs {need * 4.0 / (1 << 30):F1} GiB of activations for a batch of {batch}; use a smaller batch.\", e); }");
        w.Close();
        w.Close();
        w.Line();
        if (Bits)
        {
            w.Open("ulong[] __EnsureBits(int batch, int perSample)");
            w.Line("long need = (long)batch * perSample;");
            w.Line("if (need > __bitArena.Length) __bitArena = new ulong[need];");
            w.Line("return __bitArena;");
            w.Close();
            w.Line();
        }
        w.Block(body.ToString());
        TraceMember(w);
        _cx.WriteMembers(w);
        w.Close();
        return w.ToString();
    }

    void EmitInfer(CodeWriter w)
    {
        var p = _plan.Infer;
        w.Open(EntryPoints.InferCore);
        w.Line("__Ensure(n, __InferArena);");
        w.Line("float[] A = __arena, P = __parameters.Values, S = __state;");
        BitArrays(w, p);
        CopyIn(w, p);
        EmitSteps(w, p);
        var o = p.Output;
        var ob = p.Buffers[o.Buffer];
        w.Line($"for (int b = 0; b < n; b++) global::System.MemoryExtensions.AsSpan(A, n * {ob.Offset} + {o.Shift} + b * {ob.PerSample}, __OutputSize).CopyTo(output.Slice(b * __OutputSize, __OutputSize));");
        w.Close();
        w.Line();
    }

    /// <summary>Whether the model has packed bit tensors or packed activations (a deploy model's binary layers).</summary>
    bool Bits => HasBits(_m) || _plan.Infer.BitArenaPerSample > 0 || _plan.Train.BitArenaPerSample > 0;

    /// <summary>B: the bit arena (packed activations); BP: the packed bit tensors of the store.</summary>
    void BitArrays(CodeWriter w, Program p)
    {
        if (!Bits) return;
        w.Line($"ulong[] B = __EnsureBits(n, {System.Math.Max(1, p.BitArenaPerSample)}), BP = {(HasBits(_m) ? "__parameters.Bits!.Words" : "global::System.Array.Empty<ulong>()")};");
    }

    void CopyIn(CodeWriter w, Program p)
    {
        if (_m.TakesTokens)
        {
            w.Line("if (__tokens.Length < n * __InputSize) __tokens = new int[n * __InputSize];");
            w.Line("tokens.Slice(0, n * __InputSize).CopyTo(__tokens);");
            return;
        }
        var ib = p.Buffers[p.Input.Buffer];
        w.Line($"input.Slice(0, n * __InputSize).CopyTo(global::System.MemoryExtensions.AsSpan(A, n * {ib.Offset}, n * __InputSize));");
    }

    void EmitTrain(CodeWriter w)
    {
        var p = _plan.Train;
        w.Open(EntryPoints.TrainCore);
        w.Line("__Ensure(n, __TrainArena);");
        w.Line("float[] A = __arena, P = __parameters.Values, G = __parameters.Grads, S = __state;");
        BitArrays(w, p);
        w.Line("ulong seed = DropoutSeed + 0x9E3779B97F4A7C15UL * ++__steps;");
        w.Line("global::System.Array.Clear(G);");
        w.Line($"{Rt}.StepResult result = default;");
        w.Line("if (__trace) global::System.Array.Clear(A, 0, n * __TrainArena);");
        CopyIn(w, p);
        TraceStart(w, p);
        EmitSteps(w, p);
        w.Line("return result;");
        w.Close();
        w.Line();
    }

    void EmitSteps(CodeWriter w, Program p)
    {
        _cx.Program = p;
        _cx.Writer = w;
        foreach (var s in p.Steps)
        {
            w.Line("// " + Describe(s));
            _cx.Step = s;
            s.Kernel.EmitCpu(_cx, s);
            if (p == _plan.Train) TraceCheck(w, p, s);
        }
    }

    // Tracing (IModel.TraceNonFinite): after each kernel of the training step, every arena region it touched and the
    // gradients must be finite; the first kernel that breaks that is the origin. The arena is cleared first, so what a
    // kernel leaves unwritten cannot be mistaken for its output. Ordinary steps pay one predictable branch per kernel.
    void TraceMember(CodeWriter w)
    {
        w.Open($"{Rt}.NonFiniteOrigin? {Rt}.IModel.TraceNonFinite(global::System.Func<{Rt}.StepResult> step)");
        w.Line("global::System.ArgumentNullException.ThrowIfNull(step);");
        w.Line("__trace = true;");
        w.Line("__origin = null;");
        w.Line("try { step(); }");
        w.Line("finally { __trace = false; }");
        w.Line("return __origin;");
        w.Close();
        w.Line();
    }

    void TraceStart(CodeWriter w, Program p)
    {
        if (_m.TakesTokens) return;
        var ib = p.Buffers[p.Input.Buffer];
        w.Line($"if (__trace && !{TraceNs}.Finite(A, (long)n * {ib.Offset} + {p.Input.Shift}, (long)n * __InputSize)) {{ __origin = new(\"Input\", \"\", \"the input batch\"); return result; }}");
    }

    void TraceCheck(CodeWriter w, Program p, Step s)
    {
        var regions = s.Operands().Select(r => r.Buffer).Distinct()
            .Select(b => $"{TraceNs}.Finite(A, (long)n * {p.Buffers[b].Offset}, (long)n * {p.Buffers[b].PerSample})")
            .Append($"{TraceNs}.Finite(G, 0, G.Length)");
        int k = p.Steps.IndexOf(s);
        string phase = p.LossStep < 0 || k <= p.LossStep ? "forward" : "backward";
        string op = s.Node?.Op ?? s.Kernel.Name, layer = s.Node?.Layer ?? "";
        string where = $"{phase} step {k + 1} of {p.Steps.Count} ({Describe(s)})";
        w.Line($"if (__trace && !({string.Join(" && ", regions)})) {{ __origin = new({Literal(op)}, {Literal(layer)}, {Literal(where)}); return result; }}");
    }

    const string TraceNs = "global::Authoring.Runtime.Training.NonFiniteTrace";
}
