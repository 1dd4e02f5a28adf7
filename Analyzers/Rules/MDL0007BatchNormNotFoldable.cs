// MDL0007: a BatchNorm that inference tools cannot fold into weights: its input is not a Conv/Linear
// used only by it (a binary conv or linear counts: its packed kernel's epilogue takes the BatchNorm's scale and
// shift). BatchNorms inside a re-parameterizable multi-branch block are left to MDL0005. The RepBN of a PRepBN
// (TransformerBlock norm "prepbn") whose mix feeds one linear layer folds forward into it (the deploy pass's
// W diag(s + alpha), b + W t), so it is foldable too.
using System.Collections.Immutable;
using System.Linq;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0007BatchNormNotFoldable : ModelRule
{
    public const string Id = "MDL0007";

    // {0}: layer, {1}: what it follows
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "BatchNorm cannot be folded",
        "'{0}' follows {1}, so it cannot be folded into a convolution's or linear layer's weights at inference",
        DiagnosticSeverity.Warning,
        "Inference tools fold BatchNorm into the weights of a Conv or Linear directly before it, and only in that order.");

    public override DiagnosticDescriptor Descriptor => Rule;

    static bool Foldable(Node n) => n.Op is OpKind.Conv2d or OpKind.Linear or OpKind.BinaryConv2d or OpKind.BinaryLinear;

    static bool FoldsForward(ModelGraph g, Node bn)
    {
        if (!g.SingleConsumer(bn.Id)) return false;
        var mix = g.Nodes[g.Consumers(bn.Id)[0]];
        return mix.Op == OpKind.PRepBNMix && g.SingleConsumer(mix.Id) && g.Nodes[g.Consumers(mix.Id)[0]].Op == OpKind.Linear;
    }

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var bn in ctx.Nodes(OpKind.BatchNorm))
        {
            if (g.RepBlocks.Any(b => b.Members.Contains(bn.Id))) continue;
            var p = g.Input(bn);
            if (Foldable(p) && g.SingleConsumer(p.Id)) continue;
            if (FoldsForward(g, bn)) continue;
            string what = p.Op switch
            {
                _ when Foldable(p) => $"'{p.Layer}', whose output is also used elsewhere",
                OpKind.Activation => $"an activation ({(ActKind)p.Ints[0]})",
                OpKind.Input => "the model input",
                _ => $"a {p.Op} op",
            };
            bool swap = p.Op == OpKind.Activation && g.SingleConsumer(p.Id) && g.Input(p) is var q
                && Foldable(q) && g.SingleConsumer(q.Id);
            ctx.Report(Rule, ctx.Location(bn), null,
                swap ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.SwapWithActivation, "true") : null,
                bn.Layer, what);
        }
    }
}
