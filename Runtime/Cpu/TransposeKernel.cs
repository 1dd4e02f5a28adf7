// Transpose of two per-sample axes (PyTorch's x.transpose(a, b) made contiguous). Any swap of two axes of a
// row-major shape is the swap of A and B in [outer, A, mid, B, inner]: y[o, jb, m, ja, :] = x[o, ja, m, jb, :].
// Runs of `inner` contiguous floats are copied with vectors (Vector512, then Vector256); when the last axis is
// swapped (inner = 1) 8 x 8 tiles are transposed in registers, so both the reads and the writes stay contiguous.
// The backward pass is the same swap applied to dy (the swap is its own inverse), accumulating when asked.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

/// <summary>Swaps two axes of every sample: [outer, a, mid, b, inner] to [outer, b, mid, a, inner].</summary>
public static unsafe class TransposeKernel
{
    /// <summary>y (=, or += when <paramref name="accumulate"/>) x with axes <paramref name="a"/> and <paramref name="b"/>
    /// of [outer, a, mid, b, inner] swapped.</summary>
    public static void Swap(int n, int outer, int a, int mid, int b, int inner, View x, View y, bool accumulate)
    {
        int size = outer * a * mid * b * inner;
        KernelUtil.Check(x, n, size, nameof(x));
        KernelUtil.Check(y, n, size, nameof(y));
        if (n == 0 || size == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new Job
            {
                Outer = outer, A = a, Mid = mid, B = b, Inner = inner, Accumulate = accumulate,
                X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
            };
            // One task per (sample, o, m) plane of a x b runs; planes grouped so a task moves ~16K floats.
            int planes = n * outer * mid;
            job.Planes = planes;
            job.PerTask = Math.Max(1, 16384 / Math.Max(1, a * b * inner));
            WorkerPool.For((planes + job.PerTask - 1) / job.PerTask, ref job);
        }
    }

    struct Job : IParallelJob
    {
        public float* X, Y;
        public int Outer, A, Mid, B, Inner, XStride, YStride, Planes, PerTask;
        public bool Accumulate;

        public void Run(int task)
        {
            int end = Math.Min(Planes, (task + 1) * PerTask);
            for (int t = task * PerTask; t < end; t++)
            {
                int s = t / (Outer * Mid), r = t - s * Outer * Mid, o = r / Mid, m = r - o * Mid;
                // x[o, ja, m, jb, :] at ((o A + ja) Mid + m) B Inner + jb Inner; y[o, jb, m, ja, :] likewise.
                float* x = X + (long)s * XStride + ((long)o * A * Mid + m) * B * Inner;
                float* y = Y + (long)s * YStride + ((long)o * B * Mid + m) * A * Inner;
                long xRow = (long)Mid * B * Inner, yRow = (long)Mid * A * Inner;
                if (Inner == 1) Plane(x, xRow, y, yRow, A, B, Accumulate);
                else
                    for (int ja = 0; ja < A; ja++)
                        for (int jb = 0; jb < B; jb++)
                            CopyRun(x + ja * xRow + (long)jb * Inner, y + jb * yRow + (long)ja * Inner, Inner, Accumulate);
            }
        }
    }

    /// <summary>dst (= or +=) src over a run of <paramref name="len"/> floats.</summary>
    static void CopyRun(float* src, float* dst, int len, bool accumulate)
    {
        int i = 0;
        if (Simd.Use512)
            for (; i <= len - 16; i += 16)
            {
                var v = Vector512.Load(src + i);
                if (accumulate) v += Vector512.Load(dst + i);
                v.Store(dst + i);
            }
        for (; i <= len - 8; i += 8)
        {
            var v = Vector256.Load(src + i);
            if (accumulate) v += Vector256.Load(dst + i);
            v.Store(dst + i);
        }
        for (; i < len; i++) dst[i] = accumulate ? dst[i] + src[i] : src[i];
    }

    /// <summary>y[jb * yRow + ja] (= or +=) x[ja * xRow + jb] for an a x b plane: 8 x 8 tiles through registers, scalar edges.</summary>
    static void Plane(float* x, long xRow, float* y, long yRow, int a, int b, bool accumulate)
    {
        int a8 = Avx.IsSupported ? a / 8 * 8 : 0, b8 = Avx.IsSupported ? b / 8 * 8 : 0;
        for (int ja = 0; ja < a8; ja += 8)
            for (int jb = 0; jb < b8; jb += 8)
            {
                float* s = x + ja * xRow + jb;
                var r0 = Vector256.Load(s); var r1 = Vector256.Load(s + xRow); var r2 = Vector256.Load(s + 2 * xRow); var r3 = Vector256.Load(s + 3 * xRow);
                var r4 = Vector256.Load(s + 4 * xRow); var r5 = Vector256.Load(s + 5 * xRow); var r6 = Vector256.Load(s + 6 * xRow); var r7 = Vector256.Load(s + 7 * xRow);
                GemmCore.Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* d = y + jb * yRow + ja;
                Put(d, r0, accumulate); Put(d + yRow, r1, accumulate); Put(d + 2 * yRow, r2, accumulate); Put(d + 3 * yRow, r3, accumulate);
                Put(d + 4 * yRow, r4, accumulate); Put(d + 5 * yRow, r5, accumulate); Put(d + 6 * yRow, r6, accumulate); Put(d + 7 * yRow, r7, accumulate);
            }
        // Edges: the columns past b8 for the tiled rows, then the rows past a8.
        for (int ja = 0; ja < a8; ja++)
            for (int jb = b8; jb < b; jb++) Put(y + jb * yRow + ja, x[ja * xRow + jb], accumulate);
        for (int ja = a8; ja < a; ja++)
            for (int jb = 0; jb < b; jb++) Put(y + jb * yRow + ja, x[ja * xRow + jb], accumulate);
    }

    static void Put(float* d, Vector256<float> v, bool accumulate)
    {
        if (accumulate) v += Vector256.Load(d);
        v.Store(d);
    }

    static void Put(float* d, float v, bool accumulate) => *d = accumulate ? *d + v : v;
}
