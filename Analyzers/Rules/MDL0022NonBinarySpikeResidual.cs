// MDL0022: an Add of two spike tensors whose sum reaches a spiking layer. The sum takes the value 2 where both fire,
// so the next layer no longer receives spikes (SEW-ResNet's ADD shortcut): its weights multiply integers instead of
// masking additions. Spike-driven Transformer (SDT), after MS-ResNet, puts the shortcut on the membrane potential:
// add before the neuron, so every layer's input stays binary. Not mechanical (it changes the network), so no fix.
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0022NonBinarySpikeResidual : ModelRule
{
    public const string Id = "MDL0022";

    // {0}, {1}: the two spike sources, {2}: the neuron layer the sum reaches
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Non-binary spike residual",
        "Add sums spikes from '{0}' and '{1}', so values reach 2 on the way to '{2}' and the layers between multiply instead of accumulating; add the shortcut to the membrane input, before the neuron (MS-ResNet, Spike-driven Transformer)",
        DiagnosticSeverity.Warning,
        "A residual Add of two spike tensors gives non-binary values to the following layers; a shortcut on the membrane potential keeps every layer's input binary.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        var g = ctx.Graph;
        var spike = Spikes.Binary(g);
        foreach (var n in ctx.Nodes(OpKind.Add))
        {
            if (n.Inputs.Count != 2 || !spike[n.Inputs[0]] || !spike[n.Inputs[1]]) continue;
            // A sum read only by the readout (MeanOverTime, a linear head) is a rate, not a layer's input.
            if (Spikes.NeuronDownstream(g, n.Id) is not { } neuron) continue;
            ctx.Report(Rule, ctx.Location(n), Spikes.Source(g, spike, n.Inputs[0]), Spikes.Source(g, spike, n.Inputs[1]), neuron.Layer);
        }
    }
}
