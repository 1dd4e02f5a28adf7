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
            if (TallForward<TAct>(n, inF, outF, px + x.Offset, x.BatchStride, pw + wOff, psc == null ? null : psc + scaleOff,
                    psh == null ? null : psh + shiftOff, yy, y.BatchStride)) return;
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

    [ThreadStatic] static float[]? t_wt;

    /// <summary>y = act(scale (x W^T) + shift) over many rows (batch x tokens) with the epilogue applied in registers:
    /// the product and the epilogue were two passes over y, and the epilogue ran alone after the GEMM. W^T is copied
    /// once per call (in x out floats); 6 rows x 64 outputs accumulate in 24 registers over the input features in order.
    /// AVX-512 only; false when it does not apply (few rows, outputs not a multiple of 16, a large weight).</summary>
    static bool TallForward<TAct>(int n, int inF, int outF, float* x, int xStride, float* w, float* scale, float* shift, float* y, int yStride)
        where TAct : struct, IActivation
    {
        if (!TallTiles(n, inF, outF)) return false;
        var wt = t_wt is { } a && a.Length >= inF * outF ? a : t_wt = new float[Math.Max(inF * outF, 16384)];
        fixed (float* pt = wt)
        {
            for (int o = 0; o < outF; o++)
            {
                float* src = w + (long)o * inF;
                for (int i = 0; i < inF; i++) pt[(long)i * outF + o] = src[i];
            }
            var job = new TallForwardJob<TAct> { N = n, InF = inF, OutF = outF, X = x, XStride = xStride, Wt = pt, Scale = scale, Shift = shift, Y = y, YStride = yStride };
            WorkerPool.For((n + TallForwardJob<TAct>.Rows - 1) / TallForwardJob<TAct>.Rows, ref job, 2L * n * inF * outF);
        }
        return true;
    }

    /// <summary>Whether <see cref="TallForwardJob{TAct}"/> serves y[n, outF] = x[n, inF] Wt[inF, outF]: AVX-512, many rows,
    /// whole vectors of outputs, a weight that stays in cache.</summary>
    static bool TallTiles(int n, int inF, int outF) =>
        Simd.Use512 && Vector512.IsHardwareAccelerated && n >= TallRows && outF % 16 == 0 && (long)inF * outF <= 1 << 20
        && n >= 4 * Math.Max(inF, outF);

    /// <summary>y[n, outF] (=, or += when <see cref="Accumulate"/>) act(scale (x Wt) + shift), Wt row-major [inF, outF]:
    /// the forward pass with Wt = W^T, the data gradient with Wt = W itself (dx = dy W).</summary>
    struct TallForwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public const int Mr = 6, Rows = 16 * Mr;
        public float* X, Wt, Scale, Shift, Y;
        public int N, InF, OutF, XStride, YStride;
        public bool Accumulate;

        public void Run(int task)
        {
            int r1 = Math.Min(N, (task + 1) * Rows);
            for (int r = task * Rows; r < r1; r += Mr)
            {
                int mr = Math.Min(Mr, r1 - r);
                for (int c = 0; c < OutF; c += 64)
                {
                    if (OutF - c >= 64) Tile64(r, mr, c);
                    else for (int c16 = c; c16 < OutF; c16 += 16) Tile16(r, mr, c16);
                }
            }
        }

        /// <summary>Rows [r, r + mr) x outputs [c, c + 64): rows past mr repeat the last one and are not stored.</summary>
        void Tile64(int r, int mr, int c)
        {
            long xs = XStride;
            float* x0 = X + r * xs, x1 = X + (r + Math.Min(1, mr - 1)) * xs, x2 = X + (r + Math.Min(2, mr - 1)) * xs;
            float* x3 = X + (r + Math.Min(3, mr - 1)) * xs, x4 = X + (r + Math.Min(4, mr - 1)) * xs, x5 = X + (r + Math.Min(5, mr - 1)) * xs;
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
            Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default, a50 = default, a51 = default, a52 = default, a53 = default;
            float* wt = Wt + c;
            long ld = OutF;
            for (int i = 0; i < InF; i++)
            {
                float* wr = wt + i * ld;
                var w0 = Vector512.Load(wr); var w1 = Vector512.Load(wr + 16); var w2 = Vector512.Load(wr + 32); var w3 = Vector512.Load(wr + 48);
                var b = Vector512.Create(x0[i]);
                a00 = Vector512.FusedMultiplyAdd(b, w0, a00); a01 = Vector512.FusedMultiplyAdd(b, w1, a01); a02 = Vector512.FusedMultiplyAdd(b, w2, a02); a03 = Vector512.FusedMultiplyAdd(b, w3, a03);
                b = Vector512.Create(x1[i]);
                a10 = Vector512.FusedMultiplyAdd(b, w0, a10); a11 = Vector512.FusedMultiplyAdd(b, w1, a11); a12 = Vector512.FusedMultiplyAdd(b, w2, a12); a13 = Vector512.FusedMultiplyAdd(b, w3, a13);
                b = Vector512.Create(x2[i]);
                a20 = Vector512.FusedMultiplyAdd(b, w0, a20); a21 = Vector512.FusedMultiplyAdd(b, w1, a21); a22 = Vector512.FusedMultiplyAdd(b, w2, a22); a23 = Vector512.FusedMultiplyAdd(b, w3, a23);
                b = Vector512.Create(x3[i]);
                a30 = Vector512.FusedMultiplyAdd(b, w0, a30); a31 = Vector512.FusedMultiplyAdd(b, w1, a31); a32 = Vector512.FusedMultiplyAdd(b, w2, a32); a33 = Vector512.FusedMultiplyAdd(b, w3, a33);
                b = Vector512.Create(x4[i]);
                a40 = Vector512.FusedMultiplyAdd(b, w0, a40); a41 = Vector512.FusedMultiplyAdd(b, w1, a41); a42 = Vector512.FusedMultiplyAdd(b, w2, a42); a43 = Vector512.FusedMultiplyAdd(b, w3, a43);
                b = Vector512.Create(x5[i]);
                a50 = Vector512.FusedMultiplyAdd(b, w0, a50); a51 = Vector512.FusedMultiplyAdd(b, w1, a51); a52 = Vector512.FusedMultiplyAdd(b, w2, a52); a53 = Vector512.FusedMultiplyAdd(b, w3, a53);
            }
            Out(r, 0, mr, c, a00, a01, a02, a03); Out(r, 1, mr, c, a10, a11, a12, a13); Out(r, 2, mr, c, a20, a21, a22, a23);
            Out(r, 3, mr, c, a30, a31, a32, a33); Out(r, 4, mr, c, a40, a41, a42, a43); Out(r, 5, mr, c, a50, a51, a52, a53);
        }

        void Out(int r, int k, int mr, int c, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
        {
            if (k >= mr) return;
            float* y = Y + (long)(r + k) * YStride + c;
            Epi(v0, y, c); Epi(v1, y + 16, c + 16); Epi(v2, y + 32, c + 32); Epi(v3, y + 48, c + 48);
        }

        /// <summary>RowEpilogue's operations on 16 outputs, then the store.</summary>
        void Epi(Vector512<float> v, float* y, int c)
        {
            if (Scale != null) v *= Vector512.Load(Scale + c);
            if (Shift != null) v += Vector512.Load(Shift + c);
            v = default(TAct).Apply(v);
            if (Accumulate) v += Vector512.Load(y);
            v.Store(y);
        }

        /// <summary>Rows [r, r + mr) x outputs [c, c + 16), row by row (the last outputs when fewer than 64 remain).</summary>
        void Tile16(int r, int mr, int c)
        {
            for (int k = 0; k < mr; k++)
            {
                float* x = X + (long)(r + k) * XStride;
                var a = Vector512<float>.Zero;
                for (int i = 0; i < InF; i++) a = Vector512.FusedMultiplyAdd(Vector512.Create(x[i]), Vector512.Load(Wt + (long)i * OutF + c), a);
                Epi(a, Y + (long)(r + k) * YStride + c, c);
            }
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
        {
            if (TallTiles(n, outF, inF))
            {
                // W [outF, inF] row-major is the tall kernel's Wt as it is: no packing, no copy (GemmCore packed both
                // operands for these shapes: a transformer's linear layers over batch x tokens).
                var job = new TallForwardJob<Identity>
                {
                    N = n, InF = outF, OutF = inF, X = pdy + dy.Offset, XStride = dy.BatchStride, Wt = pw + wOff,
                    Y = pdx + dx.Offset, YStride = dx.BatchStride, Accumulate = accumulate,
                };
                WorkerPool.For((n + TallForwardJob<Identity>.Rows - 1) / TallForwardJob<Identity>.Rows, ref job, 2L * n * inF * outF);
                return;
            }
            GemmCore.Run(false, false, n, inF, outF, 1f, pdy + dy.Offset, dy.BatchStride, pw + wOff, inF,
                accumulate ? 1f : 0f, pdx + dx.Offset, dx.BatchStride, parallel: !WorkerPool.InsideJob);
        }
    }

    /// <summary>dw += dy^T x.</summary>
    public static void BackwardWeights(int n, int inF, int outF, View x, View dy, float[] dw, int dwOff)
    {
        KernelUtil.Check(x, n, inF, nameof(x));
        KernelUtil.Check(dy, n, outF, nameof(dy));
        KernelUtil.Check(dw, dwOff, inF * outF, nameof(dw));
        if (n == 0 || inF == 0 || outF == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
        {
            if (TallWeights(n, inF, outF, px + x.Offset, x.BatchStride, pdy + dy.Offset, dy.BatchStride, pdw + dwOff)) return;
            GemmCore.Run(true, false, outF, inF, n, 1f, pdy + dy.Offset, dy.BatchStride, px + x.Offset, x.BatchStride,
                1f, pdw + dwOff, inF, parallel: !WorkerPool.InsideJob);
        }
    }

    /// <summary>Rows (the GEMM's depth) from which <see cref="TallWeights"/> takes the weight gradient.</summary>
    internal const int TallRows = 1024;

    /// <summary>dw += dy^T x for a layer over many rows (a transformer's linear layers over batch x tokens: thousands
    /// of rows, tens of features): the GEMM's depth is the row count, and GemmCore spent a third of this call packing
    /// both operands (perf, VitNet). Here rows stream through registers unpacked: 6 output features x 64 input
    /// features of dw in 24 accumulators, the rows in chunks that stay in L2 while every 6-feature block of a task
    /// passes over them. Each element sums its rows in row order onto dw's value, whatever the threads (the
    /// accumulators go back to dw between chunks, exactly). AVX-512 only (32 vector registers); false when it does not
    /// apply.</summary>
    static bool TallWeights(int n, int inF, int outF, float* x, int xStride, float* dy, int dyStride, float* dw)
    {
        if (!Simd.Use512 || !Vector512.IsHardwareAccelerated || n < TallRows || inF % 16 != 0 || n < 4 * Math.Max(inF, outF)) return false;
        int oBlocks = (outF + TallJob.Mr - 1) / TallJob.Mr, cBlocks = (inF + 63) / 64;
        // A task: a group of output blocks over one column block; about 8 tasks per column block spread the work.
        int group = Math.Max(1, (oBlocks + 7) / 8);
        var job = new TallJob
        {
            N = n, InF = inF, OutF = outF, X = x, XStride = xStride, Dy = dy, DyStride = dyStride, Dw = dw,
            Group = group, Groups = (oBlocks + group - 1) / group, OBlocks = oBlocks,
        };
        WorkerPool.For(job.Groups * cBlocks, ref job, 2L * n * inF * outF);
        return true;
    }

    struct TallJob : IParallelJob
    {
        public const int Mr = 6, Chunk = 256;
        public float* X, Dy, Dw;
        public int N, InF, OutF, XStride, DyStride, Group, Groups, OBlocks;

        public void Run(int task)
        {
            int cb = task / Groups, g = task - cb * Groups;
            int c0 = cb * 64, width = Math.Min(64, InF - c0);
            int b0 = g * Group, b1 = Math.Min(OBlocks, b0 + Group);
            for (int r0 = 0; r0 < N; r0 += Chunk)
            {
                int rows = Math.Min(Chunk, N - r0);
                float* x = X + (long)r0 * XStride + c0, dy = Dy + (long)r0 * DyStride;
                for (int ob = b0; ob < b1; ob++)
                {
                    int o0 = ob * Mr, mr = Math.Min(Mr, OutF - o0);
                    if (width == 64) Block64(rows, x, XStride, dy, DyStride, o0, mr, OutF, Dw + (long)o0 * InF + c0, InF);
                    else
                        for (int c = 0; c < width; c += 16)
                            Block16(rows, x + c, XStride, dy, DyStride, o0, mr, Dw + (long)o0 * InF + c0 + c, InF);
                }
            }
        }

        /// <summary>dw[o0 + k, 0..64) += sum over rows of dy[r, o0 + k] x[r, 0..64), k &lt; mr (rows of a short last block
        /// are computed on a repeated feature and not stored).</summary>
        static void Block64(int rows, float* x, long xs, float* dy, long ds, int o0, int mr, int outF, float* dw, int ldw)
        {
            int k1 = mr > 1 ? o0 + 1 : o0, k2 = mr > 2 ? o0 + 2 : o0, k3 = mr > 3 ? o0 + 3 : o0, k4 = mr > 4 ? o0 + 4 : o0, k5 = mr > 5 ? o0 + 5 : o0;
            Vector512<float> a00 = Load(dw, 0, 0, mr, ldw), a01 = Load(dw, 0, 16, mr, ldw), a02 = Load(dw, 0, 32, mr, ldw), a03 = Load(dw, 0, 48, mr, ldw);
            Vector512<float> a10 = Load(dw, 1, 0, mr, ldw), a11 = Load(dw, 1, 16, mr, ldw), a12 = Load(dw, 1, 32, mr, ldw), a13 = Load(dw, 1, 48, mr, ldw);
            Vector512<float> a20 = Load(dw, 2, 0, mr, ldw), a21 = Load(dw, 2, 16, mr, ldw), a22 = Load(dw, 2, 32, mr, ldw), a23 = Load(dw, 2, 48, mr, ldw);
            Vector512<float> a30 = Load(dw, 3, 0, mr, ldw), a31 = Load(dw, 3, 16, mr, ldw), a32 = Load(dw, 3, 32, mr, ldw), a33 = Load(dw, 3, 48, mr, ldw);
            Vector512<float> a40 = Load(dw, 4, 0, mr, ldw), a41 = Load(dw, 4, 16, mr, ldw), a42 = Load(dw, 4, 32, mr, ldw), a43 = Load(dw, 4, 48, mr, ldw);
            Vector512<float> a50 = Load(dw, 5, 0, mr, ldw), a51 = Load(dw, 5, 16, mr, ldw), a52 = Load(dw, 5, 32, mr, ldw), a53 = Load(dw, 5, 48, mr, ldw);
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + r * xs, d = dy + r * ds;
                var x0 = Vector512.Load(xr); var x1 = Vector512.Load(xr + 16); var x2 = Vector512.Load(xr + 32); var x3 = Vector512.Load(xr + 48);
                var b = Vector512.Create(d[o0]);
                a00 = Vector512.FusedMultiplyAdd(b, x0, a00); a01 = Vector512.FusedMultiplyAdd(b, x1, a01); a02 = Vector512.FusedMultiplyAdd(b, x2, a02); a03 = Vector512.FusedMultiplyAdd(b, x3, a03);
                b = Vector512.Create(d[k1]);
                a10 = Vector512.FusedMultiplyAdd(b, x0, a10); a11 = Vector512.FusedMultiplyAdd(b, x1, a11); a12 = Vector512.FusedMultiplyAdd(b, x2, a12); a13 = Vector512.FusedMultiplyAdd(b, x3, a13);
                b = Vector512.Create(d[k2]);
                a20 = Vector512.FusedMultiplyAdd(b, x0, a20); a21 = Vector512.FusedMultiplyAdd(b, x1, a21); a22 = Vector512.FusedMultiplyAdd(b, x2, a22); a23 = Vector512.FusedMultiplyAdd(b, x3, a23);
                b = Vector512.Create(d[k3]);
                a30 = Vector512.FusedMultiplyAdd(b, x0, a30); a31 = Vector512.FusedMultiplyAdd(b, x1, a31); a32 = Vector512.FusedMultiplyAdd(b, x2, a32); a33 = Vector512.FusedMultiplyAdd(b, x3, a33);
                b = Vector512.Create(d[k4]);
                a40 = Vector512.FusedMultiplyAdd(b, x0, a40); a41 = Vector512.FusedMultiplyAdd(b, x1, a41); a42 = Vector512.FusedMultiplyAdd(b, x2, a42); a43 = Vector512.FusedMultiplyAdd(b, x3, a43);
                b = Vector512.Create(d[k5]);
                a50 = Vector512.FusedMultiplyAdd(b, x0, a50); a51 = Vector512.FusedMultiplyAdd(b, x1, a51); a52 = Vector512.FusedMultiplyAdd(b, x2, a52); a53 = Vector512.FusedMultiplyAdd(b, x3, a53);
            }
            Store(dw, 0, mr, ldw, a00, a01, a02, a03); Store(dw, 1, mr, ldw, a10, a11, a12, a13); Store(dw, 2, mr, ldw, a20, a21, a22, a23);
            Store(dw, 3, mr, ldw, a30, a31, a32, a33); Store(dw, 4, mr, ldw, a40, a41, a42, a43); Store(dw, 5, mr, ldw, a50, a51, a52, a53);
        }

        static Vector512<float> Load(float* dw, int k, int c, int mr, int ldw) => k < mr ? Vector512.Load(dw + (long)k * ldw + c) : Vector512<float>.Zero;

        static void Store(float* dw, int k, int mr, int ldw, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
        {
            if (k >= mr) return;
            float* row = dw + (long)k * ldw;
            v0.Store(row); v1.Store(row + 16); v2.Store(row + 32); v3.Store(row + 48);
        }

        /// <summary>As <see cref="Block64"/> over 16 columns, one output feature at a time (a last column block narrower than 64).</summary>
        static void Block16(int rows, float* x, long xs, float* dy, long ds, int o0, int mr, float* dw, int ldw)
        {
            for (int k = 0; k < mr; k++)
            {
                var a = Vector512.Load(dw + (long)k * ldw);
                float* d = dy + o0 + k;
                for (int r = 0; r < rows; r++) a = Vector512.FusedMultiplyAdd(Vector512.Create(d[r * ds]), Vector512.Load(x + r * xs), a);
                a.Store(dw + (long)k * ldw);
            }
        }
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
