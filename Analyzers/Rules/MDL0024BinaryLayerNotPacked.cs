// MDL0024: a binary layer the deploy pass cannot pack (Generators/Passes/Deploy.Binary.cs, Deploy.WhyNotPacked): its
// deploy model keeps the float binarised layer (fp32 kernels on alpha sign(w)), so neither the 32x smaller weights nor
// the XNOR-popcount speed reach deployment. Today that is a binary conv over (T, C, H, W) values (leading axes).
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ops;
using Authoring.Generators.Passes;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0024BinaryLayerNotPacked : ModelRule
{
    public const string Id = "MDL0024";

    // {0}: layer, {1}: why
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Binary layer not packed for deployment",
        "Binary layer '{0}' is not packed to bits in the deploy model ({1}): it runs as fp32 convolutions on its binarised weights there",
        DiagnosticSeverity.Warning,
        "ToDeploy packs binary layers to 1 bit per weight with XNOR-popcount kernels when each sample is one (C, H, W) or (F) value; apply the layer per time step (fold the time axis into the batch) to deploy it packed.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in g.Nodes)
        {
            if (n.Op is not (OpKind.BinaryConv2d or OpKind.BinaryLinear)) continue;
            var sign = g.Input(n);
            if (!SignOp.IsSign(sign)) continue; // AUT0016's case
            if (Deploy.WhyNotPacked(n, sign) is { } why) ctx.Report(Rule, ctx.Location(n), n.Layer, why);
        }
    }
}
