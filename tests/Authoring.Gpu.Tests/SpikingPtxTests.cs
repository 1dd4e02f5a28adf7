// Compiles every spiking kernel specialisation (charge x reset x surrogate) for CUDA's PTX without a
// GPU, as PtxCompileTests does for the activation-generic kernels: the CPU accelerator accepts code
// the PTX backend rejects. Also checks the arithmetic stays in f32 and that no division becomes an
// approximation (div.approx / div.full would break the bit-exact agreement with the CPU).
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class SpikingPtxTests(GpuFixture fx)
{
    static readonly Type[] Charges = [typeof(IfCharge), typeof(LifCharge), typeof(LifNoDecayInputCharge), typeof(PlifCharge), typeof(PlifNoDecayInputCharge)];
    static readonly Type[] Resets = [typeof(HardReset), typeof(SoftReset)];
    static readonly Type[] SurrogateTypes = [typeof(SigmoidSurrogate), typeof(ATanSurrogate), typeof(RectSurrogate), typeof(PiecewiseQuadraticSurrogate)];

    [Fact]
    public void EverySpikingKernelCompilesToPtx()
    {
        var device = typeof(GpuKernels).GetNestedType("SpikingDevice", BindingFlags.NonPublic)!;
        var kernels = device.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(m => m.GetParameters() is [{ ParameterType: var t }, ..] && t == typeof(Index1D)).ToList();
        Assert.True(kernels.Count >= 8, $"found only {kernels.Count} spiking kernels");
        var methods = new List<MethodInfo>();
        foreach (var k in kernels)
        {
            if (!k.IsGenericMethodDefinition) methods.Add(k);
            else if (k.GetGenericArguments().Length == 2)
                methods.AddRange(from c in Charges from r in Resets select k.MakeGenericMethod(c, r));
            else
                methods.AddRange(from c in Charges from r in Resets from s in SurrogateTypes select k.MakeGenericMethod(c, r, s));
        }
        using var backend = new PTXBackend(fx.Device.Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        var failures = new List<string>();
        foreach (var m in methods)
        {
            string name = m.IsGenericMethod ? $"{m.Name}<{string.Join(", ", m.GetGenericArguments().Select(a => a.Name))}>" : m.Name;
            try
            {
                var ck = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(m), KernelSpecialization.Empty);
                foreach (var line in ck.PTXAssembly.Split('\n').Select(l => l.Trim()))
                {
                    // u64 -> f64 -> f32 conversions of the Poisson generator are exact and allowed, f64 arithmetic is not.
                    if (line.Contains("f64") && !line.StartsWith(".reg", StringComparison.Ordinal) && !line.StartsWith("cvt.", StringComparison.Ordinal))
                        failures.Add($"{name}: f64 arithmetic: {line}");
                    if (line.StartsWith("div.", StringComparison.Ordinal) && line.Contains(".f32") && !line.StartsWith("div.rn.", StringComparison.Ordinal))
                        failures.Add($"{name}: inexact division: {line}");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetBaseException().Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Distinct().Take(20)));
        Assert.True(methods.Count > 50, $"{methods.Count} specialisations");
    }
}
