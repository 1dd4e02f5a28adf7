// MDL0013: two or more adjacent Reshape/Flatten ops: each is a real copy on GPUs/NPUs, and a chain
// can always be merged into one (or none, when it ends at the shape it started from).
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0013ReshapeChain : ModelRule
{
    public const string Id = "MDL0013";

    // {0}: count, {1}: what to do
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Reshape chain",
        "{0} adjacent reshapes: {1}",
        DiagnosticSeverity.Warning,
        "Reshapes and transposes can be real memory copies on GPU and NPU delegates; merge adjacent ones and cancel inverse pairs.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in ctx.Nodes(OpKind.Reshape))
        {
            // Report once per chain, at its last reshape.
            if (g.SingleConsumer(n.Id) && g.Nodes[g.Consumers(n.Id)[0]].Op == OpKind.Reshape) continue;
            int count = 1;
            var src = g.Input(n);
            bool nested = true;
            var outer = n.Location;
            var cur = n;
            while (src.Op == OpKind.Reshape && g.SingleConsumer(src.Id))
            {
                count++;
                nested &= src.Location is not null && cur.Location is not null && src.Location.FilePath == cur.Location.FilePath
                    && cur.Location.Span.Contains(src.Location.Span);
                cur = src;
                src = g.Input(src);
            }
            if (count < 2) continue;
            bool cancel = OpRules.Same(n.Shape, src.Shape);
            ctx.Report(Rule, ctx.Location(n), null,
                nested && outer is not null ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.ReshapeChain, cancel ? "cancel" : "collapse") : null,
                count, cancel ? "together they restore the input shape, so remove them" : "merge them into one");
        }
    }
}
