// A device copy of a ParameterStore: values and gradients as two flat device buffers with the
// store's layout, so generated kernels take parameter slices by offset and optimizers and
// checkpoints move whole buffers in one copy. For training on the device the values stay there
// between steps (DeviceSgd / DeviceAdamW update them in place): the host copy is refreshed only
// when asked (DownloadValues, for checkpoints and evaluation on the host) and pushed only after
// the host changed it (UploadValues, after loading a checkpoint).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime;

namespace Authoring.Gpu;

/// <summary>Parameters, gradients and running statistics of a <see cref="ParameterStore"/> on the device.</summary>
public sealed class DeviceParameters : IDisposable, IDeviceCopy
{
    readonly ParameterStore _store;
    long _syncedVersion = -1; // the store's HostVersion this copy's values equal (when the host is not newer)
    readonly MemoryBuffer1D<float, Stride1D.Dense> _values, _grads;
    readonly int[] _offsets, _lengths;
    readonly IReadOnlyList<ParameterInfo> _infos;
    // Optimizer flags per decay filter (usually one), built on first use: see Flags.
    readonly List<(Func<ParameterInfo, bool>? Filter, MemoryBuffer1D<int, Stride1D.Dense> Flags)> _flags = [];

    /// <summary>Allocates device buffers with <paramref name="store"/>'s layout and uploads its values and gradients.</summary>
    public DeviceParameters(Accelerator accelerator, ParameterStore store)
    {
        Accelerator = accelerator;
        _store = store;
        int count = store.Infos.Count;
        _infos = store.Infos;
        _offsets = new int[count];
        _lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            _offsets[i] = store.OffsetOf(i);
            _lengths[i] = store.Infos[i].Length;
        }
        // ILGPU refuses zero-length allocations on some backends; a model without parameters gets one unused float.
        Length = store.Infos.Sum(i => i.Length);
        long length = Math.Max(1, Length);
        _values = accelerator.Allocate1D<float>(length);
        _grads = accelerator.Allocate1D<float>(length);
        var (values, grads, version) = store.ForUpload(this);
        if (Length > 0)
        {
            Values.CopyFromCPU(values.AsSpan());
            Grads.CopyFromCPU(grads.AsSpan());
        }
        Uploads++;
        _syncedVersion = version;
    }

    /// <summary>Whole-store copies to the device so far (parameters, with or without gradients): tests use it to prove a
    /// device-resident training step moves no parameters.</summary>
    public long Uploads { get; private set; }
    /// <summary>Whole-store copies back to the host so far.</summary>
    public long Downloads { get; private set; }

    /// <summary>Before device work that reads the values: uploads them if the host changed them since this copy last
    /// matched (a host optimizer step, a checkpoint load, any host access of the store), or if another device copy
    /// is newer (brought back through the host first). Nothing moves while this copy holds the newest values.</summary>
    public void EnsureCurrent()
    {
        if (ReferenceEquals(_store.NewerCopy, this)) return;
        var (values, _, version) = _store.ForUpload(this);
        if (version == _syncedVersion) return;
        if (Length > 0) Values.CopyFromCPU(values.AsSpan());
        Uploads++;
        _syncedVersion = version;
    }

    /// <summary>After device work that changed values or gradients (a training step): the host copy is now stale and
    /// is brought back on its next access (<see cref="ParameterStore.Values"/>) or by <see cref="SyncToHost"/>.</summary>
    public void MarkNewer() => _store.MarkDeviceNewer(this);

    /// <summary>Copies the device's values and gradients to the host store now if they are newer.</summary>
    public void SyncToHost() => _store.SyncFromDevice();

    void IDeviceCopy.CopyToHost(float[] values, float[] grads)
    {
        Downloads++;
        if (Length == 0) return;
        Accelerator.Synchronize();
        Values.CopyToCPU(values.AsSpan());
        Grads.CopyToCPU(grads.AsSpan());
    }

    void IDeviceCopy.SyncedAt(long hostVersion) => _syncedVersion = hostVersion;

    /// <summary>A device copy of <paramref name="store"/> on <paramref name="device"/>'s accelerator.</summary>
    public DeviceParameters(GpuDevice device, ParameterStore store) : this(device.Accelerator, store) { }

    /// <summary>The accelerator holding the buffers.</summary>
    public Accelerator Accelerator { get; }
    /// <summary>Floats in <see cref="Values"/> (and in <see cref="Grads"/>).</summary>
    public int Length { get; }
    /// <summary>All values, laid out as <see cref="ParameterStore.Values"/>.</summary>
    public ArrayView<float> Values => _values.View.SubView(0, Length);
    /// <summary>All gradients, laid out as <see cref="ParameterStore.Grads"/>.</summary>
    public ArrayView<float> Grads => _grads.View.SubView(0, Length);

    /// <summary>Values of tensor <paramref name="tensorIndex"/> (as <see cref="ParameterStore.Value(int)"/>).</summary>
    public ArrayView<float> Slice(int tensorIndex) => Values.SubView(_offsets[tensorIndex], _lengths[tensorIndex]);

    /// <summary>Gradient of tensor <paramref name="tensorIndex"/> (as <see cref="ParameterStore.Grad(int)"/>).</summary>
    public ArrayView<float> GradSlice(int tensorIndex) => Grads.SubView(_offsets[tensorIndex], _lengths[tensorIndex]);

    /// <summary>Copies <paramref name="store"/>'s values and gradients to the device.</summary>
    public void Upload(ParameterStore store)
    {
        Check(store);
        Uploads++;
        if (Length == 0) return;
        Values.CopyFromCPU(store.Values.AsSpan());
        Grads.CopyFromCPU(store.Grads.AsSpan());
    }

    /// <summary>Waits for queued kernels, then copies values and gradients back into <paramref name="store"/>.</summary>
    public void Download(ParameterStore store)
    {
        Check(store);
        Downloads++;
        if (Length == 0) return;
        Accelerator.Synchronize();
        Values.CopyToCPU(store.Values.AsSpan());
        Grads.CopyToCPU(store.Grads.AsSpan());
    }

    /// <summary>Copies only the values (parameters and running statistics) to the device: after the host
    /// changed them (a checkpoint loaded, weights initialised again). Gradients stay as they are.</summary>
    public void UploadValues(ParameterStore store)
    {
        Check(store);
        Uploads++;
        if (Length == 0) return;
        Values.CopyFromCPU(store.Values.AsSpan());
    }

    /// <summary>Waits for queued kernels, then copies only the values back into <paramref name="store"/>:
    /// what a checkpoint or an evaluation on the host needs. One copy of the parameters, no gradients.</summary>
    public void DownloadValues(ParameterStore store)
    {
        Check(store);
        Downloads++;
        if (Length == 0) return;
        Accelerator.Synchronize();
        Values.CopyToCPU(store.Values.AsSpan());
    }

    /// <summary>Waits for queued kernels, then copies only the gradients into <paramref name="store"/> (for inspection
    /// or a host optimizer).</summary>
    public void DownloadGrads(ParameterStore store)
    {
        Check(store);
        if (Length == 0) return;
        Accelerator.Synchronize();
        Grads.CopyToCPU(store.Grads.AsSpan());
    }

    /// <summary>Per scalar, what an optimizer does with it: <see cref="GpuKernels.FrozenScalar"/> (running statistics),
    /// <see cref="GpuKernels.TrainedScalar"/> or <see cref="GpuKernels.DecayedScalar"/> (weight decay applies, as
    /// <paramref name="decayFilter"/> says; null: every trainable tensor). Uploaded once per filter and kept.</summary>
    public ArrayView<int> Flags(Func<ParameterInfo, bool>? decayFilter)
    {
        foreach (var (filter, buffer) in _flags)
            if (ReferenceEquals(filter, decayFilter)) return buffer.View.SubView(0, Length);
        var host = new int[Math.Max(1, Length)];
        for (int i = 0; i < _infos.Count; i++)
        {
            var info = _infos[i];
            int flag = !info.Trainable ? GpuKernels.FrozenScalar : decayFilter?.Invoke(info) ?? true ? GpuKernels.DecayedScalar : GpuKernels.TrainedScalar;
            Array.Fill(host, flag, _offsets[i], _lengths[i]);
        }
        var flags = Accelerator.Allocate1D(host);
        _flags.Add((decayFilter, flags));
        return flags.View.SubView(0, Length);
    }

    /// <summary>Zeroes every gradient (kernels accumulate weight and bias gradients with +=).</summary>
    public void ClearGrads()
    {
        if (Length > 0) Grads.MemSetToZero(Accelerator.DefaultStream);
    }

    void Check(ParameterStore store)
    {
        if (store.Infos.Sum(i => i.Length) != Length)
            throw new ArgumentException($"Parameter layouts differ: the store has {store.Infos.Sum(i => i.Length)} floats, the device copy {Length}.", nameof(store));
    }

    /// <summary>Frees both device buffers.</summary>
    public void Dispose()
    {
        // Newer values than the host's would be lost with the buffers: bring them back first.
        if (ReferenceEquals(_store.NewerCopy, this)) _store.SyncFromDevice();
        _values.Dispose();
        _grads.Dispose();
        foreach (var (_, flags) in _flags) flags.Dispose();
        _flags.Clear();
    }
}
