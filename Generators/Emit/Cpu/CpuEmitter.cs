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
        int perSample = System.Math.Max(_plan.Infer.ArenaPerSample, _plan.Train.ArenaPerSample);
        w.Line($"const int __InputSize = {inSize}, __OutputSize = {outSize}, __ArenaPerSample = {perSample}, __StateSize = {_plan.StateSize};");
        w.Line();
        ParameterTable(w, _m);
        w.Line($"readonly {Rt}.ParameterStore __parameters = new(ParameterInfos, 0);");
        w.Line("float[] __arena = global::System.Array.Empty<float>();");
        w.Line("int __capacity;");
        w.Line("readonly float[] __state = new float[__StateSize];");
        w.Line("ulong __steps;");
        w.Line();
        w.Line("/// <inheritdoc/>");
        w.Line($"public string Name => \"{_m.ClassName}\";");
        w.Line("/// <inheritdoc/>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> InputShape {{ get; }} = {Shape(_m.Nodes[0].Shape)};");
        w.Line("/// <inheritdoc/>");
        w.Line("public int InputSize => __InputSize;");
        w.Line("/// <inheritdoc/>");
        w.Line("public int OutputSize => __OutputSize;");
        w.Line("/// <inheritdoc/>");
        w.Line($"public {Rt}.ParameterStore Parameters => __parameters;");
        w.Line("/// <summary>Seed of the dropout masks; each training step draws fresh masks from it.</summary>");
        w.Line("public ulong DropoutSeed { get; set; } = 0x5EEDUL;");
        w.Line($"/// <summary>Floats per sample of the arena (activations and gradients of one step).</summary>");
        w.Line("public static int ArenaFloatsPerSample => __ArenaPerSample;");
        w.Line();
        foreach (var s in _cx.ShapeFields) w.Line(s);
        w.Line();
        w.Open("void __Ensure(int batch)");
        w.Line("if (batch <= 0) throw new global::System.ArgumentOutOfRangeException(nameof(batch), batch, \"Batch must be positive.\");");
        w.Open("if (batch > __capacity)");
        w.Line("// Grows only when a larger batch arrives: steady-state steps allocate nothing.");
        w.Line("__arena = global::System.GC.AllocateUninitializedArray<float>(checked(batch * __ArenaPerSample));");
        w.Line("__capacity = batch;");
        w.Close();
        w.Close();
        w.Line();
        w.Open("static void __CheckInput(global::System.ReadOnlySpan<float> input, int batch)");
        w.Line("if (input.Length < batch * __InputSize) throw new global::System.ArgumentException($\"Input holds {input.Length} floats; a batch of {batch} needs {batch * __InputSize}.\", nameof(input));");
        w.Close();
        w.Line();
        w.Block(body.ToString());
        _cx.WriteMembers(w);
        w.Close();
        return w.ToString();
    }

    void EmitInfer(CodeWriter w)
    {
        var p = _plan.Infer;
        w.Line("/// <inheritdoc/>");
        w.Open("public void Infer(global::System.ReadOnlySpan<float> input, int batch, global::System.Span<float> output)");
        w.Line("__CheckInput(input, batch);");
        w.Line("if (output.Length < batch * __OutputSize) throw new global::System.ArgumentException($\"Output holds {output.Length} floats; a batch of {batch} needs {batch * __OutputSize}.\", nameof(output));");
        w.Line("__Ensure(batch);");
        w.Line("int n = batch;");
        w.Line("float[] A = __arena, P = __parameters.Values, S = __state;");
        CopyIn(w, p);
        EmitSteps(w, p);
        var o = p.Output;
        var ob = p.Buffers[o.Buffer];
        w.Line($"for (int b = 0; b < n; b++) global::System.MemoryExtensions.AsSpan(A, n * {ob.Offset} + {o.Shift} + b * {ob.PerSample}, __OutputSize).CopyTo(output.Slice(b * __OutputSize, __OutputSize));");
        w.Close();
        w.Line();
    }

    static void CopyIn(CodeWriter w, Program p)
    {
        var ib = p.Buffers[p.Input.Buffer];
        w.Line($"input.Slice(0, n * __InputSize).CopyTo(global::System.MemoryExtensions.AsSpan(A, n * {ib.Offset}, n * __InputSize));");
    }

    void EmitTrain(CodeWriter w)
    {
        var p = _plan.Train;
        w.Line("/// <inheritdoc/>");
        w.Open($"public {Rt}.StepResult TrainStep(global::System.ReadOnlySpan<float> input, global::System.ReadOnlySpan<int> labels, int batch)");
        w.Line("__CheckInput(input, batch);");
        w.Line("if (labels.Length < batch) throw new global::System.ArgumentException($\"Labels hold {labels.Length} entries; the batch is {batch}.\", nameof(labels));");
        w.Line("for (int b = 0; b < batch; b++) if ((uint)labels[b] >= __OutputSize) throw new global::System.ArgumentOutOfRangeException(nameof(labels), labels[b], $\"Label of sample {b} is outside [0, {__OutputSize}).\");");
        w.Line("__Ensure(batch);");
        w.Line("int n = batch;");
        w.Line("float[] A = __arena, P = __parameters.Values, G = __parameters.Grads, S = __state;");
        w.Line("ulong seed = DropoutSeed + 0x9E3779B97F4A7C15UL * ++__steps;");
        w.Line("global::System.Array.Clear(G);");
        w.Line($"{Rt}.StepResult result = default;");
        CopyIn(w, p);
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
        }
    }
}
