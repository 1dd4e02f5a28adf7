// Emits the CPU SIMD backend: the model class implements IModel; each step becomes a call to a Runtime
// microkernel specialised by an activation functor, or a generated Vector512/Vector256 loop for fused
// element-wise trees. Shapes are constants; the arena is sized once per batch capacity.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit.Cpu;

internal sealed class CpuEmitter
{
    readonly Plan _plan;
    readonly ModelIr _m;
    readonly Dictionary<string, int> _off;
    readonly CodeWriter _w = new();
    readonly List<string> _shapes = new();
    readonly Dictionary<string, string> _shapeNames = new();
    readonly List<(Step Step, bool Train)> _eltSteps = new();

    CpuEmitter(Plan plan)
    {
        _plan = plan;
        _m = plan.Model;
        _off = Offsets(_m);
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
        w.Line("/// <inheritdoc/>");
        w.Line("public ulong TrainSteps { get => __steps; set => __steps = value; }");
        w.Line($"/// <summary>Floats per sample of the arena (activations and gradients of one step).</summary>");
        w.Line("public static int ArenaFloatsPerSample => __ArenaPerSample;");
        w.Line();
        foreach (var s in _shapes) w.Line(s);
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
        foreach (var (step, train) in _eltSteps) EltwiseCpu.Emit(w, _m, step, train);
        w.Close();
        return w.ToString();
    }

    string ShapeField(string type, string init)
    {
        string key = type + init;
        if (_shapeNames.TryGetValue(key, out var name)) return name;
        name = "__shape" + _shapeNames.Count;
        _shapeNames[key] = name;
        _shapes.Add($"static readonly {CpuNs}.{type} {name} = {init};");
        return name;
    }

    static string V(Program p, Ref r)
    {
        var b = p.Buffers[r.Buffer];
        string off = b.Offset == 0 ? "" : $"n * {b.Offset}";
        string shift = r.Shift == 0 ? "" : r.Shift.ToString();
        string o = off.Length == 0 && shift.Length == 0 ? "0" : off.Length == 0 ? shift : shift.Length == 0 ? off : off + " + " + shift;
        return $"new {CpuNs}.View(A, {o}, {b.PerSample})";
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
        foreach (var s in p.Steps) EmitStep(w, p, s);
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
        foreach (var s in p.Steps) EmitStep(w, p, s);
        w.Line("return result;");
        w.Close();
        w.Line();
    }

    int Off(string name) => _off[name];

    void EmitStep(CodeWriter w, Program p, Step s)
    {
        var node = s.Node;
        string acc = s.Accumulate ? "true" : "false";
        w.Line("// " + Describe(s));
        switch (s.Kind)
        {
            case StepKind.Conv:
            case StepKind.Linear:
                {
                    bool conv = s.Kind == StepKind.Conv;
                    var cn = node!;
                    int cout = conv ? new ConvAttrs(cn).Cout : cn.Ints[1];
                    bool bias = cn.Ints[conv ? 11 : 2] != 0;
                    string epi = s.Bn is not null ? $"S, {s.State}, S, {s.State + cout}"
                        : bias ? $"null, 0, P, {Off(cn.Layer + ".bias")}" : "null, 0, null, 0";
                    string w0 = $"P, {Off(cn.Layer + ".weight")}";
                    if (conv)
                        w.Line($"{CpuNs}.Conv2dKernel.Forward<{Act(s.Act)}>(in {ShapeField("Conv2dShape", ConvShape(_m, cn))}, n, {V(p, s.Io[0])}, {w0}, {epi}, {V(p, s.Io[1])});");
                    else
                        w.Line($"{CpuNs}.LinearKernel.Forward<{Act(s.Act)}>(n, {cn.Ints[0]}, {cn.Ints[1]}, {V(p, s.Io[0])}, {w0}, {epi}, {V(p, s.Io[1])});");
                    break;
                }
            case StepKind.ConvBackData:
                w.Line($"{CpuNs}.Conv2dKernel.BackwardData(in {ShapeField("Conv2dShape", ConvShape(_m, node!))}, n, {V(p, s.Io[0])}, P, {Off(node!.Layer + ".weight")}, {V(p, s.Io[1])}, {acc});");
                break;
            case StepKind.ConvBackWeights:
                w.Line($"{CpuNs}.Conv2dKernel.BackwardWeights(in {ShapeField("Conv2dShape", ConvShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])}, G, {Off(node!.Layer + ".weight")});");
                break;
            case StepKind.LinearBackData:
                w.Line($"{CpuNs}.LinearKernel.BackwardData(n, {node!.Ints[0]}, {node.Ints[1]}, {V(p, s.Io[0])}, P, {Off(node.Layer + ".weight")}, {V(p, s.Io[1])}, {acc});");
                break;
            case StepKind.LinearBackWeights:
                w.Line($"{CpuNs}.LinearKernel.BackwardWeights(n, {node!.Ints[0]}, {node.Ints[1]}, {V(p, s.Io[0])}, {V(p, s.Io[1])}, G, {Off(node.Layer + ".weight")});");
                break;
            case StepKind.BiasGrad:
                {
                    var outNode = node!;
                    w.Line($"{CpuNs}.ChannelKernel.BiasGrad(n, {outNode.Channels}, {outNode.Spatial}, {V(p, s.Io[0])}, G, {Off(node!.Layer + ".bias")});");
                    break;
                }
            case StepKind.BnFold:
                {
                    string l = node!.Layer;
                    var producer = s.Bn;
                    bool bias = producer is not null && producer.Ints[producer.Op == OpKind.Conv2d ? 11 : 2] != 0;
                    string b = bias ? $"P, {Off(producer!.Layer + ".bias")}" : "null, 0";
                    w.Line($"{CpuNs}.BatchNormKernel.FoldEval({node.Channels}, P, {Off(l + ".weight")}, {Off(l + ".bias")}, {Off(l + ".running_mean")}, {Off(l + ".running_var")}, {F(node.F0)}, {b}, S, {s.State}, S, {s.State + node.Channels});");
                    break;
                }
            case StepKind.BnAffine:
                w.Line($"{CpuNs}.BatchNormKernel.Affine<{Act(s.Act)}>(n, {node!.Channels}, {node.Spatial}, {V(p, s.Io[0])}, S, {s.State}, S, {s.State + node.Channels}, {V(p, s.Io[1])});");
                break;
            case StepKind.BnTrain:
                {
                    string l = node!.Layer;
                    w.Line($"{CpuNs}.BatchNormKernel.ForwardTrain<{Act(s.Act)}>(n, {node.Channels}, {node.Spatial}, {V(p, s.Io[0])}, P, {Off(l + ".weight")}, {Off(l + ".bias")}, {Off(l + ".running_mean")}, {Off(l + ".running_var")}, {F(node.F1)}, {F(node.F0)}, S, {s.State}, {V(p, s.Io[1])});");
                    break;
                }
            case StepKind.BnBackTrain:
                {
                    string l = node!.Layer;
                    w.Line($"{CpuNs}.BatchNormKernel.BackwardTrain<{Act(s.Act)}>(n, {node.Channels}, {node.Spatial}, {V(p, s.Io[0])}, {V(p, s.Io[1])}, P, {Off(l + ".weight")}, {Off(l + ".bias")}, S, {s.State}, {V(p, s.Io[2])}, {acc}, G, {Off(l + ".weight")}, {Off(l + ".bias")});");
                    break;
                }
            case StepKind.MaxPool:
                w.Line($"{CpuNs}.PoolKernel.MaxForward(in {ShapeField("Pool2dShape", PoolShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])});");
                break;
            case StepKind.MaxPoolBack:
                w.Line($"{CpuNs}.PoolKernel.MaxBackward(in {ShapeField("Pool2dShape", PoolShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {V(p, s.Io[2])}, {acc});");
                break;
            case StepKind.AvgPool:
                w.Line($"{CpuNs}.PoolKernel.AvgForward(in {ShapeField("Pool2dShape", PoolShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])});");
                break;
            case StepKind.AvgPoolBack:
                w.Line($"{CpuNs}.PoolKernel.AvgBackward(in {ShapeField("Pool2dShape", PoolShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {acc});");
                break;
            case StepKind.Gap:
                {
                    var x = _m.Nodes[node!.Inputs[0]];
                    w.Line($"{CpuNs}.PoolKernel.GlobalAvgForward(n, {x.Channels}, {x.Spatial}, {V(p, s.Io[0])}, {V(p, s.Io[1])});");
                    break;
                }
            case StepKind.GapBack:
                {
                    var x = _m.Nodes[node!.Inputs[0]];
                    w.Line($"{CpuNs}.PoolKernel.GlobalAvgBackward(n, {x.Channels}, {x.Spatial}, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {acc});");
                    break;
                }
            case StepKind.Upsample:
                w.Line($"{CpuNs}.UpsampleKernel.NearestForward(in {ShapeField("UpsampleShape", UpsampleShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])});");
                break;
            case StepKind.UpsampleBack:
                w.Line($"{CpuNs}.UpsampleKernel.NearestBackward(in {ShapeField("UpsampleShape", UpsampleShape(_m, node!))}, n, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {acc});");
                break;
            case StepKind.Dropout:
                w.Line($"{CpuNs}.DropoutKernel.Forward(n, {node!.Size}, {F(node.F0)}, seed + {node.Id}UL, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {V(p, s.Io[2])});");
                break;
            case StepKind.DropoutBack:
                w.Line($"{CpuNs}.ElementwiseKernel.MultiplyInto(n, {s.Size}, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {V(p, s.Io[2])}, {acc});");
                break;
            case StepKind.Copy:
                w.Line($"{CpuNs}.ChannelKernel.Copy(n, {s.Size}, {V(p, s.Io[0])}, {V(p, s.Io[1])}, {acc});");
                break;
            case StepKind.Clear:
                {
                    var b = p.Buffers[s.Io[0].Buffer];
                    w.Line($"global::System.Array.Clear(A, n * {b.Offset}, n * {b.PerSample});");
                    break;
                }
            case StepKind.Loss:
                w.Line($"result = {CpuNs}.LossKernel.SoftmaxCrossEntropy(n, {node!.Size}, {V(p, s.Io[0])}, labels, {V(p, s.Io[1])});");
                break;
            case StepKind.Eltwise:
            case StepKind.EltwiseBack:
                {
                    string name = EltwiseCpu.MethodName(s, p == _plan.Train);
                    var args = new List<string> { "n" };
                    args.AddRange(s.Io.Select(r => V(p, r)));
                    if (s.LeafGrads is not null)
                        foreach (var g in s.LeafGrads) if (g is { } gr) args.Add(V(p, gr));
                    w.Line($"{name}({string.Join(", ", args)});");
                    _eltSteps.Add((s, p == _plan.Train));
                    break;
                }
        }
    }
}
