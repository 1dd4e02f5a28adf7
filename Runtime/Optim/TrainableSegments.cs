// Contiguous runs of trainable scalars in a ParameterStore's flat arrays. Optimizers walk these runs in
// fixed-size chunks so every vector pass over a chunk stays in L1, and skip running statistics. Each run
// also says whether weight decay applies to it (PyTorch's two-param-group recipe: no decay on norms and biases).
namespace Authoring.Runtime.Optim;

/// <summary>The (offset, length) runs of trainable scalars, adjacent tensors merged.</summary>
internal sealed class TrainableSegments
{
    /// <summary>Floats processed per inner pass: 8 KB per stream, so the 3-5 streams an update touches fit L1.</summary>
    internal const int Chunk = 2048;

    readonly int[] _offsets;
    readonly int[] _lengths;
    readonly bool[] _decay;

    internal TrainableSegments(ParameterStore store, Func<ParameterInfo, bool>? decayFilter)
    {
        Store = store;
        var offsets = new List<int>();
        var lengths = new List<int>();
        var decay = new List<bool>();
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var info = store.Infos[i];
            if (!info.Trainable || info.Length == 0) continue;
            int off = store.OffsetOf(i);
            bool d = decayFilter?.Invoke(info) ?? true;
            int last = offsets.Count - 1;
            // Merge with the previous run when contiguous and alike, so small bias tensors do not cost a call each.
            if (last >= 0 && offsets[last] + lengths[last] == off && decay[last] == d) lengths[last] += info.Length;
            else { offsets.Add(off); lengths.Add(info.Length); decay.Add(d); }
        }
        _offsets = offsets.ToArray();
        _lengths = lengths.ToArray();
        _decay = decay.ToArray();
    }

    /// <summary>The store these runs describe.</summary>
    internal ParameterStore Store { get; }

    /// <summary>Number of runs.</summary>
    internal int Count => _offsets.Length;

    /// <summary>Start of run <paramref name="i"/>.</summary>
    internal int Offset(int i) => _offsets[i];

    /// <summary>Length of run <paramref name="i"/>.</summary>
    internal int Length(int i) => _lengths[i];

    /// <summary>Whether weight decay applies to run <paramref name="i"/>.</summary>
    internal bool Decay(int i) => _decay[i];

    /// <summary>Throws <see cref="NonFiniteException"/> naming the first trainable tensor whose gradient holds NaN or an
    /// infinity. One vectorised read of the gradients before any update, so a failing step changes nothing.</summary>
    internal void CheckFinite(float[] grads, string optimizer)
    {
        for (int s = 0; s < _offsets.Length; s++)
        {
            var g = grads.AsSpan(_offsets[s], _lengths[s]);
            if (System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(g)) continue;
            int at = _offsets[s];
            while (float.IsFinite(grads[at])) at++;
            int tensor = 0;
            while (tensor + 1 < Store.Infos.Count && Store.OffsetOf(tensor + 1) <= at) tensor++;
            throw new NonFiniteException(NonFiniteKind.Gradient, grads[at], Store.Infos[tensor].Name, at - Store.OffsetOf(tensor),
                advice: $"{optimizer} left the parameters and its state as they were.");
        }
    }

    /// <summary>Checks an optimizer state's buffers fit this store before they replace the optimizer's own.</summary>
    internal static float[] Buffer(OptimizerState state, string name, ParameterStore store, string optimizer)
    {
        if (!state.Buffers.TryGetValue(name, out var b))
            throw new ArgumentException($"The {optimizer} state has no '{name}' buffer.", nameof(state));
        if (b.Length != store.Values.Length)
            throw new ArgumentException($"The {optimizer} state's '{name}' buffer holds {b.Length} values; the store has {store.Values.Length}.", nameof(state));
        return (float[])b.Clone();
    }

    /// <summary>Binds lazily: returns the segments for <paramref name="store"/>, building them on first use
    /// and refusing a different store later (the optimizer's state is laid out for the first one).</summary>
    internal static TrainableSegments Bind(ref TrainableSegments? segments, ParameterStore store, Func<ParameterInfo, bool>? decayFilter, string optimizer)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (segments is null) return segments = new TrainableSegments(store, decayFilter);
        if (!ReferenceEquals(segments.Store, store))
            throw new InvalidOperationException(
                $"{optimizer} was first stepped on another ParameterStore; its state belongs to that store. Create one optimizer per model.");
        return segments;
    }
}
