// Which values of a model are spike tensors (every element 0 or 1): the outputs of neuron layers and of Poisson
// encoding, and what ops that keep values binary make of them. The spiking rules (MDL0021, MDL0022) share it.
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Analyzers.Core;

internal static class Spikes
{
    /// <summary>Per node id: true when the value holds only 0 and 1. Nodes come in dependency order, so one pass.
    /// Dropout is not binary in training (it scales by 1/(1-p)), average pools and sums count spikes.</summary>
    public static bool[] Binary(ModelGraph g)
    {
        var spike = new bool[g.Nodes.Length];
        foreach (var n in g.Nodes)
        {
            spike[n.Id] = n.Op switch
            {
                OpKind.Neuron or OpKind.ParametricNeuron or OpKind.Poisson => true,
                OpKind.MaxPool or OpKind.Reshape or OpKind.Transpose or OpKind.Slice or OpKind.Repeat or OpKind.UpsampleNearest =>
                    In(spike, n, 0),
                // Concatenated spikes are spikes; the product of two spike tensors is their AND.
                OpKind.Concat or OpKind.Mul => All(spike, n),
                _ => false,
            };
        }
        return spike;
    }

    /// <summary>The neuron layer or encoder a spike value comes from, for messages ('lif1', 'Poisson').</summary>
    public static string Source(ModelGraph g, bool[] spike, int id)
    {
        var seen = new HashSet<int>();
        while (seen.Add(id))
        {
            var n = g.Nodes[id];
            if (n.Op is OpKind.Neuron or OpKind.ParametricNeuron) return n.Layer;
            if (n.Op == OpKind.Poisson) return "Poisson";
            int next = -1;
            foreach (int i in n.Inputs)
                if (i >= 0 && i < spike.Length && spike[i]) { next = i; break; }
            if (next < 0) break;
            id = next;
        }
        return "spikes";
    }

    /// <summary>The first neuron layer <paramref name="id"/>'s value reaches going forward, or null.</summary>
    public static Node? NeuronDownstream(ModelGraph g, int id)
    {
        var seen = new HashSet<int>();
        var queue = new Queue<int>();
        queue.Enqueue(id);
        while (queue.Count > 0)
        {
            foreach (int c in g.Consumers(queue.Dequeue()))
            {
                if (!seen.Add(c)) continue;
                var m = g.Nodes[c];
                if (m.Op is OpKind.Neuron or OpKind.ParametricNeuron) return m;
                queue.Enqueue(c);
            }
        }
        return null;
    }

    static bool In(bool[] spike, Node n, int i) => n.Inputs.Count > i && n.Inputs[i] >= 0 && n.Inputs[i] < spike.Length && spike[n.Inputs[i]];

    static bool All(bool[] spike, Node n)
    {
        if (n.Inputs.Count == 0) return false;
        for (int i = 0; i < n.Inputs.Count; i++)
            if (!In(spike, n, i)) return false;
        return true;
    }
}
