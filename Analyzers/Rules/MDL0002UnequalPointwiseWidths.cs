// MDL0002: a 1x1 convolution whose output/input width ratio is far from 1: for fixed FLOPs, memory
// access cost is lowest when a 1x1 conv keeps its width (ShuffleNet V2, guideline G1). G1 weighs the feature
// maps read and written (h * w * (c1 + c2)) against the weights; on a 1x1 map (a squeeze-excite gate) there is no
// map to speak of, so SE's reduce/expand convs are not flagged. Not reported inside library blocks, whose 1x1 widths
// are their design (a Ghost module's narrow primary conv).
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0002UnequalPointwiseWidths : ModelRule
{
    public const string Id = "MDL0002";

    // {0}: layer, {1}: in, {2}: out, {3}: ratio threshold
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Unequal 1x1 convolution widths",
        "1x1 convolution '{0}' maps {1} to {2} channels (ratio {3} or more): equal widths minimise memory access for the same FLOPs",
        DiagnosticSeverity.Info,
        "ShuffleNet V2 guideline G1: a 1x1 convolution's memory access cost is lowest when input and output widths are equal.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Nodes(OpKind.Conv2d))
        {
            var c = new ConvAttrs(n);
            if (c.Kh != 1 || c.Kw != 1 || c.Groups != 1 || ctx.Graph.Input(n).Spatial == 1) continue;
            int lo = System.Math.Min(c.Cin, c.Cout), hi = System.Math.Max(c.Cin, c.Cout);
            if (hi < ctx.Profile.WidthRatio * lo) continue;
            var site = ctx.Layer(n);
            // Inside a library block the widths are its reference design's: a Ghost module's primary conv makes
            // outChannels / ratio channels by design (the cheap op makes the rest), the very trade G1 weighs.
            if (site is null || site.InBlock) continue;
            ctx.Report(Rule, site.Creation.GetLocation(), n.Layer, c.Cin, c.Cout, ctx.Profile.WidthRatio);
        }
    }
}
