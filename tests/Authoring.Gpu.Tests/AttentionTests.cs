// ILGPU softmax and linear attention against the naive double reference and against the CPU SIMD
// kernels, forward and the three gradients, causal and not, both feature maps, on tiny shapes (the CPU
// accelerator simulates every thread): two samples of five tokens, and one sequence longer than a
// device chunk (64) so that chunk states and their combine are exercised. Tolerances: the reference's
// bound (AttentionReference: 16 u K times each element's sum of absolute terms); CPU against device,
// twice that bound (each is within it of the exact value); accumulation adds one rounding of the sum.
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Authoring.Runtime.Cpu;
using Authoring.Tests.Shared;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class AttentionTests(GpuFixture fx)
{
    public enum Kind { Softmax, Elu, Relu }

    public static TheoryData<Kind, bool> Cases()
    {
        var d = new TheoryData<Kind, bool>();
        foreach (var k in new[] { Kind.Softmax, Kind.Elu, Kind.Relu })
            foreach (bool causal in new[] { false, true }) d.Add(k, causal);
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void TwoShortSamplesMatchReferenceAndCpu(Kind kind, bool causal) => Check(kind, causal, 2, new AttentionShape(5, 2, 3), accumulate: false);

    [Theory, MemberData(nameof(Cases))]
    public void SequenceAcrossChunksMatchesReferenceAndCpu(Kind kind, bool causal) => Check(kind, causal, 1, new AttentionShape(70, 1, 5), accumulate: true);

    void Check(Kind kind, bool causal, int n, AttentionShape s, bool accumulate)
    {
        var rng = new Random((int)kind * 10 + (causal ? 1 : 0) + s.SeqLen);
        int size = s.SampleSize;
        double qkScale = kind == Kind.Softmax ? 2 : 1;
        using var q = fx.Batch(rng, n, size, offset: 2, gap: 3, scale: qkScale);
        using var k = fx.Batch(rng, n, size, offset: 1, gap: 4, scale: qkScale);
        using var v = fx.Batch(rng, n, size, offset: 3, gap: 1);
        using var dy = fx.Batch(rng, n, size, offset: 0, gap: 2);
        using var y = fx.Batch(rng, n, size, offset: 4, gap: 1);
        using var dq = fx.Batch(rng, n, size, offset: 1, gap: 2);
        using var dk = fx.Batch(rng, n, size, offset: 2, gap: 1);
        using var dv = fx.Batch(rng, n, size, offset: 0, gap: 3);
        using var lse = fx.Array(new float[SoftmaxAttention.SaveSize(n, s)]);

        var map = kind == Kind.Elu ? RefMap.EluPlusOne : RefMap.Relu;
        var e = kind == Kind.Softmax
            ? AttentionReference.Softmax(n, s, causal, q.Values, k.Values, v.Values, dy.Values)
            : AttentionReference.Linear(n, s, causal, map, q.Values, k.Values, v.Values, dy.Values);

        switch (kind)
        {
            case Kind.Softmax:
                fx.Kernels.SoftmaxAttentionForward(n, s, causal, q.View, k.View, v.View, y.View, lse.View);
                fx.Kernels.SoftmaxAttentionBackward(n, s, causal, q.View, k.View, v.View, y.View, dy.View, lse.View, dq.View, dk.View, dv.View, accumulate);
                break;
            case Kind.Elu:
                fx.Kernels.LinearAttentionForward<EluPlusOne>(n, s, causal, q.View, k.View, v.View, y.View);
                fx.Kernels.LinearAttentionBackward<EluPlusOne>(n, s, causal, q.View, k.View, v.View, y.View, dy.View, dq.View, dk.View, dv.View, accumulate);
                break;
            default:
                fx.Kernels.LinearAttentionForward<Relu>(n, s, causal, q.View, k.View, v.View, y.View);
                fx.Kernels.LinearAttentionBackward<Relu>(n, s, causal, q.View, k.View, v.View, y.View, dy.View, dq.View, dk.View, dv.View, accumulate);
                break;
        }
        float[] gy = y.Read(), gq = dq.Read(), gk = dk.Read(), gv = dv.Read();
        string what = $"{kind} {(causal ? "causal" : "full")} {s}";
        AssertWithin(gy, e.Y, e.TolY, 1, null, what + " y");
        AssertWithin(gq, e.Dq, e.TolDq, 1, accumulate ? dq.Values : null, what + " dq");
        AssertWithin(gk, e.Dk, e.TolDk, 1, accumulate ? dk.Values : null, what + " dk");
        AssertWithin(gv, e.Dv, e.TolDv, 1, accumulate ? dv.Values : null, what + " dv");

        // The CPU SIMD kernels on the same samples (dense copies), within twice the bound of the device.
        var cpu = RunCpu(kind, causal, n, s, q.Values, k.Values, v.Values, dy.Values, accumulate ? (dq.Values, dk.Values, dv.Values) : null);
        AssertWithin(gy, ToDouble(cpu.Y), e.TolY, 2, null, what + " y, device against CPU");
        AssertWithin(gq, ToDouble(cpu.Dq), e.TolDq, 2, null, what + " dq, device against CPU");
        AssertWithin(gk, ToDouble(cpu.Dk), e.TolDk, 2, null, what + " dk, device against CPU");
        AssertWithin(gv, ToDouble(cpu.Dv), e.TolDv, 2, null, what + " dv, device against CPU");
    }

    static double[] ToDouble(float[] a) => Array.ConvertAll(a, x => (double)x);

    /// <summary>|got - (expected + prior)| &lt;= factor * tol (+ u |expected + prior| for the rounding of an accumulation).</summary>
    static void AssertWithin(float[] got, double[] expected, double[] tol, double factor, double[]? prior, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            double e = expected[i] + (prior is null ? 0 : prior[i]);
            double t = factor * tol[i] + (prior is null ? 0 : AttentionReference.U * Math.Abs(e));
            if (!(Math.Abs(got[i] - e) <= t))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {got[i]:R} (|diff| {Math.Abs(got[i] - e):G3} > {t:G3})");
        }
    }

    sealed record Cpu(float[] Y, float[] Dq, float[] Dk, float[] Dv);

    static Cpu RunCpu(Kind kind, bool causal, int n, AttentionShape s, double[] q, double[] k, double[] v, double[] dy,
        (double[] Dq, double[] Dk, double[] Dv)? prior)
    {
        int size = s.SampleSize;
        View V(double[] x) => new(Array.ConvertAll(x, d => (float)d), 0, size);
        View vq = V(q), vk = V(k), vv = V(v), vdy = V(dy), y = new(new float[n * size], 0, size);
        View dq = prior is { } p0 ? V(p0.Dq) : new(new float[n * size], 0, size);
        View dk = prior is { } p1 ? V(p1.Dk) : new(new float[n * size], 0, size);
        View dv = prior is { } p2 ? V(p2.Dv) : new(new float[n * size], 0, size);
        bool acc = prior is not null;
        if (kind == Kind.Softmax)
        {
            var lse = new float[SoftmaxAttention.SaveSize(n, s)];
            var work = new float[SoftmaxAttention.WorkspaceSize(n, s)];
            SoftmaxAttention.Forward(n, s, causal, vq, vk, vv, y, lse, 0);
            SoftmaxAttention.Backward(n, s, causal, vq, vk, vv, y, vdy, lse, 0, work, 0, dq, dk, dv, acc);
        }
        else
        {
            var work = new float[LinearAttention.WorkspaceSize(n, s, causal)];
            if (kind == Kind.Elu)
            {
                LinearAttention.Forward<EluPlusOne>(n, s, causal, vq, vk, vv, y, work, 0);
                LinearAttention.Backward<EluPlusOne>(n, s, causal, vq, vk, vv, y, vdy, work, 0, dq, dk, dv, acc);
            }
            else
            {
                LinearAttention.Forward<Relu>(n, s, causal, vq, vk, vv, y, work, 0);
                LinearAttention.Backward<Relu>(n, s, causal, vq, vk, vv, y, vdy, work, 0, dq, dk, dv, acc);
            }
        }
        return new Cpu(y.Data, dq.Data, dk.Data, dv.Data);
    }

    /// <summary>PtxCompileTests instantiates generic kernels with Runtime's activations; the linear attention
    /// kernels also run with EluPlusOne, which is not one of them.</summary>
    [Fact]
    public void LinearKernelsWithEluPlusOneCompileToPtx()
    {
        var kernels = typeof(GpuKernels).GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(m => m.IsGenericMethodDefinition && m.GetParameters() is [{ ParameterType: var i }, { ParameterType: var p }, ..]
                && i == typeof(Index1D) && p.Name == "LinearPlan")
            .ToList();
        Assert.Equal(5, kernels.Count);
        using var backend = new PTXBackend(fx.Device.Context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, null!);
        foreach (var k in kernels)
            backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(k.MakeGenericMethod(typeof(EluPlusOne))), KernelSpecialization.Empty);
    }

    [Fact]
    public void RejectsHeadsLargerThanTheLocalArrays()
    {
        var s = new AttentionShape(2, 1, GpuKernels.MaxHeadSize + 1);
        using var x = fx.Batch(new Random(1), 1, s.SampleSize);
        using var lse = fx.Array(new float[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => fx.Kernels.SoftmaxAttentionForward(1, s, false, x.View, x.View, x.View, x.View, lse.View));
    }
}
