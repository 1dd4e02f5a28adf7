// Mini-batches over a LabeledImages set, copied into buffers the caller owns, so a training loop
// allocates nothing per batch. Shuffling is a seeded Fisher-Yates permutation redrawn each epoch from
// one Random, so a run is reproducible from its seed.
namespace Authoring.Runtime.Data;

/// <summary>Iterates a data set in (optionally shuffled) mini-batches.</summary>
public sealed class BatchIterator
{
    readonly LabeledImages _data;
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

    /// <summary>Copies the next batch into <paramref name="images"/> (at least BatchSize * SampleSize floats) and
    /// <paramref name="labels"/> (at least BatchSize ints).</summary>
    /// <param name="images">Destination for the images, sample-major.</param>
    /// <param name="labels">Destination for the labels.</param>
    /// <param name="count">Samples written (BatchSize, or fewer for the last batch).</param>
    /// <returns>False when the epoch is over (nothing written).</returns>
    public bool Next(Span<float> images, Span<int> labels, out int count)
    {
        int size = _data.SampleSize;
        if (images.Length < BatchSize * size)
            throw new ArgumentException($"The image buffer holds {images.Length} floats; a batch needs {BatchSize} x {size}.", nameof(images));
        if (labels.Length < BatchSize)
            throw new ArgumentException($"The label buffer holds {labels.Length} ints; a batch needs {BatchSize}.", nameof(labels));
        count = Math.Min(BatchSize, _order.Length - _position);
        if (count <= 0 || (DropLast && count < BatchSize))
        {
            count = 0;
            return false;
        }
        var src = _data.Images;
        for (int i = 0; i < count; i++)
        {
            int s = _order[_position + i];
            src.AsSpan(s * size, size).CopyTo(images.Slice(i * size, size));
            labels[i] = _data.Labels[s];
        }
        _position += count;
        return true;
    }
}
