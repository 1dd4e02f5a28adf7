// Dropout(p): in training zeroes elements with probability p and scales the rest by 1/(1-p), with masks drawn
// from the step's seed (the same masks on both backends); in evaluation a view of its input.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Emit.Gpu;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Dropout = "Dropout";
}

/// <summary>Dropout attributes: F0 = p.</summary>
internal sealed class DropoutOp : OpDef
{
    public override string Name => OpKind.Dropout;

    public override IEnumerable<string> LayerTypes => new[] { "Dropout" };

    public override bool LayerIsStateless => true;

    public override bool IsView(Node n, bool train) => !train;

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        float prob = layer.Float("p");
        if (!(prob >= 0 && prob < 1))
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf("p"), $"{layer.Name} ({layer.Kind})", "p must be in [0, 1)");
            return -1;
        }
        return p.AddNode(Name, new[] { x }, p.ShapeOf(x), System.Array.Empty<int>(), prob, 0, layer.Name, loc);
    }

    /// <summary>The identity in evaluation: no node.</summary>
    public override string? Onnx(OnnxContext o, Node n) => o.In(n, 0);

    public override void Lower(Lowering cx, Node n)
    {
        var mask = cx.NewBuffer(n.Size, "mask " + Storage.Label(n), pinned: true);
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), mask, cx.Value(n.Id)) { Owner = this });
    }

    public override void Backward(Autodiff cx, Step f)
    {
        var n = f.Node!;
        int x = n.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(Back, n, cx.Grad(n.Id), f.Io[1], cx.Grad(x)) { Size = n.Size }, 2);
    }

    /// <summary>Io: x, mask (written: 0 or 1/(1-p)), y.</summary>
    static readonly Kernel Forward = new("Dropout",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.DropoutKernel.Forward(n, {s.Node!.Size}, {EmitCommon.F(s.Node.F0)}, seed + {s.Node.Id}UL, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])});"),
        (g, s) => g.Line($"__k.DropoutForward(n, {s.Node!.Size}, {EmitCommon.F(s.Node.F0)}, seed + {s.Node.Id}UL, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])});"));

    /// <summary>Io: dy, mask, dx.</summary>
    static readonly Kernel Back = new("DropoutBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.ElementwiseKernel.MultiplyInto(n, {s.Size}, {c.V(s.Io[0])}, {c.V(s.Io[1])}, {c.V(s.Io[2])}, {EmitContext.Acc(s)});"),
        (g, s) =>
        {
            // A generated kernel: dx = dy * mask per element.
            string name = "__GpuDropoutBack" + (g.Train ? "T" : "I") + s.Index;
            g.Line($"{name}(n, {g.V(s.Io[0])}, {g.V(s.Io[1])}, {g.V(s.Io[2])});");
            string op = s.Accumulate ? "+=" : "=";
            g.Member(name, w => GpuElementwiseKernel.Write(w, name, new[] { "dy", "mask", "dx" }, $"n * {s.Size}",
                $"int b = i / {s.Size}, r = i - b * {s.Size};\n" +
                $"a.dx.Data[a.dx.At(b) + r] {op} a.dy.Data[a.dy.At(b) + r] * a.mask.Data[a.mask.At(b) + r];"));
        });
}
