// The kernel library generated ILGPU code calls: one host method per Runtime CPU kernel, same
// semantics and argument order, parameters as already-sliced device views (Length 0 = absent).
// Each kernel is compiled once per accelerator on first use and its launcher cached; kernels
// generic over an activation are cached per activation type. Launches go to the default stream
// in call order, so later kernels see earlier results without explicit synchronisation.
// Reductions (BatchNorm statistics, bias and weight gradients, the loss) use no atomics: a first
// kernel writes partial sums over interleaved terms (thread j of a reduction takes terms j, j+P,
// j+2P, ..., so neighbouring threads read neighbouring floats), a second adds them in order. The
// order depends only on the shapes: results are bitwise reproducible from run to run.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

/// <summary>ILGPU kernels mirroring <c>Authoring.Runtime.Cpu</c>'s, for one accelerator.</summary>
/// <remarks>The accelerator's context must have ILGPU.Algorithms enabled (<see cref="GpuDevice"/> does it), or
/// kernels using exp/log/tanh fail to compile for CUDA. Launches are queued on the default stream; use one instance
/// from one thread at a time.</remarks>
public sealed partial class GpuKernels : IDisposable
{
    readonly Dictionary<Type, object> _byActivation = [];
    readonly object _gate = new();
    MemoryBuffer1D<float, Stride1D.Dense>? _scratch;

    /// <summary>A kernel library for <paramref name="accelerator"/>; nothing is compiled until first use.</summary>
    public GpuKernels(Accelerator accelerator) => Accelerator = accelerator;

    /// <summary>A kernel library for <paramref name="device"/>'s accelerator.</summary>
    public GpuKernels(GpuDevice device) : this(device.Accelerator) { }

    /// <summary>The accelerator every kernel is compiled for and launched on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The launchers of the kernels specialised for activation <typeparamref name="TAct"/>,
    /// created on first use; one dictionary look-up per call afterwards.</summary>
    ActKernels<TAct> Act<TAct>() where TAct : struct, IActivation
    {
        lock (_gate)
        {
            if (!_byActivation.TryGetValue(typeof(TAct), out var set))
                _byActivation[typeof(TAct)] = set = new ActKernels<TAct>(Accelerator);
            return (ActKernels<TAct>)set;
        }
    }

    /// <summary>Device scratch for per-call intermediates (BatchNorm backward sums, per-sample losses).
    /// Grown, never shrunk, so steady-state steps allocate nothing; kernels on the default stream run
    /// in order, so one scratch serves consecutive calls.</summary>
    ArrayView<float> Scratch(int length)
    {
        lock (_gate)
        {
            if (_scratch is null || _scratch.Length < length)
            {
                // The old buffer may still be read by a queued kernel: let it finish before freeing.
                Accelerator.Synchronize();
                _scratch?.Dispose();
                _scratch = Accelerator.Allocate1D<float>(Math.Max(length, 1024));
            }
            return _scratch.View.SubView(0, length);
        }
    }

    /// <summary>Partial sums per reduction for a reduction over <paramref name="length"/> terms: enough threads to
    /// fill a GPU when there are few reductions (BatchNorm channels), at least 8 terms each. Depends only on the
    /// problem, not on the accelerator, so every accelerator adds in the same order and gets the same bits.</summary>
    internal static int Parts(int length) => Math.Clamp((length + 7) / 8, 1, 256);

    /// <summary>Sets every element of <paramref name="v"/> to <paramref name="value"/>.</summary>
    public void Fill(ArrayView<float> v, float value)
    {
        if (v.Length == 0) return;
        (_fill ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel))((int)v.Length, v, value);
    }

    /// <summary>Sets every element of <paramref name="v"/> to zero.</summary>
    public void Clear(ArrayView<float> v)
    {
        if (v.Length == 0) return;
        v.MemSetToZero(Accelerator.DefaultStream);
    }

    Action<Index1D, ArrayView<float>, float>? _fill;

    static void FillKernel(Index1D i, ArrayView<float> v, float value) => v[i] = value;

    /// <summary>Frees the scratch buffer (the compiled kernels belong to the accelerator).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _scratch?.Dispose();
            _scratch = null;
        }
    }
}
