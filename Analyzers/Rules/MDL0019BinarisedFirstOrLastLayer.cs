// MDL0019: a binary conv or linear layer as the network's first layer (its sign reads the model input) or last (its
// output is the logits, through nothing but reshapes, normalisation, pooling or activations). XNOR-Net, Bi-Real Net,
// ReActNet and Larq's zoo keep both real: the first layer sees few input channels (little to gain from bits, much
// information lost in binarising the image) and the last decides the classes. The catalog's MDL0019 (binary conv
// zero padding) does not apply here: BinaryConvKernel pads with exact zeros (its tap sums), so this id holds this rule.
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0019BinarisedFirstOrLastLayer : ModelRule
{
    public const string Id = "MDL0019";

    // {0}: layer, {1}: "first" or "last", {2}: the real layer to use
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Binarised first or last layer",
        "Binary layer '{0}' is the network's {1} layer: binary networks keep it real (use {2}), as XNOR-Net, Bi-Real Net and ReActNet do",
        DiagnosticSeverity.Warning,
        "The first layer sees the raw image and the last decides the classes; binarising either costs much accuracy for little speed.");

    public override DiagnosticDescriptor Descriptor => Rule;

    /// <summary>Ops that keep a value what it was for this rule's purpose (shape, scale, pooling).</summary>
    static bool Passive(Node n) => n.Op is OpKind.Reshape or OpKind.BatchNorm or OpKind.Activation or OpKind.GlobalAvgPool
        or OpKind.MaxPool or OpKind.AvgPool or OpKind.Dropout or OpKind.RPRelu;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in g.Nodes)
        {
            bool conv = n.Op == OpKind.BinaryConv2d;
            if (!conv && n.Op != OpKind.BinaryLinear) continue;
            string real = conv ? "Conv2d" : "Linear";
            // First: the sign's input is the model input, through passive ops only.
            var v = g.Input(g.Input(n));
            while (Passive(v) && v.Inputs.Count > 0) v = g.Input(v);
            if (v.Op == OpKind.Input) ctx.Report(Rule, ctx.Location(n), n.Layer, "first", real);
            // Last: the output reaches the logits through passive ops only.
            int id = n.Id;
            while (id != g.Output && g.Consumers(id).Count == 1 && Passive(g.Nodes[g.Consumers(id)[0]])) id = g.Consumers(id)[0];
            if (id == g.Output) ctx.Report(Rule, ctx.Location(n), n.Layer, "last", real);
        }
    }
}
