// A data set of any model input and training target the DSL compiles: float samples of any per-sample shape or
// token ids, with integer labels (one per sample, or one per position for a language model) or float targets
// (regression, multi-label). Held as flat arrays in the layout IModel.Infer and IModel.TrainStep take, so batches
// are plain span copies. LabeledImages converts to it.
namespace Authoring.Runtime.Data;

/// <summary>Model inputs (floats or token ids) with their training targets (integer labels or floats).</summary>
public sealed class SampleSet
{
    /// <summary>The label PyTorch's cross-entropy skips (ignore_index); allowed wherever labels are.</summary>
    public const int IgnoreLabel = -100;

    readonly float[]? _inputs;
    readonly int[]? _tokens;
    readonly int[]? _labels;
    readonly float[]? _targets;

    SampleSet(float[]? inputs, int[]? tokens, IReadOnlyList<int> shape, int[]? labels, float[]? targets, int targetSize, int classCount)
    {
        if (shape.Count is < 1 or > 4 || shape.Any(d => d <= 0))
            throw new ArgumentException($"The per-sample shape ({string.Join(", ", shape)}) must have 1 to 4 positive sizes.", nameof(shape));
        long sampleSize = shape.Aggregate(1L, (a, d) => a * d);
        if (sampleSize > int.MaxValue) throw new ArgumentException($"A sample of shape ({string.Join(", ", shape)}) exceeds {int.MaxValue} values.", nameof(shape));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        long inputLength = inputs?.LongLength ?? tokens!.LongLength;
        long count = inputLength / sampleSize;
        if (inputLength != count * sampleSize)
            throw new ArgumentException($"{inputLength} input values are not a whole number of samples of {sampleSize} ({string.Join(", ", shape)}).", inputs is null ? "tokens" : "inputs");
        long targetLength = labels?.LongLength ?? targets!.LongLength;
        if (targetLength != count * targetSize)
            throw new ArgumentException($"{count} samples need {count * targetSize} {(labels is null ? "float targets" : "labels")} ({targetSize} per sample); got {targetLength}.",
                labels is null ? "targets" : "labels");
        if (tokens is not null)
            for (long i = 0; i < tokens.LongLength; i++)
                if (tokens[i] < 0) throw new ArgumentException($"Token {tokens[i]} at {i} (sample {i / sampleSize}) is negative.", nameof(tokens));
        if (labels is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
            for (long i = 0; i < labels.LongLength; i++)
                if ((uint)labels[i] >= (uint)classCount && labels[i] != IgnoreLabel)
                    throw new ArgumentException($"Label {labels[i]} at {i} (sample {i / targetSize}) is outside [0, {classCount}) and not the ignored label {IgnoreLabel}.", nameof(labels));
        }
        if (targets is not null)
            for (long i = 0; i < targets.LongLength; i++)
                if (!float.IsFinite(targets[i])) throw new ArgumentException($"Target {i} (sample {i / targetSize}) is {targets[i]}: targets must be finite.", nameof(targets));
        _inputs = inputs;
        _tokens = tokens;
        _labels = labels;
        _targets = targets;
        Shape = shape.ToArray();
        SampleSize = (int)sampleSize;
        Count = checked((int)count);
        TargetSize = targetSize;
        ClassCount = labels is null ? 0 : classCount;
    }

    /// <summary>Float samples with integer class labels (cross-entropy).</summary>
    /// <param name="inputs">Count x shape floats, sample-major.</param>
    /// <param name="shape">The per-sample shape, as the model's <see cref="IModel.InputShape"/>.</param>
    /// <param name="labels">labelsPerSample labels per sample, each in [0, classCount) or <see cref="IgnoreLabel"/>.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="labelsPerSample">1, or the positions of an (N, classes) output.</param>
    public static SampleSet WithLabels(float[] inputs, IReadOnlyList<int> shape, int[] labels, int classCount, int labelsPerSample = 1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(labels);
        return new(inputs, null, shape, labels, null, labelsPerSample, classCount);
    }

    /// <summary>Float samples with float targets (MSE, L1, BCE with logits).</summary>
    /// <param name="inputs">Count x shape floats, sample-major.</param>
    /// <param name="shape">The per-sample shape.</param>
    /// <param name="targets">targetSize floats per sample (the model output's size).</param>
    /// <param name="targetSize">Floats per sample of <paramref name="targets"/>.</param>
    public static SampleSet WithTargets(float[] inputs, IReadOnlyList<int> shape, float[] targets, int targetSize)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(targets);
        return new(inputs, null, shape, null, targets, targetSize, 0);
    }

    /// <summary>Token sequences with integer labels: one per sequence, or one per position (language modelling).</summary>
    /// <param name="tokens">Count x length token ids, sample-major.</param>
    /// <param name="length">Tokens per sample.</param>
    /// <param name="labels">labelsPerSample labels per sample, each in [0, classCount) or <see cref="IgnoreLabel"/>.</param>
    /// <param name="classCount">Number of classes (the vocabulary, for a language model).</param>
    /// <param name="labelsPerSample">1, or the positions of an (N, classes) output.</param>
    public static SampleSet TokensWithLabels(int[] tokens, int length, int[] labels, int classCount, int labelsPerSample = 1)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(labels);
        return new(null, tokens, [length], labels, null, labelsPerSample, classCount);
    }

    /// <summary>Token sequences with float targets.</summary>
    /// <param name="tokens">Count x length token ids, sample-major.</param>
    /// <param name="length">Tokens per sample.</param>
    /// <param name="targets">targetSize floats per sample.</param>
    /// <param name="targetSize">Floats per sample of <paramref name="targets"/>.</param>
    public static SampleSet TokensWithTargets(int[] tokens, int length, float[] targets, int targetSize)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(targets);
        return new(null, tokens, [length], null, targets, targetSize, 0);
    }

    /// <summary>Floats or token ids.</summary>
    public InputKind InputKind => _tokens is null ? InputKind.Floats : InputKind.Tokens;
    /// <summary>Whether the targets are integer labels (else floats).</summary>
    public bool HasLabels => _labels is not null;
    /// <summary>The per-sample input shape.</summary>
    public IReadOnlyList<int> Shape { get; }
    /// <summary>Input values (floats or tokens) per sample.</summary>
    public int SampleSize { get; }
    /// <summary>Number of samples.</summary>
    public int Count { get; }
    /// <summary>Labels or float targets per sample.</summary>
    public int TargetSize { get; }
    /// <summary>Number of classes of the labels; 0 with float targets.</summary>
    public int ClassCount { get; }

    /// <summary>Copies sample <paramref name="index"/>'s input and targets into row <paramref name="row"/> of batch buffers;
    /// the buffers this set does not use may be empty.</summary>
    internal void CopyTo(int index, int row, Span<float> inputs, Span<int> tokens, Span<int> labels, Span<float> targets)
    {
        if (_inputs is not null) _inputs.AsSpan(index * SampleSize, SampleSize).CopyTo(inputs.Slice(row * SampleSize, SampleSize));
        else _tokens.AsSpan(index * SampleSize, SampleSize).CopyTo(tokens.Slice(row * SampleSize, SampleSize));
        if (_labels is not null) _labels.AsSpan(index * TargetSize, TargetSize).CopyTo(labels.Slice(row * TargetSize, TargetSize));
        else _targets.AsSpan(index * TargetSize, TargetSize).CopyTo(targets.Slice(row * TargetSize, TargetSize));
    }

    /// <summary>A copy of samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    public SampleSet Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (start + (long)count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Samples [{start}, {start + (long)count}) exceed the {Count} available.");
        T[]? Part<T>(T[]? a, int per) => a?.AsSpan(start * per, count * per).ToArray();
        return new(Part(_inputs, SampleSize), Part(_tokens, SampleSize), Shape, Part(_labels, TargetSize), Part(_targets, TargetSize), TargetSize, Math.Max(ClassCount, 1));
    }

    /// <summary>Checks that <paramref name="model"/> takes these inputs and trains on these targets; throws an
    /// <see cref="ArgumentException"/> for <paramref name="name"/> saying what differs.</summary>
    public void CheckFits(IModel model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        string Shape_(IReadOnlyList<int> s) => $"({string.Join(", ", s)})";
        if (model.InputKind != InputKind)
            throw new ArgumentException($"{model.Name} takes {(model.InputKind == InputKind.Tokens ? "token ids" : "floats")}; the data holds {(InputKind == InputKind.Tokens ? "token ids" : "floats")}.", name);
        // Image models need the exact (C, H, W); others take any sample of the input's size.
        bool shapeDiffers = model.InputShape.Count == 3 && !model.InputShape.SequenceEqual(Shape);
        if (SampleSize != model.InputSize || shapeDiffers)
            throw new ArgumentException($"Samples of shape {Shape_(Shape)} = {SampleSize} values do not fit {model.Name}'s input {Shape_(model.InputShape)} = {model.InputSize}.", name);
        bool wantsLabels = model.Loss == Authoring.Loss.CrossEntropy;
        if (wantsLabels != HasLabels)
            throw new ArgumentException($"{model.Name} trains with {model.Loss}, which takes {(wantsLabels ? "integer labels" : "float targets")}; the data holds {(HasLabels ? "integer labels" : "float targets")}.", name);
        if (TargetSize != model.TargetSize)
            throw new ArgumentException($"{model.Name} takes {model.TargetSize} {(wantsLabels ? "labels" : "targets")} per sample; the data has {TargetSize}.", name);
        int classes = model.OutputShape[^1];
        if (HasLabels && ClassCount > classes)
            throw new ArgumentException($"The data has {ClassCount} classes but {model.Name} outputs {classes} logits per {(TargetSize == 1 ? "sample" : "position")}.", name);
    }
}
