// One accelerator and one kernel library for every test: ILGPU's CPU accelerator compiles each
// kernel for a noticeable time on first launch, so tests share compiled kernels. Tests run on the
// CPU accelerator unless AUTHORING_ACCELERATOR names another (cuda on a GPU machine).
using ILGPU;
using ILGPU.Runtime;
using Authoring.Gpu;

namespace Authoring.Gpu.Tests;

/// <summary>The shared device, kernels and host/device helpers.</summary>
public sealed class GpuFixture : IDisposable
{
    public GpuFixture()
    {
        string? env = Environment.GetEnvironmentVariable(GpuDevice.EnvironmentVariable);
        Device = new GpuDevice(string.IsNullOrWhiteSpace(env) ? AcceleratorChoice.Cpu : null);
        Kernels = new GpuKernels(Device);
    }

    public GpuDevice Device { get; }
    public GpuKernels Kernels { get; }

    /// <summary>A device batch of <paramref name="n"/> samples of <paramref name="size"/> floats, placed at
    /// <paramref name="offset"/> with <paramref name="gap"/> foreign floats between samples.</summary>
    public DeviceBatch Batch(Random rng, int n, int size, int offset = 3, int gap = 5, double scale = 1)
        => new(this, rng, n, size, offset, gap, scale);

    /// <summary>A device copy of <paramref name="data"/>, placed after a few foreign floats so that kernels
    /// must honour the slice's start.</summary>
    public DeviceArray Array(float[] data) => new(this, data);

    public void Dispose()
    {
        Kernels.Dispose();
        Device.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class GpuCollection : ICollectionFixture<GpuFixture>
{
    public const string Name = "Gpu";
}

/// <summary>A batch inside a larger device buffer, with sentinels before, between and after the samples:
/// a kernel that reads them produces wrong values, one that writes them fails <see cref="Read"/>.</summary>
public sealed class DeviceBatch : IDisposable
{
    readonly GpuFixture _fx;
    readonly float[] _initial;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;

    public DeviceBatch(GpuFixture fx, Random rng, int n, int size, int offset, int gap, double scale)
    {
        _fx = fx;
        N = n; Size = size; Offset = offset; Stride = size + gap;
        _initial = new float[offset + n * Stride + 4];
        for (int i = 0; i < _initial.Length; i++) _initial[i] = 1000f + i; // foreign data, huge next to samples
        Values = new double[n * size];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < size; k++)
            {
                float v = (float)((rng.NextDouble() * 2 - 1) * scale);
                _initial[offset + b * Stride + k] = v;
                Values[b * size + k] = v;
            }
        _buffer = fx.Device.Upload(_initial);
    }

    public int N { get; }
    public int Size { get; }
    public int Offset { get; }
    public int Stride { get; }
    /// <summary>The initial samples, dense [n, size], in double for references.</summary>
    public double[] Values { get; }
    public GView View => new(_buffer.View, Offset, Stride);

    /// <summary>Downloads the samples (dense [n, size]) and checks nothing outside them changed.</summary>
    public float[] Read()
    {
        var all = new float[_initial.Length];
        _fx.Device.CopyToHost(_buffer.View, all);
        var r = new float[N * Size];
        for (int i = 0; i < all.Length; i++)
        {
            int rel = i - Offset, b = rel >= 0 ? rel / Stride : -1, k = rel - b * Stride;
            if (b >= 0 && b < N && k < Size) r[b * Size + k] = all[i];
            else Assert.True(all[i] == _initial[i], $"element {i} outside the view was overwritten");
        }
        return r;
    }

    public void Dispose() => _buffer.Dispose();
}

/// <summary>A parameter-like array on the device, passed to kernels as a slice that starts after foreign data.</summary>
public sealed class DeviceArray : IDisposable
{
    const int Lead = 2, Tail = 3;
    readonly GpuFixture _fx;
    readonly float[] _initial;
    readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;

    public DeviceArray(GpuFixture fx, float[] data)
    {
        _fx = fx;
        Host = data;
        _initial = new float[Lead + data.Length + Tail];
        for (int i = 0; i < _initial.Length; i++) _initial[i] = -2000f - i;
        data.CopyTo(_initial, Lead);
        _buffer = fx.Device.Upload(_initial);
    }

    public float[] Host { get; }
    public ArrayView<float> View => _buffer.View.SubView(Lead, Host.Length);

    /// <summary>Downloads the slice and checks the foreign data around it is untouched.</summary>
    public float[] Read()
    {
        var all = new float[_initial.Length];
        _fx.Device.CopyToHost(_buffer.View, all);
        for (int i = 0; i < all.Length; i++)
            if (i < Lead || i >= Lead + Host.Length) Assert.True(all[i] == _initial[i], $"element {i} outside the slice was overwritten");
        return all[Lead..(Lead + Host.Length)];
    }

    public void Dispose() => _buffer.Dispose();
}
