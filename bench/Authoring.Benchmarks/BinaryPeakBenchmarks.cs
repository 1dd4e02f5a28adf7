// The machine's binary (XNOR-popcount) peak, beside PeakBenchmarks' fp32 FMA peak and measured in the
// same run: the instruction sequence of the packed kernels' best path (XnorPopcount.cs) in a loop
// with nothing else in it, so the packed conv's binary GOPS can be read as a fraction of what this
// CPU can do at all, and "binary peak / our fp32 GFLOP/s at a shape" bounds the packed/fp32 ratio.
//   - Xnor512: Harley-Seal carry-save adders (two VPTERNLOGQ per full adder) over blocks of 8 XOR
//     results, one byte popcount (VPERMB with VBMI, else nibble VPSHUFB) per block, VPSADBW every 31
//     blocks; two positions (two independent adder trees) against one 16-word weight block held in
//     registers, each activation word broadcast from L1 into the XOR (as the kernel does).
//   - Xnor256: the AVX2 form (five-operation full adders, nibble VPSHUFB popcount), weights loaded
//     from L1 (four blocks in turn) once per word for both positions, as 16 ymm registers cannot hold them.
// .NET 10 exposes no VPOPCNTQ/VPOPCNTB (AVX512_VPOPCNTDQ, BITALG) intrinsic, so the hardware popcount
// instruction, where the CPU has it, is not part of this peak: it is the best sequence .NET can emit.
// Operations: 2 per bit pair (XNOR + popcount-accumulate), like a multiply-add in the fp32 peak.
// With DOTNET_EnableAVX512F=0 the 512-bit cases do nothing and report NaN, as in PeakBenchmarks.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Authoring.Runtime.Cpu;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace Authoring.Benchmarks;

/// <summary>XNOR-popcount peak: the GFLOP/s column is the machine's binary GOPS at each vector width and thread count.</summary>
public class BinaryPeakBenchmarks : IFlopCount
{
    /// <summary>Blocks of 31 iterations per thread per call; each iteration is 8 words x 2 positions.</summary>
    internal const int Outer = 1 << 11;

    /// <summary>Threads taking part (1, or every thread of the pool).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Binary operations of one thread's loop at <paramref name="bits"/> bits per vector.</summary>
    internal static double OpsPerThread(int bits) => (double)Outer * 31 * 8 * 2 * bits * 2;

    /// <inheritdoc />
    public double Flops(BenchmarkCase benchmarkCase)
    {
        int threads = Convert.ToInt32(benchmarkCase.Parameters["Threads"]);
        bool wide = benchmarkCase.Descriptor.WorkloadMethod.Name.Contains("512");
        if (wide && !XnorPopcount.Avx512Available) return double.NaN;
        if (!wide && !XnorPopcount.Avx2Available) return double.NaN;
        return OpsPerThread(wide ? 512 : 256) * Math.Min(threads, WorkerPool.ThreadCount);
    }

    /// <summary>The AVX-512 carry-save loop per thread; nothing where AVX-512 F/BW is not accelerated.</summary>
    [Benchmark]
    public ulong Xnor512()
    {
        if (!XnorPopcount.Avx512Available) return 0;
        var job = new Job512();
        Run(ref job);
        return job.Sink;
    }

    /// <summary>The AVX2 carry-save loop per thread.</summary>
    [Benchmark]
    public ulong Xnor256()
    {
        if (!XnorPopcount.Avx2Available) return 0;
        var job = new Job256();
        Run(ref job);
        return job.Sink;
    }

    void Run<TJob>(ref TJob job) where TJob : struct, IParallelJob
    {
        if (Threads == 1) job.Run(0);
        else WorkerPool.For(Math.Min(Threads, WorkerPool.ThreadCount), ref job);
    }

    /// <summary>128 pseudo-random activation words (8 iterations x 2 positions x 8 words), L1-resident.</summary>
    static unsafe void Fill(ulong* x, int seed)
    {
        ulong s = 0x9E3779B97F4A7C15UL * (ulong)(seed + 1);
        for (int i = 0; i < 128; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; x[i] = s; }
    }

    unsafe struct Job512 : IParallelJob
    {
        public ulong Sink;

        [MethodImpl(MethodImplOptions.NoInlining)]
        [SkipLocalsInit]
        public void Run(int index)
        {
            ulong* x = stackalloc ulong[128];
            Fill(x, index);
            var w0 = Vector512.Create(0x0123456789ABCDEFUL, 1, 2, 3, 4, 5, 6, 7);
            Vector512<ulong> w1 = w0 * 3, w2 = w0 * 5, w3 = w0 * 7, w4 = w0 * 11, w5 = w0 * 13, w6 = w0 * 17, w7 = w0 * 19;
            Vector512<ulong> oa = default, ta = default, fa = default, ob = default, tb = default, fb = default, sa = default, sb = default;
            for (int outer = 0; outer < Outer; outer++)
            {
                Vector512<byte> ea = default, eb = default;
                for (int i = 0; i < 31; i++)
                {
                    ulong* xa = x + (i & 7) * 16, xb = xa + 8;
                    var h1 = XnorPopcount.Csa(ref oa, w0 ^ Vector512.Create(xa[0]), w1 ^ Vector512.Create(xa[1]));
                    var h2 = XnorPopcount.Csa(ref oa, w2 ^ Vector512.Create(xa[2]), w3 ^ Vector512.Create(xa[3]));
                    var k1 = XnorPopcount.Csa(ref ob, w0 ^ Vector512.Create(xb[0]), w1 ^ Vector512.Create(xb[1]));
                    var k2 = XnorPopcount.Csa(ref ob, w2 ^ Vector512.Create(xb[2]), w3 ^ Vector512.Create(xb[3]));
                    var g = XnorPopcount.Csa(ref ta, h1, h2);
                    var q = XnorPopcount.Csa(ref tb, k1, k2);
                    h1 = XnorPopcount.Csa(ref oa, w4 ^ Vector512.Create(xa[4]), w5 ^ Vector512.Create(xa[5]));
                    h2 = XnorPopcount.Csa(ref oa, w6 ^ Vector512.Create(xa[6]), w7 ^ Vector512.Create(xa[7]));
                    k1 = XnorPopcount.Csa(ref ob, w4 ^ Vector512.Create(xb[4]), w5 ^ Vector512.Create(xb[5]));
                    k2 = XnorPopcount.Csa(ref ob, w6 ^ Vector512.Create(xb[6]), w7 ^ Vector512.Create(xb[7]));
                    ea = Avx512BW.Add(ea, XnorPopcount.Count(XnorPopcount.Csa(ref fa, g, XnorPopcount.Csa(ref ta, h1, h2))));
                    eb = Avx512BW.Add(eb, XnorPopcount.Count(XnorPopcount.Csa(ref fb, q, XnorPopcount.Csa(ref tb, k1, k2))));
                }
                sa += Avx512BW.SumAbsoluteDifferences(ea, Vector512<byte>.Zero).AsUInt64();
                sb += Avx512BW.SumAbsoluteDifferences(eb, Vector512<byte>.Zero).AsUInt64();
            }
            Sink = Vector512.Sum(sa + sb + oa + ta + fa + ob + tb + fb);
        }
    }

    unsafe struct Job256 : IParallelJob
    {
        public ulong Sink;

        [MethodImpl(MethodImplOptions.NoInlining)]
        [SkipLocalsInit]
        public void Run(int index)
        {
            ulong* x = stackalloc ulong[128];
            ulong* w0 = stackalloc ulong[128];
            Fill(x, index);
            Fill(w0, index + 100);
            var lut = XnorPopcount.Nibbles256();
            var m = Vector256.Create((byte)0x0F);
            Vector256<ulong> oa = default, ta = default, fa = default, ob = default, tb = default, fb = default, sa = default, sb = default;
            for (int outer = 0; outer < Outer; outer++)
            {
                Vector256<byte> ea = default, eb = default;
                for (int i = 0; i < 31; i++)
                {
                    ulong* xa = x + (i & 7) * 16, xb = xa + 8, w = w0 + (i & 3) * 32;
                    var wj = Vector256.Load(w); var wk = Vector256.Load(w + 4);
                    var h1 = XnorPopcount.Csa(ref oa, wj ^ Vector256.Create(xa[0]), wk ^ Vector256.Create(xa[1]));
                    var k1 = XnorPopcount.Csa(ref ob, wj ^ Vector256.Create(xb[0]), wk ^ Vector256.Create(xb[1]));
                    wj = Vector256.Load(w + 8); wk = Vector256.Load(w + 12);
                    var h2 = XnorPopcount.Csa(ref oa, wj ^ Vector256.Create(xa[2]), wk ^ Vector256.Create(xa[3]));
                    var k2 = XnorPopcount.Csa(ref ob, wj ^ Vector256.Create(xb[2]), wk ^ Vector256.Create(xb[3]));
                    var g = XnorPopcount.Csa(ref ta, h1, h2);
                    var q = XnorPopcount.Csa(ref tb, k1, k2);
                    wj = Vector256.Load(w + 16); wk = Vector256.Load(w + 20);
                    h1 = XnorPopcount.Csa(ref oa, wj ^ Vector256.Create(xa[4]), wk ^ Vector256.Create(xa[5]));
                    k1 = XnorPopcount.Csa(ref ob, wj ^ Vector256.Create(xb[4]), wk ^ Vector256.Create(xb[5]));
                    wj = Vector256.Load(w + 24); wk = Vector256.Load(w + 28);
                    h2 = XnorPopcount.Csa(ref oa, wj ^ Vector256.Create(xa[6]), wk ^ Vector256.Create(xa[7]));
                    k2 = XnorPopcount.Csa(ref ob, wj ^ Vector256.Create(xb[6]), wk ^ Vector256.Create(xb[7]));
                    ea = Avx2.Add(ea, XnorPopcount.Count(XnorPopcount.Csa(ref fa, g, XnorPopcount.Csa(ref ta, h1, h2)), lut, m));
                    eb = Avx2.Add(eb, XnorPopcount.Count(XnorPopcount.Csa(ref fb, q, XnorPopcount.Csa(ref tb, k1, k2)), lut, m));
                }
                sa += Avx2.SumAbsoluteDifferences(ea, Vector256<byte>.Zero).AsUInt64();
                sb += Avx2.SumAbsoluteDifferences(eb, Vector256<byte>.Zero).AsUInt64();
            }
            Sink = Vector256.Sum(sa + sb + oa + ta + fa + ob + tb + fb);
        }
    }
}
