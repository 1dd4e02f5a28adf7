// Lowers a ModelIr to the two programs a backend emits. Three passes in one place because they share
// the graph bookkeeping: fusion (BN-eval + activation + bias into the producing conv/linear epilogue,
// BN-train + activation into one kernel, element-wise trees into one pass, concat by writing producers
// into slices of one buffer), reverse-mode autodiff over the fused kernels, and arena planning by liveness.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Ir;

namespace Authoring.Generators.Passes;

internal sealed class Planner
{
    readonly ModelIr _m;
    readonly bool _train;
    readonly Node[] _nodes;
    readonly List<int>[] _consumers;
    readonly bool[] _reachable;
    readonly bool[] _needsGrad;
    readonly Program _p = new();
    readonly List<EltGroup> _groups;
    int _state;

    // Fusion results.
    readonly int[] _kernelOut;          // for a kernel anchor: the node whose value it writes; -1 otherwise
    readonly bool[] _absorbed;          // computed inside another kernel, never stored
    readonly Node?[] _foldedBn;         // conv/linear -> folded BN (eval)
    readonly ActKind[] _act;            // kernel anchor -> fused activation
    readonly EltGroup?[] _groupOf;
    readonly (int Parent, int Shift)?[] _placed;  // value written into a slice of a concat buffer
    readonly HashSet<int> _gradWritten = new();

    Planner(ModelIr m, bool train, List<EltGroup> groups, int state)
    {
        _m = m;
        _train = train;
        _groups = groups;
        _state = state;
        _nodes = m.Nodes.ToArray();
        int n = _nodes.Length;
        _consumers = new List<int>[n];
        _reachable = new bool[n];
        _needsGrad = new bool[n];
        _kernelOut = Enumerable.Repeat(-1, n).ToArray();
        _absorbed = new bool[n];
        _foldedBn = new Node?[n];
        _act = new ActKind[n];
        _groupOf = new EltGroup?[n];
        _placed = new (int, int)?[n];
        for (int i = 0; i < n; i++) _consumers[i] = new List<int>();
    }

    public static Plan Build(ModelIr model)
    {
        var groups = new List<EltGroup>();
        var infer = new Planner(model, false, groups, 0);
        infer.Run();
        var train = new Planner(model, true, groups, infer._state);
        train.Run();
        return new Plan(model, infer._p, train._p, train._state, groups);
    }

    void Run()
    {
        Analyze();
        Fuse();
        Place();
        EmitForward();
        if (_train) EmitBackward();
        AllocateArena();
    }

    // ---- analysis ----

    void Analyze()
    {
        var stack = new Stack<int>();
        stack.Push(_m.Output);
        while (stack.Count > 0)
        {
            int v = stack.Pop();
            if (_reachable[v]) continue;
            _reachable[v] = true;
            foreach (int i in _nodes[v].Inputs) stack.Push(i);
        }
        foreach (var node in _nodes)
        {
            if (!_reachable[node.Id]) continue;
            foreach (int i in node.Inputs) if (!_consumers[i].Contains(node.Id)) _consumers[i].Add(node.Id);
            bool ownParams = node.Op is OpKind.Conv2d or OpKind.Linear or OpKind.BatchNorm;
            _needsGrad[node.Id] = ownParams || node.Inputs.Any(i => _needsGrad[i]);
        }
    }

    static bool IsElementwise(Node n) => n.Op is OpKind.Activation or OpKind.Add or OpKind.Mul;

    int? SingleConsumer(int v) => _consumers[v].Count == 1 && v != _m.Output ? _consumers[v][0] : null;

    // ---- fusion ----

    void Fuse()
    {
        foreach (var node in _nodes)
        {
            if (!_reachable[node.Id] || _absorbed[node.Id]) continue;
            switch (node.Op)
            {
                case OpKind.Conv2d:
                case OpKind.Linear:
                    {
                        int outId = node.Id;
                        if (!_train && SingleConsumer(outId) is int c && _nodes[c].Op == OpKind.BatchNorm)
                        {
                            _foldedBn[node.Id] = _nodes[c];
                            _absorbed[c] = true;
                            outId = c;
                        }
                        if (!_train) outId = FuseActivation(node.Id, outId);
                        _kernelOut[node.Id] = outId;
                        break;
                    }
                case OpKind.BatchNorm:
                    _kernelOut[node.Id] = FuseActivation(node.Id, node.Id);
                    break;
                case OpKind.MaxPool:
                case OpKind.AvgPool:
                case OpKind.GlobalAvgPool:
                case OpKind.UpsampleNearest:
                case OpKind.Input:
                    _kernelOut[node.Id] = node.Id;
                    break;
                case OpKind.Dropout:
                    if (_train) _kernelOut[node.Id] = node.Id;
                    break;
            }
        }
        // Element-wise trees, grown from each root towards its producers.
        for (int i = _nodes.Length - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (!_reachable[i] || _absorbed[i] || !IsElementwise(node)) continue;
            EltGroup? group = null;
            if (SingleConsumer(i) is int u && _groupOf[u] is { } g && IsElementwise(_nodes[u]) && Fits(node, g.Root))
                group = g;
            if (group is null)
            {
                group = new EltGroup(_groups.Count, node);
                _groups.Add(group);
                _kernelOut[i] = i;
            }
            else
            {
                _absorbed[i] = true;
            }
            _groupOf[i] = group;
            group.Members.Add(node);
        }
        foreach (var g in _groups)
        {
            if (g.Members.Count == 0 || !ReferenceEquals(_groupOf[g.Root.Id], g)) continue;
            g.Members.Sort((a, b) => a.Id.CompareTo(b.Id));
            foreach (var member in g.Members)
                foreach (int inp in member.Inputs)
                    if (!ReferenceEquals(_groupOf[inp], g) && !g.Leaves.Contains(inp)) g.Leaves.Add(inp);
        }
    }

    static bool Fits(Node n, Node root) => OpRules.Same(n.Shape, root.Shape) || OpRules.IsChannelVector(n.Shape, root.Shape);

    int FuseActivation(int anchor, int outId)
    {
        if (SingleConsumer(outId) is int a && _nodes[a].Op == OpKind.Activation)
        {
            _act[anchor] = (ActKind)_nodes[a].Ints[0];
            _absorbed[a] = true;
            return a;
        }
        return outId;
    }

    // ---- storage ----

    bool IsView(Node n) => n.Op is OpKind.Reshape or OpKind.Slice || (n.Op == OpKind.Dropout && !_train);

    /// <summary>Stored in a buffer of its own: a kernel's output (even when its op, a folded BatchNorm or a fused
    /// activation, was absorbed into that kernel: the kernel writes it) or a concat.</summary>
    bool Materialized(int v) => !IsView(_nodes[v]) && (_kernelOut.Contains(v) || (!_absorbed[v] && _nodes[v].Op == OpKind.Concat));

    void Place()
    {
        // Outer concats first, so a concat placed inside another resolves through it.
        for (int i = _nodes.Length - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (!_reachable[i] || node.Op != OpKind.Concat) continue;
            int shift = 0;
            foreach (int part in node.Inputs)
            {
                bool once = node.Inputs.Count(x => x == part) == 1;
                if (once && _placed[part] is null && Materialized(part) && _nodes[part].Op != OpKind.Input)
                    _placed[part] = (i, shift);
                shift += _nodes[part].Size;
            }
        }
    }

    Ref RefOf(int v) => Resolve(v, _p.Values, "act ", RefOf);

    Ref GradOf(int v) => Resolve(v, _p.Grads, "grad ", GradOf);

    /// <summary>Values and gradients share one placement rule: a concat part lives in its slice of the
    /// concat's buffer, a view in its input's buffer, anything else in a buffer of its own.</summary>
    Ref Resolve(int v, Dictionary<int, Ref> known, string label, System.Func<int, Ref> parentOf)
    {
        if (known.TryGetValue(v, out var r)) return r;
        var node = _nodes[v];
        if (_placed[v] is { } pl)
        {
            var parent = parentOf(pl.Parent);
            r = new Ref(parent.Buffer, parent.Shift + pl.Shift);
        }
        else if (IsView(node))
        {
            var inner = parentOf(node.Inputs[0]);
            int shift = node.Op == OpKind.Slice ? node.Ints[0] * node.Spatial : 0;
            r = new Ref(inner.Buffer, inner.Shift + shift);
        }
        else
        {
            r = new Ref(NewBuffer(node.Size, label + Label(node)), 0);
        }
        known[v] = r;
        return r;
    }

    static string Label(Node n) => n.Layer.Length > 0 ? n.Layer : n.Op + "#" + n.Id;

    int NewBuffer(int perSample, string label)
    {
        var b = new Buffer(_p.Buffers.Count, perSample, label);
        _p.Buffers.Add(b);
        return b.Id;
    }

    int State(int size)
    {
        int off = _state;
        _state += size;
        return off;
    }

    Step Add(Step s)
    {
        s.Index = _p.Steps.Count;
        _p.Steps.Add(s);
        return s;
    }

    // ---- forward ----

    void EmitForward()
    {
        _p.Input = RefOf(0);
        foreach (var node in _nodes)
        {
            if (!_reachable[node.Id] || _absorbed[node.Id]) continue;
            int v = node.Id;
            switch (node.Op)
            {
                case OpKind.Conv2d:
                case OpKind.Linear:
                    {
                        var step = new Step(node.Op == OpKind.Conv2d ? StepKind.Conv : StepKind.Linear, node, RefOf(node.Inputs[0]), RefOf(_kernelOut[v])) { Act = _act[v] };
                        if (_foldedBn[v] is { } bn)
                        {
                            int st = State(2 * bn.Channels);
                            Add(new Step(StepKind.BnFold, bn) { State = st, Bn = node });
                            step.State = st;
                            step.Bn = bn;
                        }
                        Add(step);
                        break;
                    }
                case OpKind.BatchNorm:
                    if (_train)
                    {
                        Add(new Step(StepKind.BnTrain, node, RefOf(node.Inputs[0]), RefOf(_kernelOut[v])) { Act = _act[v], State = State(2 * node.Channels) });
                    }
                    else
                    {
                        int st = State(2 * node.Channels);
                        Add(new Step(StepKind.BnFold, node) { State = st });
                        Add(new Step(StepKind.BnAffine, node, RefOf(node.Inputs[0]), RefOf(_kernelOut[v])) { Act = _act[v], State = st });
                    }
                    break;
                case OpKind.MaxPool:
                    Add(new Step(StepKind.MaxPool, node, RefOf(node.Inputs[0]), RefOf(v)));
                    break;
                case OpKind.AvgPool:
                    Add(new Step(StepKind.AvgPool, node, RefOf(node.Inputs[0]), RefOf(v)));
                    break;
                case OpKind.GlobalAvgPool:
                    Add(new Step(StepKind.Gap, node, RefOf(node.Inputs[0]), RefOf(v)));
                    break;
                case OpKind.UpsampleNearest:
                    Add(new Step(StepKind.Upsample, node, RefOf(node.Inputs[0]), RefOf(v)));
                    break;
                case OpKind.Dropout:
                    if (_train)
                    {
                        var mask = new Ref(NewBuffer(node.Size, "mask " + Label(node)), 0);
                        _p.Buffers[mask.Buffer].Pinned = true;
                        Add(new Step(StepKind.Dropout, node, RefOf(node.Inputs[0]), mask, RefOf(v)));
                    }
                    break;
                case OpKind.Concat:
                    {
                        var outRef = RefOf(v);
                        int shift = 0;
                        foreach (int part in node.Inputs)
                        {
                            if (_placed[part] is not { } pl || pl.Parent != v)
                                Add(new Step(StepKind.Copy, node, RefOf(part), new Ref(outRef.Buffer, outRef.Shift + shift)) { Size = _nodes[part].Size });
                            shift += _nodes[part].Size;
                        }
                        break;
                    }
                case OpKind.Activation:
                case OpKind.Add:
                case OpKind.Mul:
                    {
                        var g = _groupOf[v]!;
                        var io = g.Leaves.Select(RefOf).Concat(new[] { RefOf(v) }).ToArray();
                        Add(new Step(StepKind.Eltwise, node, io) { Group = g });
                        break;
                    }
            }
        }
        _p.Output = RefOf(_m.Output);
    }

    // ---- autodiff ----

    void EmitBackward()
    {
        int forwardSteps = _p.Steps.Count;
        // Activations are saved for the backward pass.
        foreach (var b in _p.Buffers) b.Pinned = true;
        if (!_needsGrad[_m.Output]) return;
        var dlogits = GradOf(_m.Output);
        _p.OutputGrad = dlogits;
        // The loss overwrites its region; a logits view inside a larger buffer gets the rest cleared.
        NeedsAccumulate(_m.Output, dlogits, null);
        var loss = Add(new Step(StepKind.Loss, _nodes[_m.Output], _p.Output, dlogits));
        _p.LossStep = loss.Index;

        for (int si = forwardSteps - 1; si >= 0; si--)
        {
            var f = _p.Steps[si];
            var node = f.Node!;
            switch (f.Kind)
            {
                case StepKind.Conv:
                case StepKind.Linear:
                    {
                        bool conv = f.Kind == StepKind.Conv;
                        var dy = GradOf(_kernelOut[node.Id]);
                        if (node.Ints[conv ? 11 : 2] != 0) Add(new Step(StepKind.BiasGrad, node, dy));
                        Add(new Step(conv ? StepKind.ConvBackWeights : StepKind.LinearBackWeights, node, f.Io[0], dy));
                        int x = node.Inputs[0];
                        if (_needsGrad[x]) Contribute(x, new Step(conv ? StepKind.ConvBackData : StepKind.LinearBackData, node, dy, GradOf(x)), 1);
                        break;
                    }
                case StepKind.BnTrain:
                    {
                        int x = node.Inputs[0];
                        Contribute(x, new Step(StepKind.BnBackTrain, node, f.Io[0], GradOf(_kernelOut[node.Id]), GradOf(x)) { Act = f.Act, State = f.State }, 2);
                        break;
                    }
                case StepKind.MaxPool:
                case StepKind.AvgPool:
                case StepKind.Gap:
                    {
                        int x = node.Inputs[0];
                        if (!_needsGrad[x]) break;
                        var dy = GradOf(node.Id);
                        if (f.Kind == StepKind.MaxPool) Contribute(x, new Step(StepKind.MaxPoolBack, node, f.Io[0], dy, GradOf(x)), 2);
                        else Contribute(x, new Step(f.Kind == StepKind.AvgPool ? StepKind.AvgPoolBack : StepKind.GapBack, node, dy, GradOf(x)), 1);
                        break;
                    }
                case StepKind.Upsample:
                    {
                        // Needs only dy: which outputs read which input is fixed by the shapes.
                        int x = node.Inputs[0];
                        if (_needsGrad[x]) Contribute(x, new Step(StepKind.UpsampleBack, node, GradOf(node.Id), GradOf(x)), 1);
                        break;
                    }
                case StepKind.Dropout:
                    {
                        int x = node.Inputs[0];
                        if (_needsGrad[x]) Contribute(x, new Step(StepKind.DropoutBack, node, GradOf(node.Id), f.Io[1], GradOf(x)) { Size = node.Size }, 2);
                        break;
                    }
                case StepKind.Copy:
                    {
                        // A concat part that could not be written in place: route its slice of the gradient back.
                        int part = FindCopiedPart(f);
                        if (part >= 0 && _needsGrad[part])
                        {
                            var concatGrad = GradOf(node.Id);
                            var src = new Ref(concatGrad.Buffer, concatGrad.Shift + (f.Io[1].Shift - _p.Values[node.Id].Shift));
                            Contribute(part, new Step(StepKind.Copy, node, src, GradOf(part)) { Size = f.Size }, 1);
                        }
                        break;
                    }
                case StepKind.Eltwise:
                    {
                        var g = f.Group!;
                        var back = new Step(StepKind.EltwiseBack, node, g.Leaves.Select(RefOf).Concat(new[] { GradOf(g.Root.Id) }).ToArray())
                        {
                            Group = g,
                            LeafGrads = new Ref?[g.Leaves.Count],
                            LeafAccumulate = new bool[g.Leaves.Count],
                        };
                        for (int li = 0; li < g.Leaves.Count; li++)
                        {
                            int leaf = g.Leaves[li];
                            if (!_needsGrad[leaf]) continue;
                            var gr = GradOf(leaf);
                            back.LeafGrads[li] = gr;
                            back.LeafAccumulate[li] = NeedsAccumulate(leaf, gr, back);
                        }
                        Add(back);
                        break;
                    }
            }
        }
    }

    int FindCopiedPart(Step copy)
    {
        foreach (var kv in _p.Values)
            if (kv.Value == copy.Io[0] && copy.Node!.Inputs.Contains(kv.Key)) return kv.Key;
        return -1;
    }

    /// <summary>Adds a step that writes the gradient of <paramref name="v"/> (operand <paramref name="target"/>),
    /// deciding whether it overwrites or accumulates.</summary>
    void Contribute(int v, Step step, int target)
    {
        step.Accumulate = NeedsAccumulate(v, step.Io[target], step);
        Add(step);
    }

    /// <summary>The first write to a gradient buffer may overwrite only if it covers the whole buffer;
    /// otherwise the buffer is cleared first. Every later write accumulates.</summary>
    bool NeedsAccumulate(int v, Ref grad, Step? before)
    {
        if (_gradWritten.Contains(grad.Buffer)) return true;
        _gradWritten.Add(grad.Buffer);
        var buffer = _p.Buffers[grad.Buffer];
        if (grad.Shift == 0 && _nodes[v].Size == buffer.PerSample) return false;
        Add(new Step(StepKind.Clear, null, new Ref(grad.Buffer, 0)) { Size = buffer.PerSample });
        return true;
    }

    // ---- memory ----

    void AllocateArena()
    {
        var steps = _p.Steps;
        _p.Buffers[_p.Input.Buffer].Touch(-1);
        foreach (var s in steps)
        {
            foreach (var r in s.Io) _p.Buffers[r.Buffer].Touch(s.Index);
            if (s.LeafGrads is not null)
                foreach (var r in s.LeafGrads) if (r is { } rr) _p.Buffers[rr.Buffer].Touch(s.Index);
        }
        _p.Buffers[_p.Output.Buffer].Touch(steps.Count);
        foreach (var b in _p.Buffers)
        {
            if (b.LastUse < 0) b.Touch(steps.Count);
            if (b.Pinned) b.LastUse = steps.Count + 1;
        }

        var placed = new List<Buffer>();
        int end = 0;
        foreach (var b in _p.Buffers.OrderBy(b => b.FirstUse).ThenByDescending(b => b.PerSample))
        {
            var overlapping = placed.Where(o => o.FirstUse <= b.LastUse && b.FirstUse <= o.LastUse).OrderBy(o => o.Offset).ToList();
            int offset = 0;
            foreach (var o in overlapping)
            {
                if (offset + b.PerSample <= o.Offset) break;
                offset = System.Math.Max(offset, o.Offset + o.PerSample);
            }
            b.Offset = offset;
            placed.Add(b);
            end = System.Math.Max(end, offset + b.PerSample);
        }
        _p.ArenaPerSample = end;
    }
}
