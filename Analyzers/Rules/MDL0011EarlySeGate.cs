// MDL0011: squeeze-and-excitation gating (GlobalAvgPool -> ... -> Mul) at high resolution: the global
// pooling is a synchronisation point over a large map (MobileOne); MobileNetV3 keeps SE to later stages.
using System;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0011EarlySeGate : ModelRule
{
    public const string Id = "MDL0011";

    // {0}: H, {1}: W, {2}: input H, {3}: input W, {4}: minimum downsampling
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "SE gating in an early stage",
        "Squeeze-and-excitation gate at {0}x{1} (input {2}x{3}, less than {4}x downsampled): global pooling over a large map is a synchronisation point; move SE to later stages",
        DiagnosticSeverity.Info,
        "Global average pooling waits for the whole feature map; MobileOne measured its cost and MobileNetV3 uses SE in later stages.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        var input = g.Nodes[0];
        if (input.Shape.Count != 3) return;
        int inputSpatial = input.Shape[1] * input.Shape[2], d = ctx.Profile.SeMinDownsample;
        foreach (var m in ctx.Nodes(OpKind.Mul))
        {
            if (m.Shape.Count != 3) continue;
            // The gate is the channel-vector operand; the map is the other.
            int gate = -1;
            foreach (int i in m.Inputs)
                if (OpRules.IsChannelVector(g.Nodes[i].Shape, m.Shape)) gate = i;
            if (gate < 0 || !FromGlobalPool(g, gate)) continue;
            if ((long)m.Shape[1] * m.Shape[2] * d * d <= inputSpatial) continue;
            ctx.Report(Rule, ctx.Location(m), m.Shape[1], m.Shape[2], input.Shape[1], input.Shape[2], d);
        }
    }

    static bool FromGlobalPool(ModelGraph g, int id)
    {
        for (int n = id; n >= 0 && n < g.Nodes.Length; )
        {
            var node = g.Nodes[n];
            if (node.Op == OpKind.GlobalAvgPool) return true;
            if (node.Op is OpKind.Input or OpKind.Conv2d || node.Inputs.Count == 0) return false;
            n = node.Inputs[0];
        }
        return false;
    }
}
