// MeanOverTime(x): the readout of a spiking network, (T, ...) to (...), the mean over the time axis (SpikingJelly's
// out_fr = x_seq.mean(0)). Kernels: SpikeEncoding.Mean*, GpuKernels.SpikeMean*.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string MeanOverTime = "MeanOverTime";
}

internal sealed class MeanOverTimeOp : OpDef
{
    public override string Name => OpKind.MeanOverTime;

    public override IEnumerable<string> OpsMethods => new[] { "MeanOverTime" };

    public override int BindCall(ModelParser p, OpCall call)
    {
        int x = call.Tensor(0);
        if (x < 0) return -1;
        var shape = p.ShapeOf(x);
        if (!TimeAxis.Has(p, x))
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, call.Location, "MeanOverTime", TimeAxis.Missing("MeanOverTime", shape));
            return -1;
        }
        return p.AddNode(Name, new[] { x }, shape.Skip(1).ToArray(), System.Array.Empty<int>(), 0, 0, "", call.Location);
    }

    /// <summary>The mean over the time axis (axis 1, after the batch), which is dropped.</summary>
    public override string? Onnx(OnnxContext o, Node n) => $"b.ReduceMean({o.In(n, 0)}, new int[] {{ 1 }}, keepDims: false)";

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), cx.Grad(x)), 1);
    }

    static string Dims(EmitContext c, Node n)
    {
        var x = c.Model.Nodes[n.Inputs[0]];
        return $"{x.Shape[0]}, {n.Size}";
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("MeanOverTime",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Spiking.SpikeEncoding.MeanForward(n, {Dims(c, s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.SpikeMeanForward(n, {Dims(g, s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dy, dx.</summary>
    static readonly Kernel Back = new("MeanOverTimeBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Spiking.SpikeEncoding.MeanBackward(n, {Dims(c, s.Node!)}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {EmitContext.Acc(s)});"),
        (g, s) => g.Line($"__k.SpikeMeanBackward(n, {Dims(g, s.Node!)}, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {EmitContext.Acc(s)});"));
}
