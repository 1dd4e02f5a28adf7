// Token ids as a model input, and the Embedding layer that reads them: PyTorch's nn.Embedding (weight
// [vocabulary, dim], N(0, 1) init). Ids live outside the float arena (the entry points check them against the
// vocabulary and stage them); the weight gradient is scattered into the rows the batch used.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Tokens = "Tokens";
    public const string Embedding = "Embedding";
}

/// <summary>The input of a model over token ids: shape (N), no float storage of its own.</summary>
internal sealed class TokensOp : OpDef
{
    public override string Name => OpKind.Tokens;

    public override void Lower(Lowering cx, Node n)
    {
        // Staged by the entry points (int ids); only an Embedding reads it.
    }

    /// <summary>ONNX's Gather takes int64 indices: the ids are an int64 input.</summary>
    public override string? Onnx(OnnxContext o, Node n) => $"b.Int64Input(\"input\", {string.Join(", ", n.Shape)})";
}

/// <summary>Embedding attributes: [vocabulary, dim].</summary>
internal sealed class EmbeddingOp : OpDef
{
    public override string Name => OpKind.Embedding;

    public override OpTraits Traits => OpTraits.Parameters;

    public override IEnumerable<string> LayerTypes => new[] { "Embedding" };

    public override int BindLayer(ModelParser p, LayerDecl layer, int x, LocationInfo? loc)
    {
        string what = $"{layer.Name} ({layer.Kind})";
        int vocab = layer.Int("vocabulary"), dim = layer.Int("dim");
        if (vocab <= 0 || dim <= 0)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf(vocab <= 0 ? "vocabulary" : "dim"), what, "vocabulary and dim must be positive");
            return -1;
        }
        if ((long)vocab * dim > int.MaxValue)
        {
            p.Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, $"the weight [{vocab}, {dim}] has more than {int.MaxValue} elements");
            return -1;
        }
        var xn = p.NodeAt(x);
        if (xn.Op != OpKind.Tokens)
        {
            p.Report(DiagnosticDescriptors.ShapeMismatch, loc, what, "reads token ids: pass the model's Tokens input, not a float tensor");
            return -1;
        }
        int id = p.Shaped(Name, what, new[] { x }, WithLeading(xn.Shape.ToArray(), 0, new long[] { dim }), new[] { vocab, dim }, 0, 0, layer.Name, loc);
        if (id < 0) return -1;
        p.AddParam(new ParamSpec(layer.Name + ".weight", new[] { vocab, dim }.ToEquatableArray(), "Weight", "StandardNormal", dim, vocab));
        return id;
    }

    public override void Lower(Lowering cx, Node n) => cx.Add(new Step(Forward, n, cx.Value(n.Id)) { Owner = this });

    /// <summary>Rows of the weight picked by the ids: Gather(weight, ids, axis 0), (batch, N) to (batch, N, dim).</summary>
    public override string? Onnx(OnnxContext o, Node n) => $"b.Gather(b.Parameter(p, {OnnxContext.Str(n.Layer + ".weight")}), {o.In(n, 0)}, 0)";

    public override void Backward(Autodiff cx, Step f) => cx.Add(new Step(Back, f.Node, cx.Grad(f.Node!.Id)));

    static int Seq(EmitContext c, Node n) => c.Model.Nodes[n.Inputs[0]].Size;

    /// <summary>Io: y. Reads the staged ids.</summary>
    static readonly Kernel Forward = new("Embedding",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.EmbeddingKernel.Forward(n, {Seq(c, s.Node!)}, {s.Node!.Ints[1]}, __tokens, {c.Param(s.Node.Layer + ".weight")}, {c.V(s.Io[0])});"),
        (g, s) => g.Line($"__k.EmbeddingForward(n, {Seq(g, s.Node!)}, {s.Node!.Ints[1]}, __tokens!.View.SubView(0, n * {Seq(g, s.Node)}), {g.Param(s.Node.Layer + ".weight")}, {g.V(s.Io[0])});"));

    /// <summary>Io: dy. Adds into the weight gradient's rows of the batch's ids.</summary>
    static readonly Kernel Back = new("EmbeddingBack",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.EmbeddingKernel.Backward(n, {Seq(c, s.Node!)}, {s.Node!.Ints[1]}, __tokens, {c.V(s.Io[0])}, {c.Grad(s.Node.Layer + ".weight")});"),
        (g, s) => g.Line($"__k.EmbeddingBackward(n, {Seq(g, s.Node!)}, {s.Node!.Ints[1]}, {s.Node.Ints[0]}, __tokens!.View.SubView(0, n * {Seq(g, s.Node)}), {g.V(s.Io[0])}, {g.Grad(s.Node.Layer + ".weight")});"));
}
