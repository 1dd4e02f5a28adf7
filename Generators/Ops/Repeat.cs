// Repeat(x, T): direct encoding, (...) to (T, ...) with x copied to every step (SpikingJelly's
// x.unsqueeze(0).repeat(T, ...)); backward sums the steps. Kernels: SpikeEncoding.Repeat*, GpuKernels.SpikeRepeat*.
// When per-step layers lead from a Repeat to a neuron, StaticTime removes the copies altogether.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Repeat = "Repeat";
}

/// <summary>Repeat attributes: Ints [steps].</summary>
internal sealed class RepeatOp : OpDef
{
    public override string Name => OpKind.Repeat;

    public override IEnumerable<string> OpsMethods => new[] { "Repeat" };

    /// <summary>(...) to (steps, ...); x of at most three axes, so that the result has at most four.</summary>
    public static (int[]? Shape, string? Error) Shape(int[] x, int steps, string what)
    {
        if (x.Length > 3) return (null, $"{what} adds a time axis, and {OpRules.Format(x)} already has four axes (the most a value has)");
        var shape = new int[x.Length + 1];
        shape[0] = steps;
        long size = steps;
        for (int i = 0; i < x.Length; i++) size *= shape[i + 1] = x[i];
        if (size > int.MaxValue) return (null, $"the result has more than {int.MaxValue} elements per sample");
        return (shape, null);
    }

    /// <summary>Reads (x, steps) of Repeat or Poisson; -1 after a diagnostic.</summary>
    public static int Bind(ModelParser p, OpCall call, string op)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        int? steps = call.Int(1);
        if (steps is null) return -1;
        if (steps < 1)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, call.ArgLocation(1), call.Name, $"steps must be at least 1, got {steps}");
            return -1;
        }
        return p.Shaped(op, call.Name, new[] { x }, Shape(p.ShapeOf(x), steps.Value, call.Name), new[] { steps.Value }, 0, 0, "", call.Location);
    }

    public override int BindCall(ModelParser p, OpCall call) => Bind(p, call, Name);

    /// <summary>A time axis of length 1 after the batch, tiled to the steps.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        var repeats = new long[n.Shape.Count + 1];
        for (int i = 0; i < repeats.Length; i++) repeats[i] = 1;
        repeats[1] = n.Ints[0];
        var unit = n.Shape.ToArray();
        unit[0] = 1;
        return $"b.Tile(b.ReshapeSamples({o.In(n, 0)}, {OnnxContext.Ints(unit)}), {OnnxContext.Longs(repeats)})";
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), cx.Grad(x)), 1);
    }

    static string Dims(Node n) => $"{n.Shape[0]}, {n.Size / n.Shape[0]}";

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Repeat",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Spiking.SpikeEncoding.RepeatForward(n, {Dims(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.SpikeRepeatForward(n, {Dims(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = new("RepeatBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Spiking.SpikeEncoding.RepeatBackward(n, {Dims(s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.SpikeRepeatBackward(n, {Dims(s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}
