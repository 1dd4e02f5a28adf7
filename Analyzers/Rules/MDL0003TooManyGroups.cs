// MDL0003: a grouped (not depthwise) convolution with many groups: memory access cost rises with the
// group count at equal FLOPs (ShuffleNet V2, guideline G2).
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0003TooManyGroups : ModelRule
{
    public const string Id = "MDL0003";

    // {0}: layer, {1}: groups, {2}: threshold
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Too many convolution groups",
        "'{0}' uses {1} groups (threshold {2}): memory access cost grows with the group count at equal FLOPs",
        DiagnosticSeverity.Warning,
        "Group convolution lowers FLOPs but raises memory access cost per FLOP (ShuffleNet V2, G2).");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Nodes(OpKind.Conv2d))
        {
            var c = new ConvAttrs(n);
            if (c.Groups < ctx.Profile.GroupsThreshold || c.Groups >= c.Cin || ModelGraph.IsDepthwise(n)) continue;
            var site = ctx.Layer(n);
            if (site is null || site.TypeName != "Conv2d") continue;
            var lit = site.LiteralLocation("groups");
            ctx.Report(Rule, site.LocationOf("groups"), lit is null ? null : new[] { lit },
                lit is null ? null : ImmutableDictionary<string, string?>.Empty.Add(FixProperties.Replacements, "1")
                    .Add(FixProperties.Title, "Use a dense convolution (groups: 1)"),
                n.Layer, c.Groups, ctx.Profile.GroupsThreshold);
        }
    }
}
