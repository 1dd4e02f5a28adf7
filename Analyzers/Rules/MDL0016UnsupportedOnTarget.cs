// MDL0016: an op the target profile's capability table lists as unsupported. The table today has one
// entry: MaxPool with explicit padding on the gpu profile. Deployment formats for mobile GPU delegates
// (TFLite's MAX_POOL_2D) express pooling padding only as SAME/VALID, so explicit padding needs a separate
// pad op with a -inf constant, which a delegate may not run: a conservative entry, documented as such.
// CPU profiles support every DSL op.
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0016UnsupportedOnTarget : ModelRule
{
    public const string Id = "MDL0016";

    // {0}: op, {1}: profile, {2}: why, {3}: alternative
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Op unsupported on target",
        "{0} is not supported on {1}: {2}; {3}",
        DiagnosticSeverity.Warning,
        "Ops outside the target's capability table fall back to another device, splitting the graph and adding synchronisations.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        if (!ctx.Profile.MaxPoolPaddingUnsupported) return;
        foreach (var n in ctx.Nodes(OpKind.MaxPool))
        {
            var p = new PoolAttrs(n);
            if (p.Ph == 0 && p.Pw == 0) continue;
            ctx.Report(Rule, ctx.Location(n), $"MaxPool with padding {p.Ph}", ctx.Profile.Name,
                "GPU delegates take pooling padding only as SAME/VALID, so the -inf padding needs a separate pad op that may run outside the delegate",
                "use padding 0 (pad the feature map with a convolution's padding instead)");
        }
    }
}
