// Sum and mean over one per-sample axis (PyTorch's x.sum(dim) / x.mean(dim)): a sample seen as
// [outer, len, inner] becomes [outer, inner], y[o, i] = scale * sum over l of x[o, l, i] (scale 1 for a sum,
// 1 / len for a mean). With inner > 1 whole rows of `inner` floats are added with vectors, l in order; over the
// last axis (inner = 1) each row is reduced in vector lanes combined in double. The backward pass broadcasts
// scale * dy back over the reduced axis.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Sum or mean over one axis of [outer, len, inner] samples.</summary>
public static unsafe class ReduceKernel
{
    /// <summary>y[o, i] = <paramref name="scale"/> * sum over l of x[o, l, i].</summary>
    public static void Forward(int n, int outer, int len, int inner, float scale, View x, View y)
    {
        KernelUtil.Check(x, n, outer * len * inner, nameof(x));
        KernelUtil.Check(y, n, outer * inner, nameof(y));
        if (n == 0 || outer == 0 || inner == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new Job
            {
                Outer = outer, Len = len, Inner = inner, Scale = scale, Units = n * outer,
                X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
            };
            job.PerTask = Math.Max(1, 16384 / Math.Max(1, len * inner));
            WorkerPool.For((job.Units + job.PerTask - 1) / job.PerTask, ref job);
        }
    }

    /// <summary>dx[o, l, i] (=, or += when <paramref name="accumulate"/>) <paramref name="scale"/> * dy[o, i].</summary>
    public static void Backward(int n, int outer, int len, int inner, float scale, View dy, View dx, bool accumulate)
    {
        KernelUtil.Check(dy, n, outer * inner, nameof(dy));
        KernelUtil.Check(dx, n, outer * len * inner, nameof(dx));
        if (n == 0 || outer == 0 || inner == 0 || len == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new Job
            {
                Backward = true, Accumulate = accumulate, Outer = outer, Len = len, Inner = inner, Scale = scale, Units = n * outer,
                X = pdx + dx.Offset, XStride = dx.BatchStride, Y = pdy + dy.Offset, YStride = dy.BatchStride,
            };
            job.PerTask = Math.Max(1, 16384 / Math.Max(1, len * inner));
            WorkerPool.For((job.Units + job.PerTask - 1) / job.PerTask, ref job);
        }
    }

    struct Job : IParallelJob
    {
        /// <summary>Forward: X = x, Y = y. Backward: X = dx, Y = dy.</summary>
        public float* X, Y;
        public int Outer, Len, Inner, XStride, YStride, Units, PerTask;
        public float Scale;
        public bool Backward, Accumulate;

        public void Run(int task)
        {
            int end = Math.Min(Units, (task + 1) * PerTask);
            for (int u = task * PerTask; u < end; u++)
            {
                int b = u / Outer, o = u - b * Outer;
                float* x = X + (long)b * XStride + (long)o * Len * Inner, y = Y + (long)b * YStride + (long)o * Inner;
                if (Backward && Inner == 1) Fill(x, Len, Scale * y[0], Accumulate);
                else if (Backward)
                    for (int l = 0; l < Len; l++) Scaled(y, x + (long)l * Inner, Inner, Scale, Accumulate);
                else if (Inner == 1) y[0] = (float)(LayerNormKernel.RowSum(x, Len) * Scale);
                else
                {
                    new Span<float>(y, Inner).Clear();
                    for (int l = 0; l < Len; l++) Scaled(x + (long)l * Inner, y, Inner, 1f, true);
                    if (Scale != 1f) Scaled(y, y, Inner, Scale, false);
                }
            }
        }
    }

    /// <summary>dst (= or +=) v over <paramref name="len"/> floats.</summary>
    static void Fill(float* dst, int len, float v, bool accumulate)
    {
        int i = 0;
        if (Simd.Use512)
        {
            var vv = Vector512.Create(v);
            for (; i <= len - 16; i += 16) (accumulate ? Vector512.Load(dst + i) + vv : vv).Store(dst + i);
        }
        {
            var vv = Vector256.Create(v);
            for (; i <= len - 8; i += 8) (accumulate ? Vector256.Load(dst + i) + vv : vv).Store(dst + i);
        }
        for (; i < len; i++) dst[i] = accumulate ? dst[i] + v : v;
    }

    /// <summary>dst (= or +=) s * src over <paramref name="len"/> floats.</summary>
    static void Scaled(float* src, float* dst, int len, float s, bool accumulate)
    {
        int i = 0;
        if (Simd.Use512)
        {
            var vs = Vector512.Create(s);
            for (; i <= len - 16; i += 16)
            {
                var v = Vector512.Load(src + i) * vs;
                if (accumulate) v += Vector512.Load(dst + i);
                v.Store(dst + i);
            }
        }
        {
            var vs = Vector256.Create(s);
            for (; i <= len - 8; i += 8)
            {
                var v = Vector256.Load(src + i) * vs;
                if (accumulate) v += Vector256.Load(dst + i);
                v.Store(dst + i);
            }
        }
        for (; i < len; i++) dst[i] = accumulate ? dst[i] + src[i] * s : src[i] * s;
    }
}
