// MDL0017: softmax attention over a long static sequence. Its time grows as N^2 (and, written by hand with
// MatMul + Softmax, its memory too: the N x N scores), where linear attention ("Transformers are RNNs", SLAB's
// simplified linear attention) grows as N. Flags a ScaledDotProductAttention call, and a hand-written
// Softmax(MatMul(q, k^T)) whose score rows are that long. Replacing ScaledDotProductAttention(q, k, v, heads, causal)
// by LinearAttention(q, k, v, heads, causal: causal) is mechanical (same operands and layout), so that call gets a
// fix; it changes the model's function (a different attention), so it is offered, never implied.
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0017QuadraticAttention : ModelRule
{
    public const string Id = "MDL0017";

    /// <summary>From this many tokens on, softmax attention's N^2 term dominates at common head sizes (64): the
    /// repository's attention benchmarks (bench/Authoring.Benchmarks/AttentionBenchmarks.cs) start there.</summary>
    public const int LongSequence = 1024;

    // {0}: what, {1}: N, {2}: what to do
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Quadratic attention on a long sequence",
        "{0} over {1} tokens costs O(N^2) time{2}",
        DiagnosticSeverity.Warning,
        "Softmax attention's cost grows with the square of the sequence length; linear attention (elu+1 or ReLU feature map) grows linearly.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        foreach (var n in ctx.Nodes(OpKind.ScaledDotProductAttention))
        {
            int seq = n.Ints[0];
            if (seq < LongSequence) continue;
            ctx.Report(Rule, ctx.Location(n), null, ImmutableDictionary<string, string?>.Empty.Add(FixProperties.RenameTo, "LinearAttention"),
                "ScaledDotProductAttention", seq, "; LinearAttention (same arguments) costs O(N)");
        }
        var g = ctx.Graph;
        foreach (var n in ctx.Nodes(OpKind.Softmax))
        {
            int cols = n.Shape[n.Shape.Count - 1];
            if (cols < LongSequence || n.Shape.Count < 2 || n.Shape[n.Shape.Count - 2] < LongSequence) continue;
            // Scores: a MatMul, possibly scaled (a Scalar op) before the softmax.
            var src = g.Input(n);
            while (src.Op == OpKind.Scalar) src = g.Input(src);
            if (src.Op != OpKind.MatMul) continue;
            ctx.Report(Rule, ctx.Location(n), "Softmax(MatMul(q, k^T))", cols,
                " and O(N^2) memory for its scores; use ScaledDotProductAttention (O(N) memory) or LinearAttention (O(N) time and memory)");
        }
    }
}
