// Compiles every kernel, with every activation, for CUDA's PTX without a GPU: ILGPU's CPU
// accelerator runs code (MathF.Exp without EnableAlgorithms, managed allocation, ...) that the
// PTX backend rejects, so a green CPU run alone says little about CUDA. This catches ILGPU's
// code-generation failures here; ptxas and the driver are only exercised on a GPU machine.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class PtxCompileTests(GpuFixture fx)
{
    [Fact]
    public void EveryKernelCompilesToPtx()
    {
        var kernels = typeof(GpuKernels)
            .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(m => m.GetParameters() is [{ ParameterType: var t }, ..] && t == typeof(Index1D))
            .ToList();
        Assert.True(kernels.Count >= 24, $"found only {kernels.Count} kernels");
        var acts = Reference.ActivationTypes;
        // sm_90 (H100) with PTX ISA 8.0, the kind of GPU this project is lent.
        using var backend = new PTXBackend(fx.Device.Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        var failures = new List<string>();
        int compiled = 0;
        foreach (var k in kernels)
            foreach (var m in k.IsGenericMethodDefinition ? TypeArguments(k, acts).Select(a => k.MakeGenericMethod(a)) : [k])
            {
                try
                {
                    var ck = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(m), KernelSpecialization.Empty);
                    compiled++;
                    // Double-precision arithmetic is 2-64x slower on most GPUs; none of these kernels should need it.
                    // Conversions are allowed: C# turns ulong -> float into u64 -> f64 -> f32 (DropoutRandom's
                    // 24-bit integer, exact either way), one pair per element.
                    foreach (var line in ck.PTXAssembly.Split('\n'))
                    {
                        var l = line.Trim();
                        // ".f64" is the type suffix of a double instruction; a bare "f64" also matches float register %f64.
                        if (l.Contains(".f64") && !l.StartsWith(".reg", StringComparison.Ordinal) && !l.StartsWith("cvt.", StringComparison.Ordinal))
                        {
                            failures.Add($"{Name(m)}: f64 arithmetic: {l}");
                            break;
                        }
                    }
                }
                catch (Exception e)
                {
                    failures.Add($"{Name(m)}: {e.GetBaseException().Message}");
                }
            }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(compiled > 50);
    }

    /// <summary>Every type a kernel's one type parameter admits here: the activations, or the binary layers' sign gradients.</summary>
    static IEnumerable<Type> TypeArguments(MethodInfo kernel, Type[] activations)
    {
        var constraints = kernel.GetGenericArguments()[0].GetGenericParameterConstraints();
        return constraints.Contains(typeof(ISignGradient)) ? [typeof(SteSign), typeof(ApproxSign)] : activations;
    }

    static string Name(MethodInfo m) => m.IsGenericMethod ? $"{m.Name}<{m.GetGenericArguments()[0].Name}>" : m.Name;
}
