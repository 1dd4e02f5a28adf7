// MDL0010: Sigmoid or Tanh on a CPU profile: exponentials cost far more than the piecewise-linear
// hard counterparts MobileNetV3 introduced. Not flagged on the gpu profile.
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0010CostlyActivation : ModelRule
{
    public const string Id = "MDL0010";

    // {0}: activation, {1}: profile, {2}: suggestion
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Costly activation",
        "{0} needs an exponential per element on {1}; {2}",
        DiagnosticSeverity.Info,
        "Sigmoid and Tanh are costly on CPUs; MobileNetV3's hard-sigmoid and hard-swish are piecewise linear.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        if (!ctx.Profile.CostlyActivations) return;
        foreach (var n in ctx.Nodes(OpKind.Activation))
        {
            // Inside a block (GhostNetV2's sigmoid gate) the activation is the reference design's, not written at
            // the call the diagnostic would point at, and the rename fix would rewrite that call.
            if (ctx.Graph.FromBlock(n)) continue;
            var act = (ActKind)n.Ints[0];
            if (act == ActKind.Sigmoid)
                ctx.Report(Rule, ctx.Location(n), null, ImmutableDictionary<string, string?>.Empty.Add(FixProperties.RenameTo, "HardSigmoid"),
                    "Sigmoid", ctx.Profile.Name, "HardSigmoid is the piecewise-linear counterpart");
            else if (act == ActKind.Tanh)
                ctx.Report(Rule, ctx.Location(n), "Tanh", ctx.Profile.Name, "consider a piecewise-linear activation (Relu6, HardSwish) if the model allows");
        }
    }
}
