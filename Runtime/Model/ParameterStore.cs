// All of a model's parameters, gradients and running statistics in two flat arrays, so optimizers,
// checkpoints and device copies work on contiguous memory.
namespace Authoring.Runtime;

/// <summary>What a tensor in the store is for.</summary>
public enum ParameterRole
{
    /// <summary>Convolution or linear weight (trainable).</summary>
    Weight,
    /// <summary>Convolution or linear bias (trainable).</summary>
    Bias,
    /// <summary>BatchNorm scale gamma (trainable).</summary>
    NormWeight,
    /// <summary>BatchNorm shift beta (trainable).</summary>
    NormBias,
    /// <summary>BatchNorm running mean (state, not trained).</summary>
    RunningMean,
    /// <summary>BatchNorm running variance (state, not trained).</summary>
    RunningVar,
    /// <summary>A spiking neuron's learned parameter (ParametricLIFNode's w; trainable, not a weight for decay filters).</summary>
    Neuron,
    /// <summary>A counter kept with the model (PRepBN's warm, iter, total_step; state, not trained).</summary>
    Buffer,
}

/// <summary>How a tensor is initialised.</summary>
public enum InitKind
{
    /// <summary>PyTorch's default for Conv/Linear weights: kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)).</summary>
    KaimingUniform,
    /// <summary>Kaiming normal for ReLU, fan-out mode: N(0, 2/fanOut) (torchvision's conv init).</summary>
    KaimingNormalFanOut,
    /// <summary>Xavier (Glorot) uniform: U(-a, a), a = sqrt(6 / (fanIn + fanOut)).</summary>
    XavierUniform,
    /// <summary>PyTorch's default bias: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).</summary>
    BiasUniform,
    /// <summary>All ones.</summary>
    Ones,
    /// <summary>All zeros.</summary>
    Zeros,
    /// <summary>N(0, 1) (PyTorch's nn.Embedding weight).</summary>
    StandardNormal,
    /// <summary>Every element equal to one value, the float whose IEEE bits <see cref="ParameterInfo.FanIn"/> holds
    /// (a constant initialiser such as PLIF's w = -ln(init_tau - 1)).</summary>
    Constant,
}

/// <summary>One named tensor in a <see cref="ParameterStore"/>; names follow PyTorch's state_dict ("conv1.weight").</summary>
public sealed record ParameterInfo(string Name, int[] Shape, ParameterRole Role, InitKind Init, int FanIn, int FanOut)
{
    /// <summary>Number of elements.</summary>
    public int Length
    {
        get
        {
            int n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Whether the optimizer updates it.</summary>
    public bool Trainable => Role is not (ParameterRole.RunningMean or ParameterRole.RunningVar or ParameterRole.Buffer);
}

/// <summary>A copy of a <see cref="ParameterStore"/> kept elsewhere (on a device) that can be newer than the host's.</summary>
public interface IDeviceCopy
{
    /// <summary>Waits for the device and copies its values and gradients into the store's host arrays.</summary>
    void CopyToHost(float[] values, float[] grads);

    /// <summary>Told after <see cref="CopyToHost"/>: the host equals this copy at <paramref name="hostVersion"/>.</summary>
    void SyncedAt(long hostVersion);
}

/// <summary>Parameters, gradients and running statistics of one model instance, in flat arrays.</summary>
public sealed class ParameterStore
{
    readonly int[] _offsets;
    readonly Dictionary<string, int> _byName;

    /// <summary>Lays out the tensors in the given order and initialises them with <paramref name="seed"/>.</summary>
    public ParameterStore(IReadOnlyList<ParameterInfo> infos, int seed = 0)
    {
        Infos = infos;
        _offsets = new int[infos.Count];
        _byName = new Dictionary<string, int>(infos.Count, StringComparer.Ordinal);
        int total = 0;
        for (int i = 0; i < infos.Count; i++)
        {
            _offsets[i] = total;
            total += infos[i].Length;
            if (!_byName.TryAdd(infos[i].Name, i))
                throw new ArgumentException($"Duplicate parameter name '{infos[i].Name}'.", nameof(infos));
        }
        _values = new float[total];
        _grads = new float[total];
        Initialize(seed);
    }

    readonly float[] _values, _grads;
    IDeviceCopy? _newer;
    long _hostVersion;

    /// <summary>The tensors, in storage order.</summary>
    public IReadOnlyList<ParameterInfo> Infos { get; }

    /// <summary>The model's packed bit tensors (a deploy model's binary weights), or null for a model without any.
    /// Float checkpoints (Safetensors) refuse a store with bits; PackedCheckpoint.SaveStore writes both.</summary>
    public BitStore? Bits { get; init; }

    /// <summary>All values: parameters and running statistics. Reading this (or <see cref="Grads"/>, <see cref="Value(int)"/>,
    /// <see cref="Grad(int)"/>) first brings back a device copy that is newer (<see cref="MarkDeviceNewer"/>), so the host
    /// never reads stale values; and since the caller may then write, every device copy uploads again before its next use.</summary>
    public float[] Values
    {
        get
        {
            HostAccess();
            return _values;
        }
    }

    /// <summary>Gradients, aligned with <see cref="Values"/> (zero for running statistics); synchronised as <see cref="Values"/>.</summary>
    public float[] Grads
    {
        get
        {
            HostAccess();
            return _grads;
        }
    }

    /// <summary>Bumped whenever the host arrays may have changed: after each host access and each copy back from a device.
    /// A device copy that uploaded at this version is current while it stays the same.</summary>
    public long HostVersion => _hostVersion;

    /// <summary>The device copy holding newer values than the host, if any.</summary>
    public IDeviceCopy? NewerCopy => _newer;

    /// <summary>Records that <paramref name="copy"/> changed the values on its device (a training step ran there): the next
    /// host access copies them back first. Another copy's pending values are brought back before it is replaced.</summary>
    public void MarkDeviceNewer(IDeviceCopy copy)
    {
        ArgumentNullException.ThrowIfNull(copy);
        if (_newer is { } other && !ReferenceEquals(other, copy)) BringBack();
        _newer = copy;
    }

    /// <summary>The host arrays for a device upload: brings back another device's newer values first, and does not count
    /// as a host write (the host version stays, unless a copy back changed it).</summary>
    public (float[] Values, float[] Grads, long Version) ForUpload(IDeviceCopy copy)
    {
        if (_newer is { } other && !ReferenceEquals(other, copy)) BringBack();
        return (_values, _grads, _hostVersion);
    }

    /// <summary>Brings back a device copy's newer values and gradients now, if there is one (<c>SyncToHost</c> of a GPU model).
    /// Unlike reading <see cref="Values"/>, this does not make device copies upload again.</summary>
    public void SyncFromDevice()
    {
        if (_newer is not null) BringBack();
    }

    void HostAccess()
    {
        if (_newer is not null) BringBack();
        _hostVersion++;
    }

    void BringBack()
    {
        var copy = _newer!;
        _newer = null; // first: the copy's download must not re-enter
        copy.CopyToHost(_values, _grads);
        _hostVersion++;
        copy.SyncedAt(_hostVersion);
    }


    /// <summary>Offset of tensor <paramref name="index"/> in <see cref="Values"/>.</summary>
    public int OffsetOf(int index) => _offsets[index];

    /// <summary>Index of the tensor named <paramref name="name"/>.</summary>
    public int IndexOf(string name) =>
        _byName.TryGetValue(name, out int i) ? i : throw new KeyNotFoundException($"No parameter named '{name}'.");

    /// <summary>Values of tensor <paramref name="index"/>.</summary>
    public Span<float> Value(int index) => Values.AsSpan(_offsets[index], Infos[index].Length);

    /// <summary>Values of the tensor named <paramref name="name"/>.</summary>
    public Span<float> Value(string name) => Value(IndexOf(name));

    /// <summary>Gradient of tensor <paramref name="index"/>.</summary>
    public Span<float> Grad(int index) => Grads.AsSpan(_offsets[index], Infos[index].Length);

    /// <summary>Number of trainable scalars (what papers report as the parameter count).</summary>
    public int TrainableCount
    {
        get
        {
            int n = 0;
            foreach (var p in Infos) if (p.Trainable) n += p.Length;
            return n;
        }
    }

    /// <summary>Re-initialises every tensor from its <see cref="InitKind"/>, deterministically from <paramref name="seed"/>.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < Infos.Count; i++)
        {
            var p = Infos[i];
            var v = Value(i);
            switch (p.Init)
            {
                case InitKind.Zeros: v.Clear(); break;
                case InitKind.Ones: v.Fill(1f); break;
                case InitKind.KaimingUniform:
                case InitKind.BiasUniform:
                    Uniform(rng, v, 1.0 / Math.Sqrt(Math.Max(1, p.FanIn)));
                    break;
                case InitKind.XavierUniform:
                    Uniform(rng, v, Math.Sqrt(6.0 / Math.Max(1, p.FanIn + p.FanOut)));
                    break;
                case InitKind.KaimingNormalFanOut:
                    Normal(rng, v, Math.Sqrt(2.0 / Math.Max(1, p.FanOut)));
                    break;
                case InitKind.Constant: v.Fill(BitConverter.Int32BitsToSingle(p.FanIn)); break;
                case InitKind.StandardNormal:
                    Normal(rng, v, 1.0);
                    break;
                default: throw new InvalidOperationException($"Unknown init {p.Init}.");
            }
        }
        Array.Clear(Grads);
    }

    static void Normal(Random rng, Span<float> v, double std)
    {
        for (int j = 0; j < v.Length; j++)
        {
            // Box-Muller: two uniforms give one standard normal.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            v[j] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
    }

    static void Uniform(Random rng, Span<float> v, double bound)
    {
        for (int j = 0; j < v.Length; j++) v[j] = (float)((rng.NextDouble() * 2 - 1) * bound);
    }

    /// <summary>Copies all values (parameters and running statistics) from another store of the same layout.</summary>
    public void CopyFrom(ParameterStore other)
    {
        if (other.Values.Length != Values.Length) throw new ArgumentException("Parameter layouts differ.", nameof(other));
        other.Values.CopyTo(Values, 0);
    }
}
