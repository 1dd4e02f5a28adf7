// Mini-batches over a SampleSet (or LabeledImages), copied into buffers the caller owns, so a training loop
// allocates nothing per batch. Shuffling is a seeded Fisher-Yates permutation redrawn each epoch from
// one Random, so a run is reproducible from its seed.
namespace Authoring.Runtime.Data;

/// <summary>Iterates a data set in (optionally shuffled) mini-batches.</summary>
public sealed class BatchIterator
{
    readonly SampleSet _data;
    readonly int[] _order;
    readonly Random? _rng;
    int _position;

    /// <summary>Creates an iterator; call <see cref="Reset"/> at the start of each epoch (the first epoch needs no call).</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per batch (the last batch may be smaller unless <paramref name="dropLast"/>).</param>
    /// <param name="shuffle">Whether each epoch visits samples in a fresh random order.</param>
    /// <param name="seed">Seed of the shuffling.</param>
    /// <param name="dropLast">Skip a final incomplete batch, as PyTorch's DataLoader drop_last.</param>
    public BatchIterator(LabeledImages data, int batchSize, bool shuffle = true, int seed = 0, bool dropLast = false)
        : this(data?.ToSampleSet()!, batchSize, shuffle, seed, dropLast)
    {
    }

    /// <summary>Creates an iterator over any sample set; call <see cref="Reset"/> at the start of each epoch (the first epoch needs no call).</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per batch (the last batch may be smaller unless <paramref name="dropLast"/>).</param>
    /// <param name="shuffle">Whether each epoch visits samples in a fresh random order.</param>
    /// <param name="seed">Seed of the shuffling.</param>
    /// <param name="dropLast">Skip a final incomplete batch, as PyTorch's DataLoader drop_last.</param>
    public BatchIterator(SampleSet data, int batchSize, bool shuffle = true, int seed = 0, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _data = data;
        BatchSize = batchSize;
        DropLast = dropLast;
        _order = new int[data.Count];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (shuffle) _rng = new Random(seed);
        Reset();
    }

    /// <summary>Samples per full batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether a final incomplete batch is skipped.</summary>
    public bool DropLast { get; }
    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => DropLast ? _data.Count / BatchSize : (_data.Count + BatchSize - 1) / BatchSize;
    /// <summary>Samples visited in one epoch.</summary>
    public int SamplesPerEpoch => DropLast ? BatchesPerEpoch * BatchSize : _data.Count;

    /// <summary>Starts a new epoch, drawing a new order when shuffling.</summary>
    public void Reset()
    {
        _position = 0;
        if (_rng is null) return;
        for (int i = _order.Length - 1; i > 0; i--)
        {
            int j = _rng.Next(i + 1);
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
    }

    /// <summary>Copies the next batch of float samples with one label each into <paramref name="images"/> (at least
    /// BatchSize * SampleSize floats) and <paramref name="labels"/> (at least BatchSize ints).</summary>
    /// <param name="images">Destination for the images, sample-major.</param>
    /// <param name="labels">Destination for the labels.</param>
    /// <param name="count">Samples written (BatchSize, or fewer for the last batch).</param>
    /// <returns>False when the epoch is over (nothing written).</returns>
    public bool Next(Span<float> images, Span<int> labels, out int count)
    {
        if (_data.InputKind != InputKind.Floats || !_data.HasLabels)
            throw new InvalidOperationException("This data set holds token ids or float targets: use Next(inputs, tokens, labels, targets, out count).");
        return Next(images, [], labels, [], out count);
    }

    /// <summary>Copies the next batch into the buffers the data set uses (sized for a full batch); the others may be empty.</summary>
    /// <param name="inputs">Float inputs, BatchSize * SampleSize, when the set holds floats.</param>
    /// <param name="tokens">Token ids, BatchSize * SampleSize, when the set holds tokens.</param>
    /// <param name="labels">Labels, BatchSize * TargetSize, when the set holds labels.</param>
    /// <param name="targets">Float targets, BatchSize * TargetSize, when the set holds float targets.</param>
    /// <param name="count">Samples written (BatchSize, or fewer for the last batch).</param>
    /// <returns>False when the epoch is over (nothing written).</returns>
    public bool Next(Span<float> inputs, Span<int> tokens, Span<int> labels, Span<float> targets, out int count)
    {
        long inputNeed = (long)BatchSize * _data.SampleSize, targetNeed = (long)BatchSize * _data.TargetSize;
        if (_data.InputKind == InputKind.Floats ? inputs.Length < inputNeed : tokens.Length < inputNeed)
            throw new ArgumentException($"The {(_data.InputKind == InputKind.Floats ? "input" : "token")} buffer holds {(_data.InputKind == InputKind.Floats ? inputs.Length : tokens.Length)} values; a batch needs {BatchSize} x {_data.SampleSize}.",
                _data.InputKind == InputKind.Floats ? nameof(inputs) : nameof(tokens));
        if (_data.HasLabels ? labels.Length < targetNeed : targets.Length < targetNeed)
            throw new ArgumentException($"The {(_data.HasLabels ? "label" : "target")} buffer holds {(_data.HasLabels ? labels.Length : targets.Length)} values; a batch needs {BatchSize} x {_data.TargetSize}.",
                _data.HasLabels ? nameof(labels) : nameof(targets));
        count = Math.Min(BatchSize, _order.Length - _position);
        if (count <= 0 || (DropLast && count < BatchSize))
        {
            count = 0;
            return false;
        }
        for (int i = 0; i < count; i++) _data.CopyTo(_order[_position + i], i, inputs, tokens, labels, targets);
        _position += count;
        return true;
    }
}
