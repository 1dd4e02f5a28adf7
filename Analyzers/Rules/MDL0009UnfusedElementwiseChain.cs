// MDL0009: three or more consecutive element-wise ops (+, -, *, / between tensors or with constants, activations,
// ELU) that do not follow a Conv/Linear/BatchNorm, so they cannot run in a producer's epilogue: the chain is a
// kernel of its own, a full pass over memory (and another in the backward). Every op with the Elementwise trait
// counts, so ops added later are counted without editing this rule.
using System.Collections.Generic;
using System.Linq;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0009UnfusedElementwiseChain : ModelRule
{
    public const string Id = "MDL0009";

    // {0}: count, {1}: ops
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Unfused element-wise chain",
        "{0} consecutive element-wise ops ({1}) do not follow a convolution or linear layer, so they run as a separate pass over memory instead of in its epilogue",
        DiagnosticSeverity.Info,
        "Element-wise ops are memory-bound (ShuffleNet V2, G4); next to a Conv or Linear they fuse into its epilogue.");

    public override DiagnosticDescriptor Descriptor => Rule;

    static bool IsElementwise(Node n) => n.Def.Has(OpTraits.Elementwise);

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        foreach (var head in g.Nodes)
        {
            if (!IsElementwise(head) || Predecessor(g, head) is not null) continue;
            // Fused when the head reads a Conv/Linear/BatchNorm output nobody else uses.
            if (head.Inputs.Any(i => g.Nodes[i].Op is OpKind.Conv2d or OpKind.Linear or OpKind.BatchNorm && g.SingleConsumer(i))) continue;
            var chain = new List<Node> { head };
            var cur = head;
            while (g.SingleConsumer(cur.Id) && g.Nodes[g.Consumers(cur.Id)[0]] is var next && IsElementwise(next) && Predecessor(g, next) == cur)
            {
                chain.Add(next);
                cur = next;
            }
            if (chain.Count < ctx.Profile.ElementwiseChain) continue;
            ctx.Report(Rule, ctx.Location(cur), chain.Count, string.Join(", ", chain.Select(Name)));
        }
    }

    /// <summary>The element-wise input this node continues, when there is exactly one and it feeds only this node.</summary>
    static Node? Predecessor(ModelGraph g, Node n)
    {
        Node? found = null;
        foreach (int i in n.Inputs)
        {
            var p = g.Nodes[i];
            if (!IsElementwise(p) || !g.SingleConsumer(p.Id)) continue;
            if (found is not null && found.Id != p.Id) return null;
            found = p;
        }
        return found;
    }

    static string Name(Node n) => n.Op switch
    {
        OpKind.Activation => ((ActKind)n.Ints[0]).ToString(),
        OpKind.Scalar => (ScalarKind)n.Ints[0] switch
        {
            ScalarKind.Mul => "x * " + Show(n.F0),
            ScalarKind.Add => "x + " + Show(n.F0),
            ScalarKind.RSub => Show(n.F0) + " - x",
            ScalarKind.Div => "x / " + Show(n.F0),
            _ => Show(n.F0) + " / x",
        },
        _ => n.Op,
    };

    static string Show(float f) => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
