// The ILGPU context and the one accelerator a model runs on: CUDA when present, else ILGPU's CPU
// accelerator (a slow functional simulator, good for tests, not for speed). Also the few host<->device
// buffer helpers generated code needs, so it never touches ILGPU's allocation API directly.
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Authoring.Gpu;

/// <summary>Which accelerator <see cref="GpuDevice"/> opens.</summary>
public enum AcceleratorChoice
{
    /// <summary>CUDA when a device is present, otherwise ILGPU's CPU accelerator.</summary>
    Auto,
    /// <summary>The first CUDA device; fails when there is none.</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator (a functional simulator: correct, slow).</summary>
    Cpu,
}

/// <summary>An ILGPU context with one accelerator, plus buffer helpers.</summary>
public sealed class GpuDevice : IDisposable
{
    /// <summary>Environment variable that overrides <see cref="AcceleratorChoice.Auto"/>: <c>cuda</c>, <c>cpu</c> or <c>auto</c>.</summary>
    public const string EnvironmentVariable = "AUTHORING_ACCELERATOR";

    /// <summary>Opens the accelerator named by <paramref name="choice"/>; when null, by
    /// <see cref="EnvironmentVariable"/>, else <see cref="AcceleratorChoice.Auto"/>.</summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for and no CUDA device exists.</exception>
    public GpuDevice(AcceleratorChoice? choice = null)
    {
        Choice = choice ?? ParseChoice(Environment.GetEnvironmentVariable(EnvironmentVariable));
        // EnableAlgorithms: the PTX backend has no intrinsic for MathF.Exp/Log/Tanh on its own
        // (checked: "ExpF does not have an intrinsic implementation"), the Algorithms library maps
        // them to XMath. The CPU accelerator runs them either way, so without this a kernel would
        // pass every test here and fail on the first GPU. Only register CUDA when it may be used,
        // so a CPU run never probes the driver.
        Context = Context.Create(b =>
        {
            if (Choice != AcceleratorChoice.Cpu) b.Cuda();
            b.CPU().EnableAlgorithms();
        });
        try
        {
            Accelerator = Open(Context, Choice);
        }
        catch
        {
            Context.Dispose();
            throw;
        }
    }

    static Accelerator Open(Context context, AcceleratorChoice choice)
    {
        if (choice != AcceleratorChoice.Cpu)
        {
            var cuda = context.GetCudaDevices();
            if (cuda.Count > 0) return context.CreateCudaAccelerator(0);
            if (choice == AcceleratorChoice.Cuda)
                throw new InvalidOperationException(
                    $"A CUDA accelerator was requested ({EnvironmentVariable} or the constructor) but ILGPU found no CUDA device.");
        }
        return context.CreateCPUAccelerator(0);
    }

    /// <summary>Reads an <see cref="EnvironmentVariable"/> value; null or empty means <see cref="AcceleratorChoice.Auto"/>.</summary>
    /// <exception cref="ArgumentException">The value is not cuda, cpu or auto.</exception>
    public static AcceleratorChoice ParseChoice(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => AcceleratorChoice.Auto,
        "cuda" or "gpu" => AcceleratorChoice.Cuda,
        "cpu" => AcceleratorChoice.Cpu,
        _ => throw new ArgumentException($"{EnvironmentVariable} must be cuda, cpu or auto, not '{value}'.", nameof(value)),
    };

    /// <summary>What was asked for (after reading the environment).</summary>
    public AcceleratorChoice Choice { get; }
    /// <summary>The ILGPU context.</summary>
    public Context Context { get; }
    /// <summary>The accelerator kernels run on.</summary>
    public Accelerator Accelerator { get; }
    /// <summary>True on a CUDA device, false on the CPU simulator.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;
    /// <summary>Kind and name of the accelerator, for logs and benchmark reports.</summary>
    public string Description => $"{Accelerator.AcceleratorType}: {Accelerator.Name}";

    /// <summary>A zeroed float buffer of <paramref name="length"/> elements.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Allocate(long length)
    {
        var b = Accelerator.Allocate1D<float>(length);
        b.MemSetToZero();
        return b;
    }

    /// <summary>A zeroed int buffer of <paramref name="length"/> elements (labels, indices).</summary>
    public MemoryBuffer1D<int, Stride1D.Dense> AllocateInt(long length)
    {
        var b = Accelerator.Allocate1D<int>(length);
        b.MemSetToZero();
        return b;
    }

    /// <summary>A zeroed buffer of <paramref name="length"/> 64-bit words (packed binary weights and activations).</summary>
    public MemoryBuffer1D<ulong, Stride1D.Dense> AllocateWords(long length)
    {
        var b = Accelerator.Allocate1D<ulong>(length);
        b.MemSetToZero();
        return b;
    }

    /// <summary>Copies host words to the start of <paramref name="dst"/>.</summary>
    public void CopyToDevice(ReadOnlySpan<ulong> src, ArrayView<ulong> dst) => dst.SubView(0, src.Length).CopyFromCPU(src);

    /// <summary>A new device buffer holding a copy of <paramref name="data"/>.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Upload(ReadOnlySpan<float> data)
    {
        var b = Accelerator.Allocate1D<float>(data.Length);
        b.View.BaseView.CopyFromCPU(data);
        return b;
    }

    /// <summary>A new device buffer holding a copy of <paramref name="data"/>.</summary>
    public MemoryBuffer1D<int, Stride1D.Dense> Upload(ReadOnlySpan<int> data)
    {
        var b = Accelerator.Allocate1D<int>(data.Length);
        b.View.BaseView.CopyFromCPU(data);
        return b;
    }

    /// <summary>Copies host data into the start of <paramref name="dst"/> (after earlier work on the default stream).</summary>
    public void CopyToDevice(ReadOnlySpan<float> src, ArrayView<float> dst) => dst.SubView(0, src.Length).CopyFromCPU(src);

    /// <summary>Copies host data into the start of <paramref name="dst"/> (after earlier work on the default stream).</summary>
    public void CopyToDevice(ReadOnlySpan<int> src, ArrayView<int> dst) => dst.SubView(0, src.Length).CopyFromCPU(src);

    /// <summary>Waits for queued kernels, then copies the first <c>dst.Length</c> elements of <paramref name="src"/> to the host.</summary>
    public void CopyToHost(ArrayView<float> src, Span<float> dst)
    {
        Accelerator.Synchronize();
        src.SubView(0, dst.Length).CopyToCPU(dst);
    }

    /// <summary>Waits for queued kernels, then copies the first <c>dst.Length</c> elements of <paramref name="src"/> to the host.</summary>
    public void CopyToHost(ArrayView<int> src, Span<int> dst)
    {
        Accelerator.Synchronize();
        src.SubView(0, dst.Length).CopyToCPU(dst);
    }

    /// <summary>Waits until every queued kernel and copy has finished.</summary>
    public void Synchronize() => Accelerator.Synchronize();

    /// <summary>Releases the accelerator, then the context.</summary>
    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
