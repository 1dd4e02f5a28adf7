// Static time input: a neuron whose input is a Repeat (direct encoding), reached through layers that act on each step
// alone (conv, BatchNorm, linear, pools, activations, scalar arithmetic), sees the same input at every step. The rewrite
// runs those layers once per sample instead of T times and lets the neuron kernel feed the one step at every time step
// and sum its input gradient over the steps (NeuronKernel's static path): no T copies, no T-fold conv. This is exactly
// what SpikingJelly's tutorials write by hand (the static conv + BN applied before x.unsqueeze(0).repeat(T, ...)); the
// one visible difference from evaluating the repeated copies is BatchNorm's unbiased running variance, whose count is
// N * H * W (the tutorial's) rather than N * T * H * W. Batch statistics, outputs and gradients are the same in exact
// arithmetic (the gradient summed over copies equals the gradient of the sum).
//
// Only chains whose every value feeds just the next link qualify: a value read elsewhere too keeps its time axis there.
// Nodes keep their ids; the Repeat becomes unreachable when nothing else reads it.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal static class StaticTime
{
    /// <summary>Ops that act on every time step independently and identically (no per-step randomness, no reduction over
    /// time): a repeated input stays repeated through them.</summary>
    static bool PerStep(Node n) => n.Op is OpKind.Conv2d or OpKind.Linear or OpKind.BatchNorm or OpKind.MaxPool or OpKind.AvgPool
        or OpKind.Activation or OpKind.Scalar or OpKind.Elu or OpKind.UpsampleNearest or OpKind.GlobalAvgPool;

    /// <summary>The model with every qualifying Repeat-to-neuron chain rewritten, or the model itself when none qualifies.</summary>
    public static ModelIr Rewrite(ModelIr m)
    {
        if (!m.IsValid || !m.Nodes.Any(n => n.Op == OpKind.Repeat)) return m;
        var nodes = m.Nodes.ToArray();
        var consumers = new List<int>[nodes.Length];
        for (int i = 0; i < nodes.Length; i++) consumers[i] = new List<int>();
        foreach (var n in nodes)
            foreach (int i in n.Inputs)
                if (!consumers[i].Contains(n.Id)) consumers[i].Add(n.Id);

        bool changed = false;
        foreach (var neuron in nodes.Where(NeuronOp.IsNeuron).ToList())
        {
            if (NeuronOp.IsStatic(neuron)) continue;
            int steps = neuron.Shape[0];
            // Walk back from the neuron's input to a Repeat through single-consumer per-step values of T steps.
            var chain = new List<int>();
            int v = neuron.Inputs[0];
            while (nodes[v].Op != OpKind.Repeat)
            {
                var n = nodes[v];
                if (!PerStep(n) || consumers[v].Count != 1 || v == m.Output || n.Shape.Count < 2 || n.Shape[0] != steps) { v = -1; break; }
                chain.Add(v);
                v = n.Inputs[0];
            }
            if (v < 0 || nodes[v].Ints[0] != steps) continue;
            int source = nodes[v].Inputs[0];
            // Nearest the Repeat first: each link loses its time axis and reads its (static) predecessor.
            int previous = source;
            for (int k = chain.Count - 1; k >= 0; k--)
            {
                var n = nodes[chain[k]];
                var inputs = n.Inputs.Select(i => i == v ? previous : i).ToArray();
                nodes[n.Id] = n with { Shape = n.Shape.Skip(1).ToArray().ToEquatableArray(), Inputs = inputs.ToEquatableArray() };
                previous = n.Id;
            }
            nodes[neuron.Id] = NeuronOp.WithStaticInput(neuron, previous);
            changed = true;
        }
        return changed ? m with { Nodes = nodes.ToEquatableArray() } : m;
    }
}
