// MDL0012: a depthwise convolution with a large kernel: few FLOPs but heavy memory access, so it
// runs far below peak (InceptionNeXt measured ConvNeXt's 7x7 depthwise on A100).
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0012LargeDepthwiseKernel : ModelRule
{
    public const string Id = "MDL0012";

    // {0}: layer, {1}: kernel, {2}: threshold
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Large-kernel depthwise convolution",
        "Depthwise '{0}' uses a {1}x{1} kernel (threshold {2}): memory-bound, with few FLOPs per byte",
        DiagnosticSeverity.Warning,
        "Large-kernel depthwise convolutions are memory-bound; InceptionNeXt splits them into 3x3, 1xk and kx1 branches.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Nodes(OpKind.Conv2d))
        {
            var c = new ConvAttrs(n);
            if (!ModelGraph.IsDepthwise(n) || c.Kh < ctx.Profile.DepthwiseKernel) continue;
            var site = ctx.Layer(n);
            if (site is null) continue;
            // Fix: kernel 3 with padding = dilation keeps a "same"-padded output shape exactly.
            var kernel = site.LiteralLocation("kernel");
            var padding = site.LiteralLocation("padding");
            bool fixable = kernel is not null && padding is not null && c.Kh % 2 == 1 && c.Ph == c.Dh * (c.Kh - 1) / 2;
            ctx.Report(Rule, site.LocationOf("kernel"), fixable ? new[] { kernel!, padding! } : null,
                fixable ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.Replacements, "3;" + c.Dh)
                    .Add(FixProperties.Title, $"Use a 3x3 kernel (padding {c.Dh}, same output shape)") : null,
                n.Layer, c.Kh, ctx.Profile.DepthwiseKernel);
        }
    }
}
