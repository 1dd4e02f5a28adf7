// MDL0021: a spike tensor multiplied by a dense float activation (Mul, MatMul), or softmax attention over scores
// computed from spikes. Spikes turn a product with weights into masked additions (the point of a spiking network on
// neuromorphic hardware); a product with another activation, or an exponential over spike scores, brings the float
// multiplications back. Spike-driven Transformer (SDT) replaces both with masks and column sums. Linear and Conv2d on
// spikes are the intended use and are not flagged; neither is a product of two spike tensors (their AND) or a scale
// by a constant.
using System.Collections.Generic;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0021FloatMultiplyOnSpikes : ModelRule
{
    public const string Id = "MDL0021";

    // {0}: what multiplies (Mul, MatMul, softmax attention), {1}: the spike source (a neuron layer's field, Poisson)
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Float multiply on spike tensors",
        "{0} on spikes from '{1}' gives a dense float result: each product is a float multiplication that spikes would make a masked addition; use masks and sums over spikes (Spike-driven Transformer)",
        DiagnosticSeverity.Warning,
        "Spikes turn products with weights into masked additions; multiplying them by another float activation, or a softmax over scores from spikes, needs float multiplications again.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        var spike = Spikes.Binary(g);
        // A softmax over spike scores is the attention problem; the MatMul that then weighs spike values by those
        // probabilities is part of it, not a second one.
        var attention = new HashSet<int>();
        foreach (var n in g.Nodes)
        {
            if (n.Op != OpKind.Softmax || ScoresFromSpikes(g, spike, n.Inputs[0]) is not { } scores) continue;
            attention.Add(n.Id);
            ctx.Report(Rule, ctx.Location(n), "Softmax attention", Spikes.Source(g, spike, SpikeOperand(spike, g.Nodes[scores])));
        }
        foreach (var n in g.Nodes)
        {
            if (n.Op is not (OpKind.Mul or OpKind.MatMul) || n.Inputs.Count != 2) continue;
            bool a = spike[n.Inputs[0]], b = spike[n.Inputs[1]];
            if (a == b) continue; // no spikes, or spikes by spikes (AND, or integer counts)
            int dense = a ? n.Inputs[1] : n.Inputs[0];
            if (FromAttention(g, attention, dense)) continue;
            ctx.Report(Rule, ctx.Location(n), n.Op == OpKind.Mul ? "Mul" : "MatMul", Spikes.Source(g, spike, a ? n.Inputs[0] : n.Inputs[1]));
        }
    }

    /// <summary>The MatMul with a spike operand that a softmax's input comes from, through scales, masks and reshapes.</summary>
    static int? ScoresFromSpikes(ModelGraph g, bool[] spike, int id)
    {
        for (int hops = 0; hops < 8; hops++)
        {
            var n = g.Nodes[id];
            if (n.Op == OpKind.MatMul) return n.Inputs.Count == 2 && (spike[n.Inputs[0]] || spike[n.Inputs[1]]) ? n.Id : null;
            if (n.Op is not (OpKind.Scalar or OpKind.Reshape or OpKind.Transpose or OpKind.Add or OpKind.Sub or OpKind.Div)) return null;
            id = n.Inputs[0];
        }
        return null;
    }

    static int SpikeOperand(bool[] spike, Node matMul) => spike[matMul.Inputs[0]] ? matMul.Inputs[0] : matMul.Inputs[1];

    /// <summary>True when <paramref name="id"/> is a flagged softmax, or comes from one through reshapes and scales.</summary>
    static bool FromAttention(ModelGraph g, HashSet<int> attention, int id)
    {
        for (int hops = 0; hops < 8; hops++)
        {
            if (attention.Contains(id)) return true;
            var n = g.Nodes[id];
            if (n.Op is not (OpKind.Scalar or OpKind.Reshape or OpKind.Transpose or OpKind.Dropout)) return false;
            id = n.Inputs[0];
        }
        return false;
    }
}
