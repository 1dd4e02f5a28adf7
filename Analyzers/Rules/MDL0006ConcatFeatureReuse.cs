// MDL0006: Ghost-style Concat(x, f(x)): concatenating a tensor with something computed from it costs
// memory traffic with no FLOPs (RepGhost); ShuffleNet V2 prefers concat to add, hence only Info.
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0006ConcatFeatureReuse : ModelRule
{
    public const string Id = "MDL0006";

    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Concat used for feature reuse",
        "Concat joins a tensor with a value computed from it: the copy costs memory traffic; RepGhost replaces it with an Add and a re-parameterized branch",
        DiagnosticSeverity.Info,
        "Concatenation has no FLOPs but moves every element; RepGhost re-parameterizes the Ghost module's concat into an add.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in ctx.Nodes(OpKind.Concat))
        {
            // A GhostModule block: the user chose the Ghost design (RepGhostModule is its own block), and the
            // generated code writes both halves into one buffer, so there is no copy to point at.
            if (ctx.FromBlock(n)) continue;
            bool reuse = false;
            for (int i = 0; i < n.Inputs.Count && !reuse; i++)
                for (int j = 0; j < n.Inputs.Count && !reuse; j++)
                    reuse = i != j && n.Inputs[i] != n.Inputs[j] && g.DependsOn(n.Inputs[j], n.Inputs[i]);
            if (reuse) ctx.Report(Rule, ctx.Location(n));
        }
    }
}
