// SGD and AdamW whose state (momentum buffer, moments) lives on the device beside the parameters they
// update, so a training step on the GPU is: kernels, loss read back (two floats), optimizer kernel.
// Hyper-parameters, validation and PyTorch semantics are the host optimizers' (Runtime/Optim): each
// device optimizer can be made from a host one (same settings, fresh state), and its Step is the
// host Step on DeviceParameters, to the bit on ILGPU's CPU accelerator (tests/Authoring.Gpu.Tests/
// OptimizerTests.cs), to a few float roundings on CUDA (see GpuKernels.Optim.cs).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime;
using Authoring.Runtime.Optim;

namespace Authoring.Gpu;

/// <summary>An optimizer whose update runs on the device, on a <see cref="DeviceParameters"/>. As an <see cref="IOptimizer"/>
/// it is what a trainer schedules and checkpoints (its state in the host optimizer's format, so a checkpoint moves between
/// host and device training); its host <see cref="IOptimizer.Step"/> refuses, since the GPU model steps it inside TrainStep.</summary>
public interface IDeviceOptimizer : IOptimizer, IDisposable
{
    /// <summary>Binds to <paramref name="parameters"/> before any step, so <see cref="IOptimizer.SetState"/> can restore a
    /// checkpoint's state onto the device (the GPU model does this when given the optimizer).</summary>
    void Attach(DeviceParameters parameters);

    /// <summary>Queues one update of every trainable scalar of <paramref name="parameters"/> from its gradients
    /// (on the default stream, after the kernels that computed them). Binds to the first store it sees.</summary>
    void Step(DeviceParameters parameters);
}

/// <summary>Shared binding: kernels for the parameters' accelerator, state buffers sized for the first store.</summary>
public abstract class DeviceOptimizerBase : IDeviceOptimizer
{
    DeviceParameters? _bound;
    GpuKernels? _kernels;
    readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _state = [];

    /// <inheritdoc/>
    public float LearningRate { get; set; }

    /// <inheritdoc/>
    public long StepCount { get; protected set; }

    /// <summary>Which trainable tensors weight decay applies to; null means all of them.</summary>
    public Func<ParameterInfo, bool>? DecayFilter { get; protected init; }

    /// <inheritdoc/>
    public abstract void Step(DeviceParameters parameters);

    /// <inheritdoc/>
    public void Attach(DeviceParameters parameters) => Bind(parameters, GetType().Name);

    /// <summary>Refuses: the update runs on the device, inside the GPU model's TrainStep.</summary>
    public void Step(ParameterStore store) =>
        throw new InvalidOperationException($"{GetType().Name} updates the parameters on the device: give it to the GPU model (its Optimizer property) and its TrainStep runs it; do not step it on the host store.");

    /// <inheritdoc/>
    public abstract OptimizerState GetState();

    /// <inheritdoc/>
    public abstract void SetState(ParameterStore store, OptimizerState state);

    /// <summary>The parameters this optimizer is bound to; throws before <see cref="Attach"/> or a first step.</summary>
    protected DeviceParameters Bound(string what) =>
        _bound ?? throw new InvalidOperationException($"{GetType().Name} must be given to a GPU model (or attached to its DeviceParameters) before {what}.");

    /// <summary>A copy of a state buffer on the host.</summary>
    protected static float[] Read(ArrayView<float> view)
    {
        var host = new float[view.Length];
        if (host.Length > 0) view.CopyToCPU(host.AsSpan());
        return host;
    }

    /// <summary>A checkpoint's buffer <paramref name="name"/>, checked against the bound layout, for an upload.</summary>
    protected static float[] Buffer(OptimizerState state, string name, DeviceParameters parameters, string who)
    {
        if (!state.Buffers.TryGetValue(name, out var b)) throw new ArgumentException($"The {who} state has no '{name}' buffer.", nameof(state));
        if (b.Length != parameters.Length) throw new ArgumentException($"The {who} state's '{name}' holds {b.Length} floats; the model's parameters {parameters.Length}.", nameof(state));
        return b;
    }

    /// <summary>The kernels for <paramref name="parameters"/>' accelerator; refuses a second store.</summary>
    protected GpuKernels Bind(DeviceParameters parameters, string name)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_bound is null)
        {
            _bound = parameters;
            _kernels = new GpuKernels(parameters.Accelerator);
        }
        else if (!ReferenceEquals(_bound, parameters))
            throw new InvalidOperationException($"{name} was first stepped on other DeviceParameters; its state belongs to them. Create one optimizer per model.");
        return _kernels!;
    }

    /// <summary>A zeroed state buffer as long as the parameters (freed with the optimizer).</summary>
    protected ArrayView<float> NewState(DeviceParameters parameters)
    {
        var b = parameters.Accelerator.Allocate1D<float>(Math.Max(1, parameters.Length));
        b.MemSetToZero();
        _state.Add(b);
        return b.View.SubView(0, parameters.Length);
    }

    /// <summary>Frees the state buffers.</summary>
    public void Dispose()
    {
        foreach (var b in _state) b.Dispose();
        _state.Clear();
        _kernels?.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>torch.optim.SGD on the device: the settings of <see cref="Sgd"/>, the state on the accelerator.</summary>
public sealed class DeviceSgd : DeviceOptimizerBase
{
    ArrayView<float> _momentum;
    bool _hasState;
    bool _started; // the momentum buffer holds a step's value (false after a restore without one: PyTorch starts it again)
    readonly Sgd _host; // settings only: names and formats the state as the host optimizer does

    /// <summary>Same arguments and checks as <see cref="Sgd"/>.</summary>
    public DeviceSgd(float learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false, double dampening = 0,
        Func<ParameterInfo, bool>? decayFilter = null)
        : this(new Sgd(learningRate, momentum, weightDecay, nesterov, dampening, decayFilter)) { }

    /// <summary>The settings of <paramref name="host"/> (its state is not copied: a new optimizer starts at step 0).</summary>
    public DeviceSgd(Sgd host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = new Sgd(host.LearningRate, host.Momentum, host.WeightDecay, host.Nesterov, host.Dampening, host.DecayFilter);
        LearningRate = host.LearningRate;
        Momentum = host.Momentum;
        WeightDecay = host.WeightDecay;
        Nesterov = host.Nesterov;
        Dampening = host.Dampening;
        DecayFilter = host.DecayFilter;
    }

    /// <summary>Momentum factor.</summary>
    public double Momentum { get; }
    /// <summary>L2 penalty coefficient.</summary>
    public double WeightDecay { get; }
    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }
    /// <summary>Dampening for momentum.</summary>
    public double Dampening { get; }

    /// <summary>The host <see cref="Sgd"/>'s state format (name "Sgd", buffer "momentum_buffer"), read from the device.</summary>
    public override OptimizerState GetState()
    {
        _host.LearningRate = LearningRate;
        var settings = _host.GetState().Settings;
        var buffers = new Dictionary<string, float[]>();
        if (_hasState)
        {
            Bound("saving its state").Accelerator.Synchronize();
            buffers["momentum_buffer"] = Read(_momentum);
        }
        return new OptimizerState(nameof(Sgd), StepCount, buffers, settings);
    }

    /// <summary>Restores a host or device <see cref="Sgd"/> state onto the bound device.</summary>
    public override void SetState(ParameterStore store, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Optimizer != nameof(Sgd)) throw new ArgumentException($"The state is {state.Optimizer}'s, not Sgd's.", nameof(state));
        var p = Bound("restoring a state");
        if (Momentum != 0 && state.Buffers.ContainsKey("momentum_buffer"))
        {
            var b = Buffer(state, "momentum_buffer", p, nameof(Sgd));
            if (!_hasState) { _momentum = NewState(p); _hasState = true; }
            if (b.Length > 0) _momentum.CopyFromCPU(b.AsSpan());
            _started = true;
        }
        else _started = false;
        StepCount = state.StepCount;
    }

    /// <inheritdoc/>
    public override void Step(DeviceParameters parameters)
    {
        var k = Bind(parameters, nameof(DeviceSgd));
        if (Momentum != 0 && !_hasState)
        {
            _momentum = NewState(parameters);
            _hasState = true;
        }
        var c = new GpuKernels.SgdCoefficients((float)LearningRate, (float)WeightDecay, (float)Momentum, (float)(1 - Dampening), Nesterov, StepCount == 0 || !_started);
        _started = true;
        k.SgdStep(parameters.Values, parameters.Grads, parameters.Flags(DecayFilter), Momentum != 0 ? _momentum : parameters.Values, c);
        StepCount++;
    }
}

/// <summary>torch.optim.AdamW on the device: the settings of <see cref="AdamW"/>, the moments on the accelerator.</summary>
public sealed class DeviceAdamW : DeviceOptimizerBase
{
    ArrayView<float> _m, _v;
    bool _hasState;
    readonly AdamW _host; // settings only: names and formats the state as the host optimizer does

    /// <summary>Same arguments, defaults and checks as <see cref="AdamW"/>.</summary>
    public DeviceAdamW(float learningRate = 1e-3f, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2,
        Func<ParameterInfo, bool>? decayFilter = null)
        : this(new AdamW(learningRate, beta1, beta2, eps, weightDecay, decayFilter)) { }

    /// <summary>The settings of <paramref name="host"/> (its state is not copied: a new optimizer starts at step 0).</summary>
    public DeviceAdamW(AdamW host)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = new AdamW(host.LearningRate, host.Beta1, host.Beta2, host.Eps, host.WeightDecay, host.DecayFilter);
        LearningRate = host.LearningRate;
        Beta1 = host.Beta1;
        Beta2 = host.Beta2;
        Eps = host.Eps;
        WeightDecay = host.WeightDecay;
        DecayFilter = host.DecayFilter;
    }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }
    /// <summary>Denominator epsilon.</summary>
    public double Eps { get; }
    /// <summary>Decoupled weight-decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>The host <see cref="AdamW"/>'s state format (name "AdamW", buffers "exp_avg", "exp_avg_sq"), read from the device.</summary>
    public override OptimizerState GetState()
    {
        _host.LearningRate = LearningRate;
        var settings = _host.GetState().Settings;
        var buffers = new Dictionary<string, float[]>();
        if (_hasState && StepCount > 0)
        {
            Bound("saving its state").Accelerator.Synchronize();
            buffers["exp_avg"] = Read(_m);
            buffers["exp_avg_sq"] = Read(_v);
        }
        return new OptimizerState(nameof(AdamW), StepCount, buffers, settings);
    }

    /// <summary>Restores a host or device <see cref="AdamW"/> state onto the bound device.</summary>
    public override void SetState(ParameterStore store, OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Optimizer != nameof(AdamW)) throw new ArgumentException($"The state is {state.Optimizer}'s, not AdamW's.", nameof(state));
        var p = Bound("restoring a state");
        if (!_hasState)
        {
            _m = NewState(p);
            _v = NewState(p);
            _hasState = true;
        }
        if (state.Buffers.Count > 0)
        {
            var m = Buffer(state, "exp_avg", p, nameof(AdamW));
            var v = Buffer(state, "exp_avg_sq", p, nameof(AdamW));
            if (m.Length > 0) { _m.CopyFromCPU(m.AsSpan()); _v.CopyFromCPU(v.AsSpan()); }
        }
        else
        {
            _m.MemSetToZero(p.Accelerator.DefaultStream);
            _v.MemSetToZero(p.Accelerator.DefaultStream);
        }
        StepCount = state.StepCount;
    }

    /// <inheritdoc/>
    public override void Step(DeviceParameters parameters)
    {
        var k = Bind(parameters, nameof(DeviceAdamW));
        if (!_hasState)
        {
            _m = NewState(parameters);
            _v = NewState(parameters);
            _hasState = true;
        }
        long t = StepCount + 1;
        // The host's coefficients, formed in double and rounded once (AdamW.Step).
        double bc1 = 1.0 - Math.Pow(Beta1, t), bc2 = 1.0 - Math.Pow(Beta2, t);
        var c = new GpuKernels.AdamWCoefficients(
            decay: (float)(1.0 - LearningRate * WeightDecay),
            stepSize: (float)(LearningRate / bc1),
            bc2Sqrt: (float)Math.Sqrt(bc2),
            oneMinusBeta1: (float)(1.0 - Beta1),
            beta2: (float)Beta2,
            oneMinusBeta2: (float)(1.0 - Beta2),
            eps: (float)Eps,
            decayOn: WeightDecay != 0);
        k.AdamWStep(parameters.Values, parameters.Grads, parameters.Flags(DecayFilter), _m, _v, c);
        StepCount = t;
    }
}
