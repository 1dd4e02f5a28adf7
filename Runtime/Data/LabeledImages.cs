// A labelled image set held as one flat float array (sample-major, CHW inside a sample), the layout
// IModel.Infer and IModel.TrainStep take, so batches are plain span copies.
namespace Authoring.Runtime.Data;

/// <summary>Images (float, CHW per sample) with integer class labels.</summary>
public sealed class LabeledImages
{
    /// <summary>Wraps existing arrays without copying.</summary>
    /// <param name="images">Count * channels * height * width floats, sample-major.</param>
    /// <param name="labels">One label per sample, in [0, <paramref name="classCount"/>).</param>
    /// <param name="channels">Channels per image.</param>
    /// <param name="height">Image height.</param>
    /// <param name="width">Image width.</param>
    /// <param name="classCount">Number of classes.</param>
    public LabeledImages(float[] images, int[] labels, int channels, int height, int width, int classCount)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels <= 0 || height <= 0 || width <= 0) throw new ArgumentException($"Image shape ({channels}, {height}, {width}) must be positive.");
        if (classCount <= 0) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "Need at least one class.");
        long sample = (long)channels * height * width;
        if (images.LongLength != sample * labels.Length)
            throw new ArgumentException($"{labels.Length} labels need {sample * labels.Length} image floats of shape ({channels}, {height}, {width}); got {images.LongLength}.", nameof(images));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"Label {labels[i]} of sample {i} is outside [0, {classCount}).", nameof(labels));
        Images = images;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassCount = classCount;
    }

    /// <summary>All images, sample-major.</summary>
    public float[] Images { get; }
    /// <summary>Labels, one per sample.</summary>
    public int[] Labels { get; }
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Image height.</summary>
    public int Height { get; }
    /// <summary>Image width.</summary>
    public int Width { get; }
    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }
    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;
    /// <summary>Floats per sample (channels * height * width).</summary>
    public int SampleSize => Channels * Height * Width;
    /// <summary>The per-sample shape (channels, height, width), as <see cref="IModel.InputShape"/> reports it.</summary>
    public IReadOnlyList<int> Shape => [Channels, Height, Width];

    /// <summary>The floats of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Image(int index) => Images.AsSpan(index * SampleSize, SampleSize);

    /// <summary>A copy of samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>), for quick
    /// runs and smoke tests on part of a data set (Fashion-MNIST's files are not ordered by class).</summary>
    public LabeledImages Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (start + (long)count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Samples [{start}, {start + (long)count}) exceed the {Count} available.");
        return new LabeledImages(Images.AsSpan(start * SampleSize, count * SampleSize).ToArray(), Labels.AsSpan(start, count).ToArray(),
            Channels, Height, Width, ClassCount);
    }

    /// <summary>The same samples as a <see cref="SampleSet"/> (no copy), as the trainer takes them.</summary>
    public SampleSet ToSampleSet() => SampleSet.WithLabels(Images, Shape, Labels, ClassCount);

    /// <summary>The same samples as a <see cref="SampleSet"/> (no copy).</summary>
    public static implicit operator SampleSet(LabeledImages images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return images.ToSampleSet();
    }

    /// <summary>Samples per class.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (int l in Labels) counts[l]++;
        return counts;
    }
}
