// Adam with decoupled weight decay, with PyTorch's exact semantics (torch.optim.AdamW, amsgrad = false):
//   p *= 1 - lr * wd;  m = lerp(m, g, 1 - b1);  v = b2 * v + (1 - b2) * g^2;
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// Bias corrections are computed in double, as PyTorch does with Python floats.
using System.Numerics.Tensors;

namespace Authoring.Runtime.Optim;

/// <summary>AdamW (Loshchilov and Hutter), as torch.optim.AdamW with amsgrad off.</summary>
public sealed class AdamW : IOptimizer
{
    readonly float[] _scratch = new float[TrainableSegments.Chunk];
    TrainableSegments? _segments;
    float[]? _m, _v;

    /// <summary>Creates the optimizer; defaults are torch.optim.AdamW's.</summary>
    /// <param name="learningRate">Step size (lr).</param>
    /// <param name="beta1">Decay of the first-moment average.</param>
    /// <param name="beta2">Decay of the second-moment average.</param>
    /// <param name="eps">Added to the bias-corrected sqrt of the second moment (outside the sqrt).</param>
    /// <param name="weightDecay">Decoupled decay: p -= lr * weightDecay * p before the Adam step.</param>
    /// <param name="decayFilter">Which tensors weight decay applies to (e.g. <see cref="DecayFilters.WeightsOnly"/>); null for all.</param>
    public AdamW(float learningRate = 1e-3f, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2,
        Func<ParameterInfo, bool>? decayFilter = null)
    {
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "Learning rate must be >= 0.");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be >= 0.");
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        DecayFilter = decayFilter;
    }

    /// <inheritdoc/>
    public float LearningRate { get; set; }
    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }
    /// <summary>Denominator epsilon.</summary>
    public double Eps { get; }
    /// <summary>Decoupled weight-decay coefficient.</summary>
    public double WeightDecay { get; }
    /// <inheritdoc/>
    public long StepCount { get; private set; }
    /// <summary>Which trainable tensors weight decay applies to; null means all of them (one PyTorch param group).</summary>
    public Func<ParameterInfo, bool>? DecayFilter { get; }
    /// <summary>Whether <see cref="Step"/> refuses gradients holding NaN or an infinity (a <see cref="NonFiniteException"/>,
    /// before anything changes). On by default; the check is one vectorised read of the gradients.</summary>
    public bool CheckFinite { get; init; } = true;

    /// <inheritdoc/>
    public OptimizerState GetState() => new(nameof(AdamW), StepCount,
        _m is null ? new Dictionary<string, float[]>() : new Dictionary<string, float[]> { ["exp_avg"] = (float[])_m.Clone(), ["exp_avg_sq"] = (float[])_v!.Clone() },
        Settings());

    /// <inheritdoc/>
    public void SetState(ParameterStore store, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Optimizer != nameof(AdamW)) throw new ArgumentException($"The state is {state.Optimizer}'s, not AdamW's.", nameof(state));
        TrainableSegments.Bind(ref _segments, store, DecayFilter, nameof(AdamW));
        bool stepped = state.Buffers.Count > 0;
        _m = stepped ? TrainableSegments.Buffer(state, "exp_avg", store, nameof(AdamW)) : null;
        _v = stepped ? TrainableSegments.Buffer(state, "exp_avg_sq", store, nameof(AdamW)) : null;
        StepCount = state.StepCount;
    }

    Dictionary<string, string> Settings()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new()
        {
            ["lr"] = LearningRate.ToString("R", inv), ["beta1"] = Beta1.ToString("R", inv), ["beta2"] = Beta2.ToString("R", inv),
            ["eps"] = Eps.ToString("R", inv), ["weight_decay"] = WeightDecay.ToString("R", inv),
        };
    }

    /// <inheritdoc/>
    public void Step(ParameterStore store)
    {
        var seg = TrainableSegments.Bind(ref _segments, store, DecayFilter, nameof(AdamW));
        if (CheckFinite) seg.CheckFinite(store.Grads, nameof(AdamW));
        _m ??= new float[store.Values.Length];
        _v ??= new float[store.Values.Length];
        long t = StepCount + 1;
        double bc1 = 1.0 - Math.Pow(Beta1, t);
        double bc2 = 1.0 - Math.Pow(Beta2, t);
        // Scalars are formed in double and rounded once, as PyTorch passes Python floats to float kernels.
        var k = new Coefficients(
            Decay: (float)(1.0 - LearningRate * WeightDecay),
            StepSize: (float)(LearningRate / bc1),
            Bc2Sqrt: (float)Math.Sqrt(bc2),
            OneMinusBeta1: (float)(1.0 - Beta1),
            Beta2: (float)Beta2,
            OneMinusBeta2: (float)(1.0 - Beta2),
            Eps: (float)Eps);
        float[] values = store.Values, grads = store.Grads;
        for (int s = 0; s < seg.Count; s++)
        {
            int end = seg.Offset(s) + seg.Length(s);
            for (int o = seg.Offset(s); o < end; o += TrainableSegments.Chunk)
            {
                int n = Math.Min(TrainableSegments.Chunk, end - o);
                Update(values.AsSpan(o, n), grads.AsSpan(o, n), _m.AsSpan(o, n), _v.AsSpan(o, n), k, seg.Decay(s));
            }
        }
        StepCount = t;
    }

    readonly record struct Coefficients(float Decay, float StepSize, float Bc2Sqrt, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float Eps);

    void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in Coefficients k, bool decay)
    {
        var scratch = _scratch.AsSpan(0, p.Length);
        if (WeightDecay != 0 && decay) TensorPrimitives.Multiply(p, k.Decay, p);
        TensorPrimitives.Lerp(m, g, k.OneMinusBeta1, m);
        TensorPrimitives.Multiply(g, g, scratch);
        TensorPrimitives.Multiply(v, k.Beta2, v);
        TensorPrimitives.FusedMultiplyAdd(scratch, k.OneMinusBeta2, v, v);
        // denom = sqrt(v) / sqrt(bc2) + eps: eps outside the sqrt and after the correction, as PyTorch.
        TensorPrimitives.Sqrt(v, scratch);
        TensorPrimitives.Divide(scratch, k.Bc2Sqrt, scratch);
        TensorPrimitives.Add(scratch, k.Eps, scratch);
        TensorPrimitives.Divide(m, scratch, scratch);
        TensorPrimitives.FusedMultiplyAdd(scratch, -k.StepSize, p, p);
    }
}
