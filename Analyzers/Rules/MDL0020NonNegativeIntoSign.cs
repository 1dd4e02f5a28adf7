// MDL0020 (the catalog's binary order rule): a non-negative activation (ReLU, ReLU6, sigmoid, hard sigmoid, exp)
// feeding Ops.Sign, directly or through pooling, reshapes and dropout, which keep values non-negative. Sign maps
// x >= 0 to +1 (the packed bit is x < 0), so every binarised activation is +1 and the binary layer after it sees a
// constant: an error, not a style point. Larq Compute Engine's guide flags the same (a ReLU into the binarizer gives
// constant ones). RSign is left alone: its learnt shift b makes sign(x + b) a threshold that can still split x >= 0.
// The catalog's other half (prefer conv -> ReLU -> BN over conv -> BN -> ReLU) is LCE's epilogue order; ours is the
// reverse, y = act(scale * dot + shift), so conv -> BN -> act is what fuses here, and MDL0007 already flags a
// BatchNorm after the activation. Fix when the activation is written inside the Sign call: drop it, so Sign reads the
// pre-activation (the model changes, but it computed a constant before, so it must be retrained either way).
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0020NonNegativeIntoSign : ModelRule
{
    public const string Id = "MDL0020";

    // {0}: the activation, {1}: how it reaches the sign
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Non-negative activation feeds a sign binarizer",
        "Sign reads the output of {0}{1}, which is never negative, so every binarised value is +1: binarise the pre-activation (Sign before the activation, or an RSign with a learnt shift)",
        DiagnosticSeverity.Error,
        "Sign maps x >= 0 to +1; after ReLU, ReLU6, sigmoid, hard sigmoid or exp the binary layer that follows sees a constant input.");

    public override DiagnosticDescriptor Descriptor => Rule;

    /// <summary>Activations whose every output is >= 0.</summary>
    static bool NonNegative(Node n) => n.Op == OpKind.Activation
        && (ActKind)n.Ints[0] is ActKind.Relu or ActKind.Relu6 or ActKind.Sigmoid or ActKind.HardSigmoid or ActKind.Exp;

    /// <summary>Ops that keep a non-negative input non-negative (max and mean of non-negatives, zero padding, copies).</summary>
    static bool KeepsSign(Node n) => n.Op is OpKind.Reshape or OpKind.GlobalAvgPool or OpKind.MaxPool or OpKind.AvgPool or OpKind.Dropout;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var sign in ctx.Nodes(OpKind.Sign))
        {
            var p = g.Input(sign);
            int hops = 0;
            while (KeepsSign(p) && hops < 16)
            {
                p = g.Input(p);
                hops++;
            }
            if (!NonNegative(p)) continue;
            string act = ((ActKind)p.Ints[0]).ToString();
            // Only a direct Sign(Act(...)) is rewritten: through pooling the activation is elsewhere in the code.
            var props = hops == 0 ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.DropActivation, act) : null;
            ctx.Report(Rule, ctx.Location(sign), null, props, act, hops == 0 ? "" : " through pooling or reshapes");
        }
    }
}
