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

/// <summary>An optimizer whose update runs on the device, on a <see cref="DeviceParameters"/>.</summary>
public interface IDeviceOptimizer : IDisposable
{
    /// <summary>The learning rate the next <see cref="Step"/> uses; schedules set it before each step or epoch.</summary>
    float LearningRate { get; set; }

    /// <summary>Number of completed <see cref="Step"/> calls.</summary>
    long StepCount { get; }

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

    /// <summary>Same arguments and checks as <see cref="Sgd"/>.</summary>
    public DeviceSgd(float learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false, double dampening = 0,
        Func<ParameterInfo, bool>? decayFilter = null)
        : this(new Sgd(learningRate, momentum, weightDecay, nesterov, dampening, decayFilter)) { }

    /// <summary>The settings of <paramref name="host"/> (its state is not copied: a new optimizer starts at step 0).</summary>
    public DeviceSgd(Sgd host)
    {
        ArgumentNullException.ThrowIfNull(host);
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

    /// <inheritdoc/>
    public override void Step(DeviceParameters parameters)
    {
        var k = Bind(parameters, nameof(DeviceSgd));
        if (Momentum != 0 && !_hasState)
        {
            _momentum = NewState(parameters);
            _hasState = true;
        }
        var c = new GpuKernels.SgdCoefficients((float)LearningRate, (float)WeightDecay, (float)Momentum, (float)(1 - Dampening), Nesterov, StepCount == 0);
        k.SgdStep(parameters.Values, parameters.Grads, parameters.Flags(DecayFilter), Momentum != 0 ? _momentum : parameters.Values, c);
        StepCount++;
    }
}

/// <summary>torch.optim.AdamW on the device: the settings of <see cref="AdamW"/>, the moments on the accelerator.</summary>
public sealed class DeviceAdamW : DeviceOptimizerBase
{
    ArrayView<float> _m, _v;
    bool _hasState;

    /// <summary>Same arguments, defaults and checks as <see cref="AdamW"/>.</summary>
    public DeviceAdamW(float learningRate = 1e-3f, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2,
        Func<ParameterInfo, bool>? decayFilter = null)
        : this(new AdamW(learningRate, beta1, beta2, eps, weightDecay, decayFilter)) { }

    /// <summary>The settings of <paramref name="host"/> (its state is not copied: a new optimizer starts at step 0).</summary>
    public DeviceAdamW(AdamW host)
    {
        ArgumentNullException.ThrowIfNull(host);
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
