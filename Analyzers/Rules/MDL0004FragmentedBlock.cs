// MDL0004: one tensor feeding many parallel branches (convolutions, pools, linear layers): network
// fragmentation reduces parallelism and adds launch and synchronisation overhead (ShuffleNet V2, G3).
// Re-parameterizable multi-branch blocks are left to MDL0005.
using System.Linq;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0004FragmentedBlock : ModelRule
{
    public const string Id = "MDL0004";

    // {0}: branches, {1}: threshold, {2}: profile
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Fragmented block",
        "This value feeds {0} parallel branches ({1} or more on {2}): fragmentation reduces parallelism; merge branches",
        DiagnosticSeverity.Warning,
        "ShuffleNet V2 guideline G3: many small parallel ops are slower than one larger op with the same FLOPs, most of all on GPUs.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in g.Nodes)
        {
            int branches = g.Consumers(n.Id).Count(c => g.Nodes[c].Op is OpKind.Conv2d or OpKind.Linear or OpKind.MaxPool or OpKind.AvgPool);
            if (branches < ctx.Profile.FragmentThreshold) continue;
            if (g.RepBlocks.Any(b => b.Fork == n.Id)) continue; // MDL0005's problem
            ctx.Report(Rule, ctx.Location(n), branches, ctx.Profile.FragmentThreshold, ctx.Profile.Name);
        }
    }
}
