// MDL0005: in a deploy build, parallel linear branches (kxk conv+BN, 1x1 conv+BN, identity BN) summed
// before a nonlinearity: they fold into one kxk convolution (RepVGG, MobileOne). Only reported when the
// build says it targets deployment (authoring_deploy / AuthoringDeploy), since training needs the branches.
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0005MultiBranchNotCollapsed : ModelRule
{
    public const string Id = "MDL0005";

    // {0}: branches
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Multi-branch block not collapsed for deploy",
        "{0} parallel linear branches are summed here in a deploy build: ship the generated deploy model (model.ToDeploy()), which runs them as one convolution",
        DiagnosticSeverity.Warning,
        "RepVGG and MobileOne train with parallel conv+BN branches and fold them into one convolution for inference.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        if (!ctx.Deploy) return;
        foreach (var b in ctx.Graph.RepBlocks)
            ctx.Report(Rule, ctx.Location(ctx.Graph.Nodes[b.Root]), b.Branches);
    }
}
