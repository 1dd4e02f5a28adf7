// BatchNorm over rows of features (hw = 1: BatchNorm1d over (N, F), and over tokens with the leading axes folded
// into the rows, as in SLAB's PRepBN). The channel path walks one channel at a time, which here means one float per
// row and channel; this path reads each row once per pass with the features in the vector lanes.
//
// Statistics: the rows are cut into chunks whose size depends only on (rows, features), never on the threads. Each
// chunk (small enough to stay in L1 between its two passes) gets its mean and its sum of squared deviations about
// that mean, both in double from the float inputs; the chunks are merged in chunk order with Chan et al.'s pairwise
// update, also in double. So the result is deterministic, and at least as accurate as the channel path's (float
// deviations about a float mean, squared in float, summed in double): here only the final roundings to float remain.
// The backward sums g and g * xhat per feature the same way (g and xhat rounded to float as the channel path does,
// the product and the sums in double) and adds the chunks in order.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

public static unsafe partial class BatchNormKernel
{
    /// <summary>Rows per chunk: about 16 KB of one row block (L1 holds it between the chunk's two passes), at least 16
    /// rows so tiny feature counts still give tasks worth handing out, at most 256.</summary>
    static int ChunkRows(int c) => Math.Clamp(4096 / Math.Max(c, 1), 16, 256);

    [ThreadStatic] static double[]? t_rowsDouble;
    [ThreadStatic] static float[]? t_rowsFloat;

    static double[] RowsDoubles(int len) => t_rowsDouble is { } a && a.Length >= len ? a : t_rowsDouble = new double[Math.Max(len, 4096)];

    static float[] RowsFloats(int len) => t_rowsFloat is { } a && a.Length >= len ? a : t_rowsFloat = new float[Math.Max(len, 1024)];

    /// <summary><see cref="ForwardTrain{TAct}"/> for hw = 1 (arguments checked there).</summary>
    static bool ForwardTrainRows<TAct>(int n, int c, View x, float[] p, int gammaOff, int betaOff,
        int meanOff, int varOff, float momentum, float eps, float[] save, int saveOff, View y) where TAct : struct, IActivation
    {
        int rowsPer = ChunkRows(c), chunks = (n + rowsPer - 1) / rowsPer;
        // [chunk means | chunk M2 | merged mean | merged M2], then the affine a, b in floats.
        var d = RowsDoubles(2 * chunks * c + 2 * c);
        var f = RowsFloats(2 * c);
        bool finite = true;
        fixed (float* px = x.Data, py = y.Data, pp = p, ps = save, pf = f)
        fixed (double* pd = d)
        {
            double* cm = pd, cq = pd + (long)chunks * c, mean = cq + (long)chunks * c, m2 = mean + c;
            var stats = new RowStatsJob { X = px + x.Offset, XStride = x.BatchStride, N = n, C = c, Rows = rowsPer, Mean = cm, M2 = cq };
            WorkerPool.For(chunks, ref stats, 2L * n * c * WorkerPool.FlopsPerElement);
            Merge(n, c, rowsPer, chunks, cm, cq, mean, m2);
            float* a = pf, b = pf + c;
            for (int ch = 0; ch < c; ch++)
            {
                float mu = (float)mean[ch];
                float invStd = (float)(1.0 / Math.Sqrt(m2[ch] / n + eps));
                ps[saveOff + ch] = mu;
                ps[saveOff + c + ch] = invStd;
                finite &= float.IsFinite(mu) && double.IsFinite(m2[ch]);
                // The channel path's affine, in the same float operations.
                a[ch] = pp[gammaOff + ch] * invStd;
                b[ch] = pp[betaOff + ch] - mu * a[ch];
            }
            var apply = new RowAffineJob<TAct> { X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, N = n, C = c, Rows = rowsPer, A = a, B = b };
            WorkerPool.For(chunks, ref apply, (long)n * c * WorkerPool.FlopsPerElement);
            if (!finite) return false;
            for (int ch = 0; ch < c; ch++)
            {
                double unbiased = n > 1 ? m2[ch] / (n - 1) : m2[ch] / n;
                pp[meanOff + ch] = (float)((1.0 - momentum) * pp[meanOff + ch] + momentum * (double)ps[saveOff + ch]);
                pp[varOff + ch] = (float)((1.0 - momentum) * pp[varOff + ch] + momentum * unbiased);
            }
        }
        return true;
    }

    /// <summary>Chan, Golub and LeVeque's pairwise merge of the chunks' (count, mean, M2), in chunk order.</summary>
    static void Merge(int n, int c, int rowsPer, int chunks, double* cm, double* cq, double* mean, double* m2)
    {
        for (int ch = 0; ch < c; ch++) { mean[ch] = cm[ch]; m2[ch] = cq[ch]; }
        long na = Math.Min(rowsPer, n);
        for (int k = 1; k < chunks; k++)
        {
            long nb = Math.Min(rowsPer, n - (long)k * rowsPer), nt = na + nb;
            double wb = (double)nb / nt, wab = (double)na * nb / nt;
            double* bm = cm + (long)k * c, bq = cq + (long)k * c;
            for (int ch = 0; ch < c; ch++)
            {
                double delta = bm[ch] - mean[ch];
                mean[ch] += delta * wb;
                m2[ch] += bq[ch] + delta * delta * wab;
            }
            na = nt;
        }
    }

    /// <summary><see cref="BackwardTrain{TAct}"/> for hw = 1 (arguments checked there).</summary>
    static void BackwardTrainRows<TAct>(int n, int c, View x, View dy, float[] p, int gammaOff, int betaOff,
        float[] save, int saveOff, View dx, bool accumulate, float[] g, int dGammaOff, int dBetaOff) where TAct : struct, IActivation
    {
        int rowsPer = ChunkRows(c), chunks = (n + rowsPer - 1) / rowsPer;
        var d = RowsDoubles(2 * chunks * c);
        var f = RowsFloats(3 * c);
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, pp = p, ps = save, pg = g, pf = f)
        fixed (double* pd = d)
        {
            double* sg = pd, sgx = pd + (long)chunks * c;
            var sums = new RowGradJob<TAct>
            {
                X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, N = n, C = c, Rows = rowsPer,
                Mean = ps + saveOff, InvStd = ps + saveOff + c, Gamma = pp + gammaOff, Beta = pp + betaOff, SumG = sg, SumGX = sgx,
            };
            WorkerPool.For(chunks, ref sums, 2L * n * c * WorkerPool.FlopsPerElement);
            float* k = pf, mg = pf + c, mgx = pf + 2 * c;
            for (int ch = 0; ch < c; ch++)
            {
                double tg = 0, tgx = 0;
                for (int j = 0; j < chunks; j++) { tg += sg[(long)j * c + ch]; tgx += sgx[(long)j * c + ch]; }
                k[ch] = pp[gammaOff + ch] * ps[saveOff + c + ch];
                mg[ch] = (float)(tg / n);
                mgx[ch] = (float)(tgx / n);
                pg[dGammaOff + ch] += (float)tgx;
                pg[dBetaOff + ch] += (float)tg;
            }
            var dxJob = new RowDxJob<TAct>
            {
                X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, Dx = pdx + dx.Offset, DxStride = dx.BatchStride,
                N = n, C = c, Rows = rowsPer, Mean = ps + saveOff, InvStd = ps + saveOff + c, Gamma = pp + gammaOff, Beta = pp + betaOff,
                K = k, MG = mg, MGX = mgx, Accumulate = accumulate,
            };
            WorkerPool.For(chunks, ref dxJob, 2L * n * c * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary><see cref="Affine{TAct}"/> for hw = 1 (arguments checked there).</summary>
    static void AffineRows<TAct>(int n, int c, View x, float[] scale, int scaleOff, float[] shift, int shiftOff, View y) where TAct : struct, IActivation
    {
        int rowsPer = ChunkRows(c), chunks = (n + rowsPer - 1) / rowsPer;
        fixed (float* px = x.Data, py = y.Data, psc = scale, psh = shift)
        {
            var job = new RowAffineJob<TAct>
            {
                X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, N = n, C = c, Rows = rowsPer,
                A = psc + scaleOff, B = psh + shiftOff,
            };
            WorkerPool.For(chunks, ref job, (long)n * c * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>Per chunk and feature: the mean and the sum of squared deviations about it, in double.</summary>
    struct RowStatsJob : IParallelJob
    {
        public float* X;
        public double* Mean, M2;
        public int N, C, XStride, Rows;

        public void Run(int k)
        {
            int r0 = k * Rows, rows = Math.Min(Rows, N - r0);
            float* x0 = X + (long)r0 * XStride;
            double* mean = Mean + (long)k * C, m2 = M2 + (long)k * C;
            double inv = 1.0 / rows;
            long s = XStride;
            int f = 0;
            if (Simd.Use512)
                for (; f <= C - 16; f += 16)
                {
                    var s0 = Vector512<double>.Zero; var s1 = Vector512<double>.Zero;
                    for (int r = 0; r < rows; r++)
                    {
                        var v = Vector512.Load(x0 + r * s + f);
                        s0 += Vector512.WidenLower(v); s1 += Vector512.WidenUpper(v);
                    }
                    var m0 = s0 * inv; var m1 = s1 * inv;
                    var q0 = Vector512<double>.Zero; var q1 = Vector512<double>.Zero;
                    for (int r = 0; r < rows; r++)
                    {
                        var v = Vector512.Load(x0 + r * s + f);
                        var d0 = Vector512.WidenLower(v) - m0; var d1 = Vector512.WidenUpper(v) - m1;
                        q0 = Vector512.FusedMultiplyAdd(d0, d0, q0); q1 = Vector512.FusedMultiplyAdd(d1, d1, q1);
                    }
                    m0.Store(mean + f); m1.Store(mean + f + 8); q0.Store(m2 + f); q1.Store(m2 + f + 8);
                }
            for (; f <= C - 8; f += 8)
            {
                var s0 = Vector256<double>.Zero; var s1 = Vector256<double>.Zero;
                for (int r = 0; r < rows; r++)
                {
                    var v = Vector256.Load(x0 + r * s + f);
                    s0 += Vector256.WidenLower(v); s1 += Vector256.WidenUpper(v);
                }
                var m0 = s0 * inv; var m1 = s1 * inv;
                var q0 = Vector256<double>.Zero; var q1 = Vector256<double>.Zero;
                for (int r = 0; r < rows; r++)
                {
                    var v = Vector256.Load(x0 + r * s + f);
                    var d0 = Vector256.WidenLower(v) - m0; var d1 = Vector256.WidenUpper(v) - m1;
                    q0 = Vector256.FusedMultiplyAdd(d0, d0, q0); q1 = Vector256.FusedMultiplyAdd(d1, d1, q1);
                }
                m0.Store(mean + f); m1.Store(mean + f + 4); q0.Store(m2 + f); q1.Store(m2 + f + 4);
            }
            for (; f < C; f++)
            {
                double sum = 0;
                for (int r = 0; r < rows; r++) sum += x0[r * s + f];
                double m = sum * inv, q = 0;
                for (int r = 0; r < rows; r++) { double dv = x0[r * s + f] - m; q += dv * dv; }
                mean[f] = m; m2[f] = q;
            }
        }
    }

    /// <summary>y = act(A[f] x + B[f]) over a chunk of rows.</summary>
    struct RowAffineJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Y, A, B;
        public int N, C, XStride, YStride, Rows;

        public void Run(int k)
        {
            int r0 = k * Rows, r1 = Math.Min(N, r0 + Rows);
            for (int r = r0; r < r1; r++)
            {
                float* x = X + (long)r * XStride, y = Y + (long)r * YStride;
                int f = 0;
                if (Simd.Use512)
                    for (; f <= C - 16; f += 16)
                        default(TAct).Apply(Vector512.FusedMultiplyAdd(Vector512.Load(x + f), Vector512.Load(A + f), Vector512.Load(B + f))).Store(y + f);
                for (; f <= C - 8; f += 8)
                    default(TAct).Apply(Vector256.FusedMultiplyAdd(Vector256.Load(x + f), Vector256.Load(A + f), Vector256.Load(B + f))).Store(y + f);
                for (; f < C; f++) y[f] = default(TAct).Apply(MathF.FusedMultiplyAdd(x[f], A[f], B[f]));
            }
        }
    }

    /// <summary>Per chunk and feature: sums of g = dy act'(z) and of g xhat, in double.</summary>
    struct RowGradJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Dy, Mean, InvStd, Gamma, Beta;
        public double* SumG, SumGX;
        public int N, C, XStride, DyStride, Rows;

        public void Run(int k)
        {
            int r0 = k * Rows, rows = Math.Min(Rows, N - r0);
            float* x0 = X + (long)r0 * XStride, dy0 = Dy + (long)r0 * DyStride;
            double* sg = SumG + (long)k * C, sgx = SumGX + (long)k * C;
            long xs = XStride, ds = DyStride;
            int f = 0;
            if (Simd.Use512)
                for (; f <= C - 16; f += 16)
                {
                    var m = Vector512.Load(Mean + f); var iv = Vector512.Load(InvStd + f);
                    var ga = Vector512.Load(Gamma + f); var be = Vector512.Load(Beta + f);
                    var g0 = Vector512<double>.Zero; var g1 = Vector512<double>.Zero;
                    var h0 = Vector512<double>.Zero; var h1 = Vector512<double>.Zero;
                    for (int r = 0; r < rows; r++)
                    {
                        var xh = (Vector512.Load(x0 + r * xs + f) - m) * iv;
                        var g = Vector512.Load(dy0 + r * ds + f) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, ga, be));
                        var gl = Vector512.WidenLower(g); var gu = Vector512.WidenUpper(g);
                        g0 += gl; g1 += gu;
                        h0 = Vector512.FusedMultiplyAdd(gl, Vector512.WidenLower(xh), h0);
                        h1 = Vector512.FusedMultiplyAdd(gu, Vector512.WidenUpper(xh), h1);
                    }
                    g0.Store(sg + f); g1.Store(sg + f + 8); h0.Store(sgx + f); h1.Store(sgx + f + 8);
                }
            for (; f <= C - 8; f += 8)
            {
                var m = Vector256.Load(Mean + f); var iv = Vector256.Load(InvStd + f);
                var ga = Vector256.Load(Gamma + f); var be = Vector256.Load(Beta + f);
                var g0 = Vector256<double>.Zero; var g1 = Vector256<double>.Zero;
                var h0 = Vector256<double>.Zero; var h1 = Vector256<double>.Zero;
                for (int r = 0; r < rows; r++)
                {
                    var xh = (Vector256.Load(x0 + r * xs + f) - m) * iv;
                    var g = Vector256.Load(dy0 + r * ds + f) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, ga, be));
                    var gl = Vector256.WidenLower(g); var gu = Vector256.WidenUpper(g);
                    g0 += gl; g1 += gu;
                    h0 = Vector256.FusedMultiplyAdd(gl, Vector256.WidenLower(xh), h0);
                    h1 = Vector256.FusedMultiplyAdd(gu, Vector256.WidenUpper(xh), h1);
                }
                g0.Store(sg + f); g1.Store(sg + f + 4); h0.Store(sgx + f); h1.Store(sgx + f + 4);
            }
            for (; f < C; f++)
            {
                float mean = Mean[f], invStd = InvStd[f], gamma = Gamma[f], beta = Beta[f];
                double tg = 0, tgx = 0;
                for (int r = 0; r < rows; r++)
                {
                    float xh = (x0[r * xs + f] - mean) * invStd;
                    float g = dy0[r * ds + f] * default(TAct).Derivative(MathF.FusedMultiplyAdd(xh, gamma, beta));
                    tg += g; tgx += (double)g * xh;
                }
                sg[f] = tg; sgx[f] = tgx;
            }
        }
    }

    /// <summary>dx (= or +=) K[f] (g - MG[f] - xhat MGX[f]) over a chunk of rows.</summary>
    struct RowDxJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Dy, Dx, Mean, InvStd, Gamma, Beta, K, MG, MGX;
        public int N, C, XStride, DyStride, DxStride, Rows;
        public bool Accumulate;

        public void Run(int k)
        {
            int r0 = k * Rows, r1 = Math.Min(N, r0 + Rows);
            for (int r = r0; r < r1; r++)
            {
                float* x = X + (long)r * XStride, dy = Dy + (long)r * DyStride, dx = Dx + (long)r * DxStride;
                int f = 0;
                if (Simd.Use512)
                    for (; f <= C - 16; f += 16)
                    {
                        var xh = (Vector512.Load(x + f) - Vector512.Load(Mean + f)) * Vector512.Load(InvStd + f);
                        var g = Vector512.Load(dy + f) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, Vector512.Load(Gamma + f), Vector512.Load(Beta + f)));
                        var d = Vector512.Load(K + f) * (g - Vector512.Load(MG + f) - xh * Vector512.Load(MGX + f));
                        if (Accumulate) d += Vector512.Load(dx + f);
                        d.Store(dx + f);
                    }
                for (; f <= C - 8; f += 8)
                {
                    var xh = (Vector256.Load(x + f) - Vector256.Load(Mean + f)) * Vector256.Load(InvStd + f);
                    var g = Vector256.Load(dy + f) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, Vector256.Load(Gamma + f), Vector256.Load(Beta + f)));
                    var d = Vector256.Load(K + f) * (g - Vector256.Load(MG + f) - xh * Vector256.Load(MGX + f));
                    if (Accumulate) d += Vector256.Load(dx + f);
                    d.Store(dx + f);
                }
                for (; f < C; f++)
                {
                    float xh = (x[f] - Mean[f]) * InvStd[f];
                    float g = dy[f] * default(TAct).Derivative(MathF.FusedMultiplyAdd(xh, Gamma[f], Beta[f]));
                    float d = K[f] * (g - MG[f] - xh * MGX[f]);
                    dx[f] = Accumulate ? dx[f] + d : d;
                }
            }
        }
    }
}
