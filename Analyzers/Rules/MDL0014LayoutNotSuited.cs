// MDL0014: on the gpu profile, convolutions run on NCHW tensors (the layout the generated code uses),
// while tensor-core kernels want NHWC and transpose otherwise. Reported once per model, as Info: the
// layout is not a choice in the DSL today, so this tells you what the GPU path costs.
using System.Linq;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0014LayoutNotSuited : ModelRule
{
    public const string Id = "MDL0014";

    // {0}: count, {1}: profile
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Layout does not suit the target",
        "The model's {0} convolution(s) run on NCHW tensors; {1} tensor-core kernels prefer NHWC (channels last) and transpose otherwise",
        DiagnosticSeverity.Info,
        "NVIDIA's convolution guide: tensor-core convolutions use NHWC; NCHW inputs are transposed around each kernel.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        if (!ctx.Profile.PreferNhwc) return;
        var convs = ctx.Nodes(OpKind.Conv2d).Where(n => !ModelGraph.IsDepthwise(n)).ToList();
        if (convs.Count == 0) return;
        ctx.Report(Rule, ctx.Location(convs[0]), convs.Count, ctx.Profile.Name);
    }
}
