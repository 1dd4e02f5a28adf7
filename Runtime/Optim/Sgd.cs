// Stochastic gradient descent with PyTorch's exact semantics (torch.optim.SGD, maximize = false):
//   d = g + wd * p;  buf = d on the first step, else momentum * buf + (1 - dampening) * d;
//   d = nesterov ? d + momentum * buf : buf;  p -= lr * d.
using System.Numerics.Tensors;

namespace Authoring.Runtime.Optim;

/// <summary>SGD with optional momentum, dampening, L2 weight decay and Nesterov momentum, as torch.optim.SGD.</summary>
public sealed class Sgd : IOptimizer
{
    readonly float[] _scratch = new float[TrainableSegments.Chunk];
    TrainableSegments? _segments;
    float[]? _momentum;

    /// <summary>Creates the optimizer; arguments mean what they mean in torch.optim.SGD.</summary>
    /// <param name="learningRate">Step size (lr).</param>
    /// <param name="momentum">Momentum factor; 0 disables the momentum buffer.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (coupled, unlike AdamW).</param>
    /// <param name="nesterov">Nesterov momentum; needs momentum &gt; 0 and dampening 0, as in PyTorch.</param>
    /// <param name="dampening">Dampening for momentum (not applied on the first step, as in PyTorch).</param>
    /// <param name="decayFilter">Which tensors weight decay applies to (e.g. <see cref="DecayFilters.WeightsOnly"/>); null for all.</param>
    public Sgd(float learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false, double dampening = 0,
        Func<ParameterInfo, bool>? decayFilter = null)
    {
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "Learning rate must be >= 0.");
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be >= 0.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be >= 0.");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Nesterov momentum requires momentum > 0 and zero dampening (as torch.optim.SGD).", nameof(nesterov));
        LearningRate = learningRate;
        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
        Dampening = dampening;
        DecayFilter = decayFilter;
    }

    /// <inheritdoc/>
    public float LearningRate { get; set; }
    /// <summary>Momentum factor.</summary>
    public double Momentum { get; }
    /// <summary>L2 penalty coefficient.</summary>
    public double WeightDecay { get; }
    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }
    /// <summary>Dampening for momentum.</summary>
    public double Dampening { get; }
    /// <inheritdoc/>
    public long StepCount { get; private set; }
    /// <summary>Which trainable tensors weight decay applies to; null means all of them (one PyTorch param group).</summary>
    public Func<ParameterInfo, bool>? DecayFilter { get; }
    /// <summary>Whether <see cref="Step"/> refuses gradients holding NaN or an infinity (a <see cref="NonFiniteException"/>,
    /// before anything changes). On by default; the check is one vectorised read of the gradients.</summary>
    public bool CheckFinite { get; init; } = true;

    /// <inheritdoc/>
    public OptimizerState GetState() => new(nameof(Sgd), StepCount,
        _momentum is null ? new Dictionary<string, float[]>() : new Dictionary<string, float[]> { ["momentum_buffer"] = (float[])_momentum.Clone() },
        Settings());

    /// <inheritdoc/>
    public void SetState(ParameterStore store, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Optimizer != nameof(Sgd)) throw new ArgumentException($"The state is {state.Optimizer}'s, not Sgd's.", nameof(state));
        TrainableSegments.Bind(ref _segments, store, DecayFilter, nameof(Sgd));
        // No buffer before the first step (or without momentum): the next step starts it as PyTorch does.
        _momentum = Momentum != 0 && state.Buffers.ContainsKey("momentum_buffer") ? TrainableSegments.Buffer(state, "momentum_buffer", store, nameof(Sgd)) : null;
        StepCount = state.StepCount;
    }

    Dictionary<string, string> Settings()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new()
        {
            ["lr"] = LearningRate.ToString("R", inv), ["momentum"] = Momentum.ToString("R", inv), ["weight_decay"] = WeightDecay.ToString("R", inv),
            ["nesterov"] = Nesterov ? "true" : "false", ["dampening"] = Dampening.ToString("R", inv),
        };
    }

    /// <inheritdoc/>
    public void Step(ParameterStore store)
    {
        var seg = TrainableSegments.Bind(ref _segments, store, DecayFilter, nameof(Sgd));
        if (CheckFinite) seg.CheckFinite(store.Grads, nameof(Sgd));
        // The buffer spans the whole store (running statistics included) so offsets need no translation.
        if (Momentum != 0) _momentum ??= new float[store.Values.Length];
        bool first = StepCount == 0;
        float[] values = store.Values, grads = store.Grads;
        for (int s = 0; s < seg.Count; s++)
        {
            int end = seg.Offset(s) + seg.Length(s);
            for (int o = seg.Offset(s); o < end; o += TrainableSegments.Chunk)
            {
                int n = Math.Min(TrainableSegments.Chunk, end - o);
                Update(values.AsSpan(o, n), grads.AsSpan(o, n), _momentum is null ? default : _momentum.AsSpan(o, n), first, seg.Decay(s));
            }
        }
        StepCount++;
    }

    void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> buf, bool first, bool decay)
    {
        var scratch = _scratch.AsSpan(0, p.Length);
        // Scalars are rounded to float once, as PyTorch passes Python floats to float kernels.
        float wd = (float)WeightDecay, mu = (float)Momentum, oneMinusDamp = (float)(1 - Dampening);
        // d = g + wd * p, into scratch so the caller's gradients stay as the model wrote them.
        ReadOnlySpan<float> d = g;
        if (WeightDecay != 0 && decay)
        {
            TensorPrimitives.FusedMultiplyAdd(p, wd, g, scratch);
            d = scratch;
        }
        if (Momentum != 0)
        {
            if (first) d.CopyTo(buf);
            else
            {
                TensorPrimitives.Multiply(buf, mu, buf);
                TensorPrimitives.FusedMultiplyAdd(d, oneMinusDamp, buf, buf);
            }
            if (Nesterov)
            {
                // d may already be scratch; same-start overlap is allowed by TensorPrimitives.
                TensorPrimitives.FusedMultiplyAdd(buf, mu, d, scratch);
                d = scratch;
            }
            else d = buf;
        }
        TensorPrimitives.FusedMultiplyAdd(d, -LearningRate, p, p);
    }
}
