// MDL0010: Sigmoid, Tanh, GELU, SiLU, ELU or Exp on a CPU profile: exponentials (and GELU's erf) cost far more
// than the piecewise-linear hard counterparts MobileNetV3 introduced. Not flagged on the gpu profile.
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
        "Sigmoid, Tanh, GELU, SiLU, ELU and Exp are costly on CPUs; MobileNetV3's hard-sigmoid and hard-swish are piecewise linear.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        if (!ctx.Profile.CostlyActivations) return;
        foreach (var n in ctx.Graph.Nodes)
        {
            if (n.Op is not (OpKind.Activation or OpKind.Elu)) continue;
            // Inside a block (GhostNetV2's sigmoid gate) the activation is the reference design's, not written at
            // the call the diagnostic would point at, and the rename fix would rewrite that call.
            if (ctx.FromBlock(n)) continue;
            var (name, suggestion, rename) = n.Op == OpKind.Elu
                ? ("ELU", "consider Relu or HardSwish if the model allows", null)
                : (ActKind)n.Ints[0] switch
                {
                    ActKind.Sigmoid => ("Sigmoid", "HardSigmoid is the piecewise-linear counterpart", "HardSigmoid"),
                    ActKind.Tanh => ("Tanh", "consider a piecewise-linear activation (Relu6, HardSwish) if the model allows", null),
                    // h-swish replaced swish (SiLU) in MobileNetV3 at no loss of accuracy; one argument each, so a rename.
                    ActKind.Silu => ("SiLU", "HardSwish is the piecewise-linear counterpart (MobileNetV3's h-swish)", "HardSwish"),
                    ActKind.Gelu => ("GELU", "its tanh form is cheaper, and HardSwish is a piecewise-linear alternative if the model allows", null),
                    ActKind.GeluTanh => ("GELU (tanh)", "HardSwish is a piecewise-linear alternative if the model allows", null),
                    ActKind.Exp => ("Exp", "keep it only where the model needs the exponential itself", null),
                    _ => ((string?)null, "", (string?)null),
                };
            if (name is null) continue;
            if (rename is not null)
                ctx.Report(Rule, ctx.Location(n), null, ImmutableDictionary<string, string?>.Empty.Add(FixProperties.RenameTo, rename),
                    name, ctx.Profile.Name, suggestion);
            else
                ctx.Report(Rule, ctx.Location(n), name, ctx.Profile.Name, suggestion);
        }
    }
}
