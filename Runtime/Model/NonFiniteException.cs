// The one exception for NaN and infinities met while training: which value (loss, a gradient, running
// statistics, a parameter, an activation), where (tensor, and the op and layer when generated code knows
// them) and when (epoch and step, added by the trainer). Raised at the step where the value first
// appears, so a diverging run stops there instead of training on, and overwriting checkpoints, with NaNs.
namespace Authoring.Runtime;

/// <summary>What held a non-finite value.</summary>
public enum NonFiniteKind
{
    /// <summary>The training loss of a step.</summary>
    Loss,
    /// <summary>A parameter's gradient, as the optimizer was about to apply it.</summary>
    Gradient,
    /// <summary>A BatchNorm layer's batch statistics (its running statistics were left as they were).</summary>
    RunningStatistics,
    /// <summary>A parameter or running statistic of the model (checked before a checkpoint is written).</summary>
    Parameter,
    /// <summary>An intermediate value of the forward or backward pass.</summary>
    Activation,
}

/// <summary>A NaN or infinity appeared while training. <see cref="Kind"/> says in what, <see cref="Tensor"/>,
/// <see cref="Op"/> and <see cref="Layer"/> say where (when known), <see cref="Epoch"/> and <see cref="Step"/> when.</summary>
public sealed class NonFiniteException : ArithmeticException
{
    /// <summary>Creates the exception; the message is composed from the fields.</summary>
    /// <param name="kind">What held the value.</param>
    /// <param name="value">The (first) non-finite value: NaN, +Infinity or -Infinity.</param>
    /// <param name="tensor">The parameter tensor concerned (state_dict name), if any.</param>
    /// <param name="index">The element of <paramref name="tensor"/> holding the first non-finite value, if known.</param>
    /// <param name="op">The op that produced the value, if known (e.g. "Conv2d").</param>
    /// <param name="layer">The layer (field name) that produced the value, if known.</param>
    /// <param name="epoch">1-based epoch, if known.</param>
    /// <param name="step">1-based step within the epoch, if known.</param>
    /// <param name="advice">A sentence on what to do, appended to the message.</param>
    /// <param name="inner">The exception this one adds context to.</param>
    public NonFiniteException(NonFiniteKind kind, float value, string? tensor = null, int? index = null, string? op = null, string? layer = null,
        int? epoch = null, int? step = null, string? advice = null, Exception? inner = null)
        : base(Compose(kind, value, tensor, index, op, layer, epoch, step, advice), inner)
    {
        Kind = kind;
        Value = value;
        Tensor = tensor;
        Index = index;
        Op = op;
        Layer = layer;
        Epoch = epoch;
        Step = step;
        Advice = advice;
    }

    /// <summary>What held the value.</summary>
    public NonFiniteKind Kind { get; }
    /// <summary>The (first) non-finite value.</summary>
    public float Value { get; }
    /// <summary>The parameter tensor concerned, or null.</summary>
    public string? Tensor { get; }
    /// <summary>The element of <see cref="Tensor"/> holding the first non-finite value, or null.</summary>
    public int? Index { get; }
    /// <summary>The op that produced the value, or null when not known.</summary>
    public string? Op { get; }
    /// <summary>The layer that produced the value, or null when not known.</summary>
    public string? Layer { get; }
    /// <summary>1-based epoch, or null when not known.</summary>
    public int? Epoch { get; }
    /// <summary>1-based step within the epoch, or null when not known.</summary>
    public int? Step { get; }
    /// <summary>What to do about it, or null.</summary>
    public string? Advice { get; }

    /// <summary>The same report with the training position (and advice) added; this exception becomes its inner one.</summary>
    public NonFiniteException WithPosition(int epoch, int step, string? advice = null) =>
        new(Kind, Value, Tensor, Index, Op, Layer, epoch, step, advice ?? Advice, this);

    static string Compose(NonFiniteKind kind, float value, string? tensor, int? index, string? op, string? layer, int? epoch, int? step, string? advice)
    {
        string what = kind switch
        {
            NonFiniteKind.Loss => "training loss",
            NonFiniteKind.Gradient => "gradient",
            NonFiniteKind.RunningStatistics => "batch statistics",
            NonFiniteKind.Parameter => "parameter value",
            _ => "activation",
        };
        string v = float.IsNaN(value) ? "NaN" : float.IsPositiveInfinity(value) ? "+Infinity" : float.IsNegativeInfinity(value) ? "-Infinity" : value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        var b = new System.Text.StringBuilder($"Non-finite {what} ({v})");
        if (tensor is not null) b.Append($" in tensor '{tensor}'{(index is null ? "" : $" (element {index})")}");
        if (layer is not null || op is not null) b.Append($" from {(op is null ? "" : op + " ")}{(layer is null ? "" : $"layer '{layer}'")}".TrimEnd());
        if (epoch is not null) b.Append($" at epoch {epoch}{(step is null ? "" : $", step {step}")}");
        else if (step is not null) b.Append($" at step {step}");
        b.Append('.');
        if (kind == NonFiniteKind.RunningStatistics) b.Append(" The running statistics were not updated from this batch.");
        if (advice is not null) b.Append(' ').Append(advice);
        return b.ToString();
    }
}

/// <summary>Where a traced training step first produced a non-finite value (<see cref="IModel.TraceNonFinite"/>).</summary>
/// <param name="Op">The op of the kernel that wrote it (e.g. "Conv2d"), or "Input" for the input batch.</param>
/// <param name="Layer">The layer (field name, state_dict prefix) of that op; empty for an op without a layer.</param>
/// <param name="Where">Which step of the generated program wrote it, e.g. "forward step 3 of 41 (Conv2dForward stem + Relu)".</param>
public sealed record NonFiniteOrigin(string Op, string Layer, string Where);
