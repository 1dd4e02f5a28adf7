// MDL0015: a dense stride-1 convolution whose kernel is neither 1x1 nor 3x3 (band kernels such as 1x5
// included: they get no Winograd path either). Winograd-accelerated
// 3x3 stride-1 convolutions have the highest computational density in cuDNN and MKL-DNN/oneDNN
// (RepVGG, section 3.1); larger kernels get no such path. (The catalog's original MDL0015, dynamic
// shapes, cannot occur in this DSL: every input has a static [Shape].)
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0015NonWinogradKernel : ModelRule
{
    public const string Id = "MDL0015";

    // {0}: layer, {1}: kernel height, {2}: kernel width
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Dense kernel is not 3x3",
        "Dense convolution '{0}' uses a {1}x{2} kernel: stride-1 3x3 convolutions get Winograd kernels; two stacked 3x3 cover a 5x5 field",
        DiagnosticSeverity.Info,
        "RepVGG: Winograd makes stride-1 3x3 convolutions the densest in cuDNN and MKL; other kernel sizes run at lower efficiency.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in ctx.Nodes(OpKind.Conv2d))
        {
            var c = new ConvAttrs(n);
            if (c.Groups != 1 || c.Sh != 1 || c.Sw != 1 || c.Dh != 1 || c.Dw != 1 || (c.Kh == c.Kw && c.Kh is 1 or 3)) continue;
            if (g.Input(n).Op == OpKind.Input) continue; // a stem over raw pixels has few channels; its kernel is cheap
            var site = ctx.Layer(n);
            if (site is null) continue;
            ctx.Report(Rule, site.LocationOf("kernel"), n.Layer, c.Kh, c.Kw);
        }
    }
}
