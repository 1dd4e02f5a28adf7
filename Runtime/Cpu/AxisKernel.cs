// Copies along an inner per-sample axis, for Concat and Slice on any axis but the first (the first axis needs no
// kernel: its slices are views and its concat parts are written in place). A sample seen as `outer` rows holds,
// in each row, a run of `len` floats at a fixed offset: Copy moves those runs between two such layouts (a part
// into its columns of a concat, a slice out of its input, and both backwards); SliceBackward writes the whole
// input gradient, zeros outside the slice, so it can overwrite a gradient buffer on its own.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Row-run copies along an axis: concat parts and slices of inner axes.</summary>
public static unsafe class AxisKernel
{
    /// <summary>dst[o * dstRow + dstOff + j] (=, or += when <paramref name="accumulate"/>) src[o * srcRow + srcOff + j]
    /// for o &lt; <paramref name="outer"/>, j &lt; <paramref name="len"/>, in each of the <paramref name="n"/> samples.</summary>
    public static void Copy(int n, int outer, int len, View src, int srcRow, int srcOff, View dst, int dstRow, int dstOff, bool accumulate)
    {
        CheckRuns(src, n, outer, len, srcRow, srcOff, nameof(src));
        CheckRuns(dst, n, outer, len, dstRow, dstOff, nameof(dst));
        if (n == 0 || outer == 0 || len == 0) return;
        fixed (float* ps = src.Data, pd = dst.Data)
        {
            var job = new Job
            {
                Outer = outer, Len = len, Units = n * outer, Accumulate = accumulate,
                Src = ps + src.Offset + srcOff, SrcStride = src.BatchStride, SrcRow = srcRow,
                Dst = pd + dst.Offset + dstOff, DstStride = dst.BatchStride, DstRow = dstRow,
            };
            job.PerTask = Math.Max(1, 16384 / len);
            WorkerPool.For((job.Units + job.PerTask - 1) / job.PerTask, ref job);
        }
    }

    /// <summary>The gradient of a slice of <paramref name="len"/> along an axis of <paramref name="full"/> starting at
    /// <paramref name="start"/> (runs of the inner axes' floats per index): per row of dx, its slice
    /// (=, or += when <paramref name="accumulate"/>) dy's row; without accumulate the rest of the row is zeroed.</summary>
    public static void SliceBackward(int n, int outer, int full, int start, int len, View dy, View dx, bool accumulate)
    {
        if (start < 0 || len < 0 || (long)start + len > full) throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + len}) outside a row of {full}.");
        KernelUtil.Check(dy, n, outer * len, nameof(dy));
        KernelUtil.Check(dx, n, outer * full, nameof(dx));
        if (n == 0 || outer == 0 || full == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new Job
            {
                Outer = outer, Len = len, Units = n * outer, Accumulate = accumulate, Full = full, Start = start,
                Src = pdy + dy.Offset, SrcStride = dy.BatchStride, SrcRow = len,
                Dst = pdx + dx.Offset + start, DstStride = dx.BatchStride, DstRow = full,
            };
            job.PerTask = Math.Max(1, 16384 / full);
            WorkerPool.For((job.Units + job.PerTask - 1) / job.PerTask, ref job);
        }
    }

    static void CheckRuns(View v, int n, int outer, int len, int row, int off, string name)
    {
        // Rows must not overlap: a run ends inside its own row (a single row may be of any length).
        if (off < 0 || len < 0 || row < 0 || outer < 0 || (outer > 1 && (long)off + len > row))
            throw new ArgumentException($"{name}: runs of {len} at offset {off} do not fit rows of {row}.", name);
        long extent = outer == 0 ? 0 : (long)(outer - 1) * row + off + len;
        if (extent > int.MaxValue) throw new ArgumentException($"{name}: {outer} rows of {row} exceed an int.", name);
        KernelUtil.Check(v, n, (int)extent, name);
    }

    struct Job : IParallelJob
    {
        public float* Src, Dst;
        public int Outer, Len, Units, PerTask, SrcStride, SrcRow, DstStride, DstRow, Full, Start;
        public bool Accumulate;

        public void Run(int task)
        {
            int end = Math.Min(Units, (task + 1) * PerTask);
            for (int u = task * PerTask; u < end; u++)
            {
                int b = u / Outer, o = u - b * Outer;
                float* s = Src + (long)b * SrcStride + (long)o * SrcRow, d = Dst + (long)b * DstStride + (long)o * DstRow;
                if (Full > 0 && !Accumulate)
                {
                    // SliceBackward overwriting: zeros before and after the slice (d points at the slice's start).
                    new Span<float>(d - Start, Start).Clear();
                    new Span<float>(d + Len, Full - Start - Len).Clear();
                }
                CopyRun(s, d, Len, Accumulate);
            }
        }
    }

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
}
