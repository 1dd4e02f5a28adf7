// MDL0012: a depthwise convolution with a large kernel: few FLOPs but heavy memory access, so it
// runs far below peak (InceptionNeXt measured ConvNeXt's 7x7 depthwise on A100). Kernels are measured
// by their taps against the threshold's square, so band kernels (1x11, 5x1), which InceptionNeXt and
// GhostNetV2 use as the cheap decomposition, are not flagged.
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0012LargeDepthwiseKernel : ModelRule
{
    public const string Id = "MDL0012";

    // {0}: layer, {1}: kernel height, {2}: kernel width, {3}: threshold
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Large-kernel depthwise convolution",
        "Depthwise '{0}' uses a {1}x{2} kernel (threshold {3}x{3} taps): memory-bound, with few FLOPs per byte",
        DiagnosticSeverity.Warning,
        "Large-kernel depthwise convolutions are memory-bound; InceptionNeXt splits them into 3x3, 1xk and kx1 branches.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Nodes(OpKind.Conv2d))
        {
            var c = new ConvAttrs(n);
            int t = ctx.Profile.DepthwiseKernel;
            if (!ModelGraph.IsDepthwise(n) || c.Kh * c.Kw < t * t) continue;
            var site = ctx.Layer(n);
            if (site is null) continue;
            // Fix: kernel 3 with padding = dilation keeps a "same"-padded output shape exactly. Only for a
            // square kernel written as one kernel and one padding: a rewrite of those two alone must not
            // leave a kernelWidth or paddingWidth behind.
            var kernel = site.LiteralLocation("kernel");
            var padding = site.LiteralLocation("padding");
            bool square = c.Kh == c.Kw && c.Ph == c.Pw && site.Argument("kernelWidth") is null && site.Argument("paddingWidth") is null;
            bool fixable = square && kernel is not null && padding is not null && c.Kh % 2 == 1 && c.Ph == c.Dh * (c.Kh - 1) / 2;
            ctx.Report(Rule, site.LocationOf("kernel"), fixable ? new[] { kernel!, padding! } : null,
                fixable ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.Replacements, "3;" + c.Dh)
                    .Add(FixProperties.Title, $"Use a 3x3 kernel (padding {c.Dh}, same output shape)") : null,
                n.Layer, c.Kh, c.Kw, t);
        }
    }
}
