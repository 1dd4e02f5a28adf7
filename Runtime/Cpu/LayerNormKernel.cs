// Layer normalisation over the last axis (PyTorch's nn.LayerNorm with normalized_shape = (dim,)): every row of
// dim floats is normalised by its own mean and biased variance, then scaled and shifted per column. A sample
// holds `rows` such rows one after another (tokens, time steps: every leading axis), so views may be slices of
// a larger buffer with no copy. Training saves each row's mean and 1/std (2 * rows floats per sample) for the
// backward pass. Statistics are two-pass (mean, then squared deviations) with float vector lanes combined in
// double. The parameter gradients sum over all rows in a fixed order: fixed chunks of rows write partial sums,
// then the chunks are added in order, so the result does not depend on the thread count or scheduling.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Layer normalisation over the last axis with an optional per-column affine (weight, bias).</summary>
public static unsafe class LayerNormKernel
{
    /// <summary>Rows per partial sum of the parameter gradients: fixed, so the summation order depends only on the shape.</summary>
    const int ParamChunk = 64;

    [ThreadStatic] static float[]? partials;

    /// <summary>Evaluation forward: y = (x - mean) / sqrt(var + eps) * gamma + beta per row. A negative
    /// <paramref name="gammaOff"/> means no affine (gamma 1, beta 0; <paramref name="p"/> may be null), a negative
    /// <paramref name="betaOff"/> no bias.</summary>
    public static void Forward(int n, int rows, int dim, View x, float[]? p, int gammaOff, int betaOff, float eps, View y)
        => Run(n, rows, dim, x, p, gammaOff, betaOff, eps, y, default, save: false);

    /// <summary>Training forward: as <see cref="Forward"/>, and each row's mean and 1/sqrt(var + eps) into
    /// <paramref name="stats"/> (per sample: the rows' means, then their inverse standard deviations).</summary>
    public static void ForwardTrain(int n, int rows, int dim, View x, float[]? p, int gammaOff, int betaOff, float eps, View y, View stats)
    {
        KernelUtil.Check(stats, n, 2 * rows, nameof(stats));
        Run(n, rows, dim, x, p, gammaOff, betaOff, eps, y, stats, save: true);
    }

    static void Run(int n, int rows, int dim, View x, float[]? p, int gammaOff, int betaOff, float eps, View y, View stats, bool save)
    {
        KernelUtil.Check(x, n, rows * dim, nameof(x));
        KernelUtil.Check(y, n, rows * dim, nameof(y));
        CheckParams(dim, p, gammaOff, betaOff);
        if (n == 0 || rows == 0 || dim == 0) return;
        fixed (float* px = x.Data, py = y.Data, pp = p, ps = stats.Data)
        {
            var job = new ForwardJob
            {
                Rows = rows, Dim = dim, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Gamma = gammaOff < 0 ? null : pp + gammaOff, Beta = betaOff < 0 || gammaOff < 0 ? null : pp + betaOff, Eps = eps,
                Stats = save ? ps + stats.Offset : null, StatsStride = stats.BatchStride,
            };
            job.Chunk = RowChunk(dim, 4);
            job.Total = n * rows;
            WorkerPool.For((job.Total + job.Chunk - 1) / job.Chunk, ref job);
        }
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = rstd (g - mean(g) - x_hat mean(g x_hat)) per row,
    /// g = dy * gamma, from the statistics <see cref="ForwardTrain"/> saved.</summary>
    public static void BackwardData(int n, int rows, int dim, View x, View dy, View stats, float[]? p, int gammaOff, View dx, bool accumulate)
    {
        KernelUtil.Check(x, n, rows * dim, nameof(x));
        KernelUtil.Check(dy, n, rows * dim, nameof(dy));
        KernelUtil.Check(dx, n, rows * dim, nameof(dx));
        KernelUtil.Check(stats, n, 2 * rows, nameof(stats));
        CheckParams(dim, p, gammaOff, -1);
        if (n == 0 || rows == 0 || dim == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, ps = stats.Data, pp = p)
        {
            var job = new BackwardDataJob
            {
                Rows = rows, Dim = dim, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Stats = ps + stats.Offset, StatsStride = stats.BatchStride,
                Gamma = gammaOff < 0 ? null : pp + gammaOff, Accumulate = accumulate,
            };
            job.Chunk = RowChunk(dim, 6);
            job.Total = n * rows;
            WorkerPool.For((job.Total + job.Chunk - 1) / job.Chunk, ref job);
        }
    }

    /// <summary>dgamma += sum over rows of dy x_hat; dbeta += sum over rows of dy (skipped when
    /// <paramref name="dBetaOff"/> is negative). Deterministic: fixed chunks of rows, chunks added in order.</summary>
    public static void BackwardParams(int n, int rows, int dim, View x, View dy, View stats, float[] g, int dGammaOff, int dBetaOff)
    {
        KernelUtil.Check(x, n, rows * dim, nameof(x));
        KernelUtil.Check(dy, n, rows * dim, nameof(dy));
        KernelUtil.Check(stats, n, 2 * rows, nameof(stats));
        KernelUtil.Check(g, dGammaOff, dim, nameof(dGammaOff));
        if (dBetaOff >= 0) KernelUtil.Check(g, dBetaOff, dim, nameof(dBetaOff));
        if (n == 0 || rows == 0 || dim == 0) return;
        int total = n * rows, chunks = (total + ParamChunk - 1) / ParamChunk;
        var part = Scratch.Get(ref partials, chunks * 2 * dim);
        fixed (float* px = x.Data, pdy = dy.Data, ps = stats.Data, pg = g, pt = part)
        {
            var job = new ParamJob
            {
                Rows = rows, Dim = dim, Total = total, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride,
                Stats = ps + stats.Offset, StatsStride = stats.BatchStride, Partials = pt, Bias = dBetaOff >= 0,
            };
            WorkerPool.For(chunks, ref job);
            // The chunks' partial sums, added in chunk order.
            AddChunks(pt, chunks, dim, 0, pg + dGammaOff);
            if (dBetaOff >= 0) AddChunks(pt, chunks, dim, dim, pg + dBetaOff);
        }
    }

    static void AddChunks(float* pt, int chunks, int dim, int at, float* dst)
    {
        int stride = 2 * dim, j = 0;
        if (Simd.Use512)
            for (; j <= dim - 16; j += 16)
            {
                var s = Vector512<float>.Zero;
                for (int c = 0; c < chunks; c++) s += Vector512.Load(pt + (long)c * stride + at + j);
                (Vector512.Load(dst + j) + s).Store(dst + j);
            }
        for (; j <= dim - 8; j += 8)
        {
            var s = Vector256<float>.Zero;
            for (int c = 0; c < chunks; c++) s += Vector256.Load(pt + (long)c * stride + at + j);
            (Vector256.Load(dst + j) + s).Store(dst + j);
        }
        for (; j < dim; j++)
        {
            float s = 0f;
            for (int c = 0; c < chunks; c++) s += pt[(long)c * stride + at + j];
            dst[j] += s;
        }
    }

    static void CheckParams(int dim, float[]? p, int gammaOff, int betaOff)
    {
        if (gammaOff < 0) return;
        KernelUtil.Check(p, gammaOff, dim, nameof(gammaOff));
        if (betaOff >= 0) KernelUtil.Check(p, betaOff, dim, nameof(betaOff));
    }

    /// <summary>Rows per task: enough that a task touches ~16K floats (<paramref name="passes"/> passes over its rows),
    /// so short rows do not pay one pool hand-off each.</summary>
    internal static int RowChunk(int dim, int passes) => Math.Max(1, 16384 / Math.Max(1, dim * passes / 2));

    /// <summary>Sum of a row: float vector lanes, combined in double.</summary>
    internal static double RowSum(float* x, int len)
    {
        int i = 0;
        double total = 0;
        if (Simd.Use512)
        {
            var acc = Vector512<float>.Zero;
            for (; i <= len - 16; i += 16) acc += Vector512.Load(x + i);
            total += Vector512.Sum(acc);
        }
        {
            var acc = Vector256<float>.Zero;
            for (; i <= len - 8; i += 8) acc += Vector256.Load(x + i);
            total += Vector256.Sum(acc);
        }
        for (; i < len; i++) total += x[i];
        return total;
    }

    /// <summary>Sum of (x - mean)^2 over a row.</summary>
    static double RowSumSqDev(float* x, int len, float mean)
    {
        int i = 0;
        double total = 0;
        if (Simd.Use512)
        {
            var acc = Vector512<float>.Zero; var m = Vector512.Create(mean);
            for (; i <= len - 16; i += 16) { var d = Vector512.Load(x + i) - m; acc = Vector512.FusedMultiplyAdd(d, d, acc); }
            total += Vector512.Sum(acc);
        }
        {
            var acc = Vector256<float>.Zero; var m = Vector256.Create(mean);
            for (; i <= len - 8; i += 8) { var d = Vector256.Load(x + i) - m; acc = Vector256.FusedMultiplyAdd(d, d, acc); }
            total += Vector256.Sum(acc);
        }
        for (; i < len; i++) { float d = x[i] - mean; total += d * d; }
        return total;
    }

    struct ForwardJob : IParallelJob
    {
        public float* X, Y, Gamma, Beta, Stats;
        public int Rows, Dim, XStride, YStride, StatsStride, Chunk, Total;
        public float Eps;

        public void Run(int task)
        {
            int end = Math.Min(Total, (task + 1) * Chunk);
            for (int r = task * Chunk; r < end; r++)
            {
                int b = r / Rows, i = r - b * Rows;
                float* x = X + (long)b * XStride + (long)i * Dim, y = Y + (long)b * YStride + (long)i * Dim;
                float mean = (float)(RowSum(x, Dim) / Dim);
                float rstd = (float)(1.0 / Math.Sqrt(RowSumSqDev(x, Dim, mean) / Dim + Eps));
                if (Stats != null)
                {
                    float* s = Stats + (long)b * StatsStride;
                    s[i] = mean;
                    s[Rows + i] = rstd;
                }
                Normalize(x, y, Dim, mean, rstd, Gamma, Beta);
            }
        }

        static void Normalize(float* x, float* y, int len, float mean, float rstd, float* gamma, float* beta)
        {
            int j = 0;
            if (Simd.Use512)
            {
                var m = Vector512.Create(mean); var s = Vector512.Create(rstd);
                for (; j <= len - 16; j += 16)
                {
                    var v = (Vector512.Load(x + j) - m) * s;
                    if (gamma != null) v *= Vector512.Load(gamma + j);
                    if (beta != null) v += Vector512.Load(beta + j);
                    v.Store(y + j);
                }
            }
            {
                var m = Vector256.Create(mean); var s = Vector256.Create(rstd);
                for (; j <= len - 8; j += 8)
                {
                    var v = (Vector256.Load(x + j) - m) * s;
                    if (gamma != null) v *= Vector256.Load(gamma + j);
                    if (beta != null) v += Vector256.Load(beta + j);
                    v.Store(y + j);
                }
            }
            for (; j < len; j++)
            {
                float v = (x[j] - mean) * rstd;
                if (gamma != null) v *= gamma[j];
                if (beta != null) v += beta[j];
                y[j] = v;
            }
        }
    }

    struct BackwardDataJob : IParallelJob
    {
        public float* X, Dy, Dx, Stats, Gamma;
        public int Rows, Dim, XStride, DyStride, DxStride, StatsStride, Chunk, Total;
        public bool Accumulate;

        public void Run(int task)
        {
            int end = Math.Min(Total, (task + 1) * Chunk);
            for (int r = task * Chunk; r < end; r++)
            {
                int b = r / Rows, i = r - b * Rows;
                float* s = Stats + (long)b * StatsStride;
                float mean = s[i], rstd = s[Rows + i];
                float* x = X + (long)b * XStride + (long)i * Dim, dy = Dy + (long)b * DyStride + (long)i * Dim;
                float* dx = Dx + (long)b * DxStride + (long)i * Dim;
                RowSums(x, dy, Gamma, Dim, mean, rstd, out double sg, out double sgx);
                Row(x, dy, dx, Gamma, Dim, mean, rstd, (float)(sg / Dim), (float)(sgx / Dim), Accumulate);
            }
        }

        /// <summary>Sums of g and g x_hat over a row, g = dy gamma.</summary>
        static void RowSums(float* x, float* dy, float* gamma, int len, float mean, float rstd, out double sumG, out double sumGX)
        {
            int j = 0;
            sumG = 0; sumGX = 0;
            if (Simd.Use512)
            {
                var m = Vector512.Create(mean); var s = Vector512.Create(rstd);
                var ag = Vector512<float>.Zero; var agx = Vector512<float>.Zero;
                for (; j <= len - 16; j += 16)
                {
                    var xh = (Vector512.Load(x + j) - m) * s;
                    var g = Vector512.Load(dy + j);
                    if (gamma != null) g *= Vector512.Load(gamma + j);
                    ag += g; agx = Vector512.FusedMultiplyAdd(g, xh, agx);
                }
                sumG += Vector512.Sum(ag); sumGX += Vector512.Sum(agx);
            }
            {
                var m = Vector256.Create(mean); var s = Vector256.Create(rstd);
                var ag = Vector256<float>.Zero; var agx = Vector256<float>.Zero;
                for (; j <= len - 8; j += 8)
                {
                    var xh = (Vector256.Load(x + j) - m) * s;
                    var g = Vector256.Load(dy + j);
                    if (gamma != null) g *= Vector256.Load(gamma + j);
                    ag += g; agx = Vector256.FusedMultiplyAdd(g, xh, agx);
                }
                sumG += Vector256.Sum(ag); sumGX += Vector256.Sum(agx);
            }
            for (; j < len; j++)
            {
                float xh = (x[j] - mean) * rstd;
                float g = gamma != null ? dy[j] * gamma[j] : dy[j];
                sumG += g; sumGX += g * xh;
            }
        }

        static void Row(float* x, float* dy, float* dx, float* gamma, int len, float mean, float rstd, float mG, float mGX, bool accumulate)
        {
            int j = 0;
            if (Simd.Use512)
            {
                var m = Vector512.Create(mean); var s = Vector512.Create(rstd); var vmg = Vector512.Create(mG); var vmgx = Vector512.Create(mGX);
                for (; j <= len - 16; j += 16)
                {
                    var xh = (Vector512.Load(x + j) - m) * s;
                    var g = Vector512.Load(dy + j);
                    if (gamma != null) g *= Vector512.Load(gamma + j);
                    var d = s * (g - vmg - xh * vmgx);
                    if (accumulate) d += Vector512.Load(dx + j);
                    d.Store(dx + j);
                }
            }
            {
                var m = Vector256.Create(mean); var s = Vector256.Create(rstd); var vmg = Vector256.Create(mG); var vmgx = Vector256.Create(mGX);
                for (; j <= len - 8; j += 8)
                {
                    var xh = (Vector256.Load(x + j) - m) * s;
                    var g = Vector256.Load(dy + j);
                    if (gamma != null) g *= Vector256.Load(gamma + j);
                    var d = s * (g - vmg - xh * vmgx);
                    if (accumulate) d += Vector256.Load(dx + j);
                    d.Store(dx + j);
                }
            }
            for (; j < len; j++)
            {
                float xh = (x[j] - mean) * rstd;
                float g = gamma != null ? dy[j] * gamma[j] : dy[j];
                float d = rstd * (g - mG - xh * mGX);
                dx[j] = accumulate ? dx[j] + d : d;
            }
        }
    }

    struct ParamJob : IParallelJob
    {
        public float* X, Dy, Stats, Partials;
        public int Rows, Dim, Total, XStride, DyStride, StatsStride;
        public bool Bias;

        /// <summary>Partial sums of dy x_hat (then dy) over chunk <paramref name="task"/>'s rows, in row order.</summary>
        public void Run(int task)
        {
            float* pg = Partials + (long)task * 2 * Dim, pb = pg + Dim;
            new Span<float>(pg, 2 * Dim).Clear();
            int end = Math.Min(Total, (task + 1) * ParamChunk);
            for (int r = task * ParamChunk; r < end; r++)
            {
                int b = r / Rows, i = r - b * Rows;
                float* s = Stats + (long)b * StatsStride;
                float mean = s[i], rstd = s[Rows + i];
                float* x = X + (long)b * XStride + (long)i * Dim, dy = Dy + (long)b * DyStride + (long)i * Dim;
                int j = 0;
                if (Simd.Use512)
                {
                    var m = Vector512.Create(mean); var sd = Vector512.Create(rstd);
                    for (; j <= Dim - 16; j += 16)
                    {
                        var d = Vector512.Load(dy + j);
                        Vector512.FusedMultiplyAdd(d, (Vector512.Load(x + j) - m) * sd, Vector512.Load(pg + j)).Store(pg + j);
                        if (Bias) (Vector512.Load(pb + j) + d).Store(pb + j);
                    }
                }
                {
                    var m = Vector256.Create(mean); var sd = Vector256.Create(rstd);
                    for (; j <= Dim - 8; j += 8)
                    {
                        var d = Vector256.Load(dy + j);
                        Vector256.FusedMultiplyAdd(d, (Vector256.Load(x + j) - m) * sd, Vector256.Load(pg + j)).Store(pg + j);
                        if (Bias) (Vector256.Load(pb + j) + d).Store(pb + j);
                    }
                }
                for (; j < Dim; j++)
                {
                    pg[j] = MathF.FusedMultiplyAdd(dy[j], (x[j] - mean) * rstd, pg[j]);
                    if (Bias) pb[j] += dy[j];
                }
            }
        }
    }
}
