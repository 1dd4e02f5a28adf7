// Reverse-mode differentiation over the fused forward program: the loss step, then each forward step's
// definition adds the steps writing its inputs' and parameters' gradients, last step first. Gradient
// buffers follow the values' placement (views alias their parents); the first write to a buffer may
// overwrite only if it covers all of it, otherwise the buffer is cleared first; later writes accumulate.
using System.Collections.Generic;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;

namespace Authoring.Generators.Passes;

internal sealed class Autodiff : PassContext
{
    readonly HashSet<int> _gradWritten = new();

    public Autodiff(Graph graph, Fusion fusion, Storage storage, StateAllocator state)
        : base(graph, fusion, storage, train: true, state)
    {
    }

    public bool NeedsGrad(int v) => Graph.NeedsGrad[v];

    /// <summary>Where the gradient of a value lives.</summary>
    public Ref Grad(int v) => Storage.Grad(v);

    public void Run()
    {
        var p = Program;
        int forwardSteps = p.Steps.Count;
        // Activations are saved for the backward pass.
        foreach (var b in p.Buffers) b.Pinned = true;
        int output = Model.Output;
        if (!NeedsGrad(output)) return;
        var dlogits = Grad(output);
        p.OutputGrad = dlogits;
        // The loss overwrites its region; a logits view inside a larger buffer gets the rest cleared.
        NeedsAccumulate(output, dlogits);
        var loss = Add(new Step(SoftmaxCrossEntropy.Kernel, Node(output), p.Output, dlogits));
        p.LossStep = loss.Index;

        for (int si = forwardSteps - 1; si >= 0; si--)
        {
            var f = p.Steps[si];
            f.Owner?.Backward(this, f);
        }
    }

    /// <summary>Adds a step that writes the gradient of <paramref name="v"/> (operand <paramref name="target"/>),
    /// deciding whether it overwrites or accumulates.</summary>
    public void Contribute(int v, Step step, int target)
    {
        step.Accumulate = NeedsAccumulate(v, step.Io[target]);
        Add(step);
    }

    /// <summary>As <see cref="Contribute"/> for a step folding leading axes (<paramref name="fold"/>), whose operands
    /// must be dense: when the gradient of <paramref name="v"/> is a slice of a larger buffer, the step writes a
    /// dense temporary that a copy then adds in. <paramref name="make"/> builds the step for a gradient target.</summary>
    public void Contribute(int v, int fold, System.Func<Ref, Step> make, int target)
    {
        var grad = Grad(v);
        if (fold == 1 || IsDense(grad, v))
        {
            Contribute(v, make(grad), target);
            return;
        }
        var tmp = NewBuffer(Node(v).Size, "dense grad " + Storage.Label(Node(v)));
        Add(make(tmp));
        Contribute(v, new Step(Utility.Copy, null, tmp, grad) { Size = Node(v).Size }, 1);
    }

    /// <summary>The first write to a gradient buffer may overwrite only if it covers the whole buffer;
    /// otherwise the buffer is cleared first (a step added now). Every later write accumulates.</summary>
    public bool NeedsAccumulate(int v, Ref grad)
    {
        if (_gradWritten.Contains(grad.Buffer)) return true;
        _gradWritten.Add(grad.Buffer);
        var buffer = Program.Buffers[grad.Buffer];
        if (grad.Shift == 0 && Node(v).Size == buffer.PerSample) return false;
        Add(new Step(Utility.Clear, null, new Ref(grad.Buffer, 0)) { Size = buffer.PerSample });
        return true;
    }
}
