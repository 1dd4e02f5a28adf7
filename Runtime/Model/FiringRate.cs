// Firing-rate statistics of a spiking model's neuron layers: each fused neuron kernel counts the spikes it emits,
// and the generated model sums the counts per layer between resets (no extra pass over the spikes).
namespace Authoring.Runtime;

/// <summary>How often one neuron layer fired since the model's counters were last reset.</summary>
/// <param name="Layer">The layer's field name (its state_dict prefix).</param>
/// <param name="Spikes">Spikes emitted.</param>
/// <param name="Slots">Neuron-steps evaluated: samples * T * neurons per step, summed over the forward passes.</param>
public readonly record struct FiringRate(string Layer, long Spikes, long Slots)
{
    /// <summary>Spikes per neuron and time step, in [0, 1]; NaN before the layer has run.</summary>
    public double Rate => Slots == 0 ? double.NaN : (double)Spikes / Slots;

    /// <inheritdoc/>
    public override string ToString() => $"{Layer} {Rate:F3}";
}
