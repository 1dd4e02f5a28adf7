// Fully connected layer as GEMMs over the batch: samples are the rows of a row-major matrix whose
// leading dimension is the view's batch stride, so slices of a larger buffer need no copy.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Fully connected layer over (features) samples; weight [out, in].</summary>
public static unsafe class LinearKernel
{
    /// <summary>y = act(scale[o] * (x W^T)[o] + shift[o]).</summary>
    public static void Forward<TAct>(int n, int inF, int outF, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
    {
        KernelUtil.Check(x, n, inF, nameof(x));
        KernelUtil.Check(y, n, outF, nameof(y));
        KernelUtil.Check(w, wOff, inF * outF, nameof(w));
        if (scale is not null) KernelUtil.Check(scale, scaleOff, outF, nameof(scale));
        if (shift is not null) KernelUtil.Check(shift, shiftOff, outF, nameof(shift));
        if (n == 0 || outF == 0) return;
        fixed (float* px = x.Data, pw = w, py = y.Data, psc = scale, psh = shift)
        {
            float* yy = py + y.Offset;
            GemmCore.Run(false, true, n, outF, inF, 1f, px + x.Offset, x.BatchStride, pw + wOff, inF, 0f, yy, y.BatchStride,
                parallel: !WorkerPool.InsideJob);
            float* sc = psc == null ? null : psc + scaleOff;
            float* sh = psh == null ? null : psh + shiftOff;
            if (typeof(TAct) == typeof(Identity) && sc == null && sh == null) return;
            // Over token rows (a transformer's linear layers: thousands of rows) the epilogue is a pass of its own
            // that would otherwise run on one thread while the GEMM ran on all.
            var job = new EpilogueJob<TAct> { Y = yy, Stride = y.BatchStride, N = n, Len = outF, Scale = sc, Shift = sh };
            WorkerPool.For((n + EpilogueJob<TAct>.Rows - 1) / EpilogueJob<TAct>.Rows, ref job, (long)n * outF * WorkerPool.FlopsPerElement);
        }
    }

    struct EpilogueJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public const int Rows = 64;
        public float* Y, Scale, Shift;
        public int Stride, N, Len;

        public void Run(int block)
        {
            int r1 = Math.Min(N, (block + 1) * Rows);
            for (int b = block * Rows; b < r1; b++) RowEpilogue<TAct>(Y + (long)b * Stride, Len, Scale, Shift);
        }
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = dy W.</summary>
    public static void BackwardData(int n, int inF, int outF, View dy, float[] w, int wOff, View dx, bool accumulate)
    {
        KernelUtil.Check(dy, n, outF, nameof(dy));
        KernelUtil.Check(dx, n, inF, nameof(dx));
        KernelUtil.Check(w, wOff, inF * outF, nameof(w));
        if (n == 0 || inF == 0) return;
        fixed (float* pdy = dy.Data, pw = w, pdx = dx.Data)
            GemmCore.Run(false, false, n, inF, outF, 1f, pdy + dy.Offset, dy.BatchStride, pw + wOff, inF,
                accumulate ? 1f : 0f, pdx + dx.Offset, dx.BatchStride, parallel: !WorkerPool.InsideJob);
    }

    /// <summary>dw += dy^T x.</summary>
    public static void BackwardWeights(int n, int inF, int outF, View x, View dy, float[] dw, int dwOff)
    {
        KernelUtil.Check(x, n, inF, nameof(x));
        KernelUtil.Check(dy, n, outF, nameof(dy));
        KernelUtil.Check(dw, dwOff, inF * outF, nameof(dw));
        if (n == 0 || inF == 0 || outF == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
            GemmCore.Run(true, false, outF, inF, n, 1f, pdy + dy.Offset, dy.BatchStride, px + x.Offset, x.BatchStride,
                1f, pdw + dwOff, inF, parallel: !WorkerPool.InsideJob);
    }

    /// <summary>y[o] = act(scale[o] y[o] + shift[o]) along one row; null scale/shift mean 1/0.</summary>
    static void RowEpilogue<TAct>(float* y, int len, float* scale, float* shift) where TAct : struct, IActivation
    {
        int o = 0;
        if (Simd.Use512)
        {
            for (; o <= len - 16; o += 16)
            {
                var v = Vector512.Load(y + o);
                if (scale != null) v *= Vector512.Load(scale + o);
                if (shift != null) v += Vector512.Load(shift + o);
                default(TAct).Apply(v).Store(y + o);
            }
        }
        for (; o <= len - 8; o += 8)
        {
            var v = Vector256.Load(y + o);
            if (scale != null) v *= Vector256.Load(scale + o);
            if (shift != null) v += Vector256.Load(shift + o);
            default(TAct).Apply(v).Store(y + o);
        }
        for (; o < len; o++)
        {
            float v = y[o];
            if (scale != null) v *= scale[o];
            if (shift != null) v += shift[o];
            y[o] = default(TAct).Apply(v);
        }
    }
}
