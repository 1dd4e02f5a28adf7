// MDL0023: a binary convolution whose ±1 output nothing rescales (no XNOR scale, no BatchNorm after it), or around
// which no real-valued shortcut runs. XNOR-Net showed the per-channel scale recovers much of the accuracy binarising
// loses; Bi-Real Net (and ReActNet after it) put a real shortcut around every binary conv, so the real-valued
// activations survive each block. (Not in the catalog: its binary rules MDL0018-0020 are about engine constraints.)
// Fix when the layer says `scaled: false`: `scaled: true`.
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0023BinaryConvUnscaledOrWithoutShortcut : ModelRule
{
    public const string Id = "MDL0023";

    // {0}: layer, {1}: what is missing, {2}: what to do
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Binary conv without scaling or shortcut",
        "Binary conv '{0}' has {1}: {2}",
        DiagnosticSeverity.Warning,
        "XNOR-Net's per-channel scale and Bi-Real Net's real-valued shortcut are what make binary convolutions accurate.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var n in ctx.Nodes(OpKind.BinaryConv2d))
        {
            bool scaled = n.Ints[12] != 0;
            var consumers = g.Consumers(n.Id);
            bool bn = consumers.Count == 1 && g.Nodes[consumers[0]].Op == OpKind.BatchNorm;
            if (!scaled && !bn)
            {
                var site = ctx.Layer(n);
                var literal = site?.Argument("scaled");
                bool fixable = literal is not null && literal.IsKind(SyntaxKind.FalseLiteralExpression);
                ctx.Report(Rule, site?.LocationOf("scaled") ?? ctx.Location(n), fixable ? new[] { literal!.GetLocation() } : null,
                    fixable ? ImmutableDictionary<string, string?>.Empty.Add(FixProperties.Replacements, "true")
                        .Add(FixProperties.Title, "Scale per output channel (scaled: true)") : null,
                    n.Layer, "no per-channel scale (scaled: false and no BatchNorm after it)", "use scaled: true (XNOR-Net) or follow it with a BatchNorm");
                continue;
            }
            if (!ReachesAdd(g, n.Id))
                ctx.Report(Rule, ctx.Location(n), n.Layer, "no real-valued shortcut around it",
                    "add the block's real input to its (normalised) output, Add(bn.Forward(conv.Forward(Sign(x))), x), as Bi-Real Net does");
        }
    }

    /// <summary>Whether the conv's output reaches an Add through BatchNorm, activations and RPReLU only.</summary>
    static bool ReachesAdd(ModelGraph g, int id)
    {
        for (int depth = 0; depth < 8; depth++)
        {
            var consumers = g.Consumers(id);
            if (consumers.Count != 1) return false;
            var c = g.Nodes[consumers[0]];
            if (c.Op == OpKind.Add) return true;
            if (c.Op is not (OpKind.BatchNorm or OpKind.Activation or OpKind.RPRelu)) return false;
            id = c.Id;
        }
        return false;
    }
}
