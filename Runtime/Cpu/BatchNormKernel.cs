// Batch normalisation with a fused activation. Statistics are two-pass (mean, then squared
// deviations) with per-row float vector sums accumulated in double, one channel per task, so they
// are accurate and independent of thread scheduling. The running statistics are updated after all
// channels, and only when every channel's batch statistics are finite. The backward pass recomputes
// the pre-activation from x and the saved mean/invstd instead of storing it.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Batch normalization over channels (BatchNorm1d is hw = 1), with a fused activation.</summary>
public static unsafe partial class BatchNormKernel
{
    /// <summary>Training statistics need more than one value per channel, as PyTorch insists: one value
    /// has zero variance, normalises to beta and gives the layers below no gradient.</summary>
    public static void CheckBatchStatistics(int n, int hw)
    {
        if ((long)n * hw <= 1)
            throw new ArgumentException(
                $"BatchNorm in training needs more than one value per channel, got a batch of {n} x {hw}: train with batches of at least 2 (TrainerOptions.DropLast drops a last batch of 1).");
    }

    /// <summary>Training forward: batch mean and biased variance per channel; y = act(gamma x_hat + beta);
    /// running mean/var updated with <paramref name="momentum"/> (unbiased variance, as PyTorch);
    /// save[c] = mean, save[C + c] = 1/sqrt(var + eps). When the batch mean or variance of any channel is
    /// NaN or infinite (a non-finite input), the running statistics of the whole layer are left as they
    /// were, so one bad batch cannot poison evaluation for good, and the method returns false.</summary>
    /// <returns>True when the running statistics were updated; false when the batch statistics were non-finite.</returns>
    public static bool ForwardTrain<TAct>(int n, int c, int hw, View x, float[] p, int gammaOff, int betaOff,
        int meanOff, int varOff, float momentum, float eps, float[] save, int saveOff, View y) where TAct : struct, IActivation
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(y, n, c * hw, nameof(y));
        CheckParams(c, p, gammaOff, betaOff);
        KernelUtil.Check(p, meanOff, c, nameof(meanOff));
        KernelUtil.Check(p, varOff, c, nameof(varOff));
        KernelUtil.Check(save, saveOff, 2 * c, nameof(save));
        if (n == 0 || c == 0 || hw == 0) return true;
        CheckBatchStatistics(n, hw);
        if (hw == 1) return ForwardTrainRows<TAct>(n, c, x, p, gammaOff, betaOff, meanOff, varOff, momentum, eps, save, saveOff, y);
        // The unbiased variances wait here (in double, as the update uses them) until every channel is known finite.
        var unbiased = t_unbiased is { } u && u.Length >= c ? u : t_unbiased = new double[Math.Max(c, 256)];
        fixed (float* px = x.Data, py = y.Data, pp = p, ps = save)
        fixed (double* pu = unbiased)
        {
            var job = new ForwardJob<TAct>
            {
                N = n, C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Gamma = pp + gammaOff, Beta = pp + betaOff, Save = ps + saveOff, Unbiased = pu, Eps = eps,
            };
            WorkerPool.For(c, ref job, 3L * n * c * hw * WorkerPool.FlopsPerElement);
        }
        for (int ch = 0; ch < c; ch++)
            if (!float.IsFinite(save[saveOff + ch]) || !double.IsFinite(unbiased[ch])) return false;
        for (int ch = 0; ch < c; ch++)
        {
            p[meanOff + ch] = (float)((1.0 - momentum) * p[meanOff + ch] + momentum * (double)save[saveOff + ch]);
            p[varOff + ch] = (float)((1.0 - momentum) * p[varOff + ch] + momentum * unbiased[ch]);
        }
        return true;
    }

    /// <summary>Per-thread scratch for <see cref="ForwardTrain{TAct}"/>'s unbiased variances; grown once, then reused.</summary>
    [ThreadStatic] static double[]? t_unbiased;

    /// <summary>Training backward through act and the batch statistics: dx (= or +=), dgamma +=, dbeta +=.
    /// The pre-activation is recomputed from x and save, not stored.</summary>
    public static void BackwardTrain<TAct>(int n, int c, int hw, View x, View dy, float[] p, int gammaOff, int betaOff,
        float[] save, int saveOff, View dx, bool accumulate, float[] g, int dGammaOff, int dBetaOff) where TAct : struct, IActivation
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(dy, n, c * hw, nameof(dy));
        KernelUtil.Check(dx, n, c * hw, nameof(dx));
        CheckParams(c, p, gammaOff, betaOff);
        KernelUtil.Check(save, saveOff, 2 * c, nameof(save));
        KernelUtil.Check(g, dGammaOff, c, nameof(dGammaOff));
        KernelUtil.Check(g, dBetaOff, c, nameof(dBetaOff));
        if (n == 0 || c == 0 || hw == 0) return;
        if (hw == 1) { BackwardTrainRows<TAct>(n, c, x, dy, p, gammaOff, betaOff, save, saveOff, dx, accumulate, g, dGammaOff, dBetaOff); return; }
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, pp = p, ps = save, pg = g)
        {
            var job = new BackwardJob<TAct>
            {
                N = n, C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate, Gamma = pp + gammaOff, Beta = pp + betaOff,
                Save = ps + saveOff, DGamma = pg + dGammaOff, DBeta = pg + dBetaOff,
            };
            WorkerPool.For(c, ref job, 2L * n * c * hw * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>Finishes a BatchNorm whose batch statistics a convolution took while writing its output
    /// (<see cref="Conv2dKernel.ForwardFused{TIn, TAct}(in Conv2dShape, int, View, float[], int, in ConvFusion, View)"/>):
    /// from sums[2c] = sum of (x - K[c]) and sums[2c + 1] = sum of (x - K[c])^2 over <paramref name="count"/> values, K
    /// the running mean before this update, writes what <see cref="ForwardTrain{TAct}"/> writes (save, running
    /// statistics) and the affine a = gamma invstd, b = beta - mean a of the BatchNorm's output, computed as
    /// ForwardTrain computes it. With K near the batch mean (the running mean after a few steps) the one-pass
    /// variance loses nothing to cancellation; far from it (the first steps) the relative error of the variance
    /// grows like (mean - K)^2 / var times the double rounding, still far below float precision.</summary>
    internal static unsafe void FinishStatistics(in BatchNormStatsTarget t, int c, long count, double* sums)
    {
        float[] p = t.Parameters;
        bool finite = true;
        for (int ch = 0; ch < c; ch++)
        {
            double k = p[t.MeanOffset + ch];
            double s1 = sums[2 * ch], s2 = sums[2 * ch + 1];
            double var = Math.Max(0.0, s2 - s1 * s1 / count) / count;
            float mean = (float)(k + s1 / count);
            float invStd = (float)(1.0 / Math.Sqrt(var + t.Eps));
            t.Save[t.SaveOffset + ch] = mean;
            t.Save[t.SaveOffset + c + ch] = invStd;
            finite &= float.IsFinite(mean) && double.IsFinite(s2);
            if (t.Affine is { } a)
            {
                float scale = p[t.GammaOffset + ch] * invStd;
                a[t.ScaleOffset + ch] = scale;
                a[t.ShiftOffset + ch] = p[t.BetaOffset + ch] - mean * scale;
            }
        }
        // As ForwardTrain: a batch with non-finite statistics (a NaN or infinite input) leaves the running statistics
        // of the whole layer as they were. The running mean is read above as the shift K, so it changes only after.
        if (!finite) return;
        for (int ch = 0; ch < c; ch++)
        {
            double s1 = sums[2 * ch], sq = Math.Max(0.0, sums[2 * ch + 1] - s1 * s1 / count);
            double unbiased = count > 1 ? sq / (count - 1) : sq / count;
            p[t.MeanOffset + ch] = (float)((1.0 - t.Momentum) * p[t.MeanOffset + ch] + t.Momentum * (double)t.Save[t.SaveOffset + ch]);
            p[t.VarOffset + ch] = (float)((1.0 - t.Momentum) * p[t.VarOffset + ch] + t.Momentum * unbiased);
        }
    }

    /// <summary>The affine a = gamma invstd, b = beta - mean a of a training BatchNorm's output, from the save
    /// its forward wrote: the input prologue of a convolution that consumes act(BatchNorm(x)) without it being
    /// stored (<see cref="ChannelAffine"/>); the same float operations as <see cref="ForwardTrain{TAct}"/>.</summary>
    public static void AffineFromSave(int c, float[] p, int gammaOff, int betaOff, float[] save, int saveOff,
        float[] affine, int scaleOff, int shiftOff)
    {
        CheckParams(c, p, gammaOff, betaOff);
        KernelUtil.Check(save, saveOff, 2 * c, nameof(save));
        KernelUtil.Check(affine, scaleOff, c, nameof(scaleOff));
        KernelUtil.Check(affine, shiftOff, c, nameof(shiftOff));
        for (int ch = 0; ch < c; ch++)
        {
            float scale = p[gammaOff + ch] * save[saveOff + c + ch];
            affine[scaleOff + ch] = scale;
            affine[shiftOff + ch] = p[betaOff + ch] - save[saveOff + ch] * scale;
        }
    }

    /// <summary>Folds running statistics (and an optional preceding bias) into scale = gamma/sqrt(var+eps),
    /// shift = beta + (bias - mean) * scale.</summary>
    public static void FoldEval(int c, float[] p, int gammaOff, int betaOff, int meanOff, int varOff, float eps,
        float[]? bias, int biasOff, float[] scale, int scaleOff, float[] shift, int shiftOff)
    {
        CheckParams(c, p, gammaOff, betaOff);
        KernelUtil.Check(p, meanOff, c, nameof(meanOff));
        KernelUtil.Check(p, varOff, c, nameof(varOff));
        if (bias is not null) KernelUtil.Check(bias, biasOff, c, nameof(bias));
        KernelUtil.Check(scale, scaleOff, c, nameof(scale));
        KernelUtil.Check(shift, shiftOff, c, nameof(shift));
        for (int i = 0; i < c; i++)
        {
            double sc = p[gammaOff + i] / Math.Sqrt((double)p[varOff + i] + eps);
            double b = bias is null ? 0.0 : bias[biasOff + i];
            scale[scaleOff + i] = (float)sc;
            shift[shiftOff + i] = (float)(p[betaOff + i] + (b - p[meanOff + i]) * sc);
        }
    }

    /// <summary>y = act(scale[c] x + shift[c]) for a BatchNorm that no producer can absorb.</summary>
    public static void Affine<TAct>(int n, int c, int hw, View x, float[] scale, int scaleOff, float[] shift, int shiftOff, View y)
        where TAct : struct, IActivation
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(y, n, c * hw, nameof(y));
        KernelUtil.Check(scale, scaleOff, c, nameof(scale));
        KernelUtil.Check(shift, shiftOff, c, nameof(shift));
        if (n == 0 || c == 0 || hw == 0) return;
        if (hw == 1) { AffineRows<TAct>(n, c, x, scale, scaleOff, shift, shiftOff, y); return; }
        fixed (float* px = x.Data, py = y.Data, psc = scale, psh = shift)
        {
            var job = new AffineJob<TAct>
            {
                C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Scale = psc + scaleOff, Shift = psh + shiftOff,
            };
            WorkerPool.For(n, ref job, (long)n * c * hw * WorkerPool.FlopsPerElement);
        }
    }

    static void CheckParams(int c, float[] p, int gammaOff, int betaOff)
    {
        KernelUtil.Check(p, gammaOff, c, nameof(gammaOff));
        KernelUtil.Check(p, betaOff, c, nameof(betaOff));
    }

    /// <summary>Sum of x over one row: float vector lanes, returned in double.</summary>
    static double RowSum(float* x, int len) => System.Numerics.Tensors.TensorPrimitives.Sum(new ReadOnlySpan<float>(x, len));

    /// <summary>Sum of (x - mean)^2 over one row.</summary>
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

    struct ForwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Y, Gamma, Beta, Save;
        public double* Unbiased;
        public int N, C, Hw, XStride, YStride;
        public float Eps;

        public void Run(int ch)
        {
            long count = (long)N * Hw;
            double sum = 0;
            for (int b = 0; b < N; b++) sum += RowSum(X + (long)b * XStride + (long)ch * Hw, Hw);
            float mean = (float)(sum / count);
            double sq = 0;
            for (int b = 0; b < N; b++) sq += RowSumSqDev(X + (long)b * XStride + (long)ch * Hw, Hw, mean);
            double var = sq / count;
            float invStd = (float)(1.0 / Math.Sqrt(var + Eps));
            Save[ch] = mean;
            Save[C + ch] = invStd;
            Unbiased[ch] = count > 1 ? sq / (count - 1) : var;
            // z = gamma (x - mean) invstd + beta = a x + b.
            float a = Gamma[ch] * invStd;
            float bsh = Beta[ch] - mean * a;
            for (int b = 0; b < N; b++)
                KernelUtil.Epilogue<TAct>(X + (long)b * XStride + (long)ch * Hw, Y + (long)b * YStride + (long)ch * Hw, Hw, a, bsh);
        }
    }

    struct BackwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Dy, Dx, Gamma, Beta, Save, DGamma, DBeta;
        public int N, C, Hw, XStride, DyStride, DxStride;
        public bool Accumulate;

        public void Run(int ch)
        {
            float mean = Save[ch], invStd = Save[C + ch], gamma = Gamma[ch], beta = Beta[ch];
            // g = dy * act'(z), z = gamma xhat + beta; sums of g and g * xhat give dbeta and dgamma.
            double sumG = 0, sumGX = 0;
            for (int b = 0; b < N; b++)
            {
                float* x = X + (long)b * XStride + (long)ch * Hw, dy = Dy + (long)b * DyStride + (long)ch * Hw;
                RowGrads(x, dy, Hw, mean, invStd, gamma, beta, out double sg, out double sgx);
                sumG += sg; sumGX += sgx;
            }
            long count = (long)N * Hw;
            // dx = gamma invstd (g - sumG/N - xhat sumGX/N).
            float k = gamma * invStd;
            float mG = (float)(sumG / count), mGX = (float)(sumGX / count);
            for (int b = 0; b < N; b++)
            {
                float* x = X + (long)b * XStride + (long)ch * Hw, dy = Dy + (long)b * DyStride + (long)ch * Hw;
                float* dx = Dx + (long)b * DxStride + (long)ch * Hw;
                RowDx(x, dy, dx, Hw, mean, invStd, gamma, beta, k, mG, mGX, Accumulate);
            }
            DGamma[ch] += (float)sumGX;
            DBeta[ch] += (float)sumG;
        }

        // Rows of 14 x 14 or 7 x 7 planes end in a part vector (196 = 12 x 16 + 4, 49 = 3 x 16 + 1): the last whole
        // vector that ends the row, with the lanes the loop already did masked out of the sums (or, for dx, computed
        // before the loop from the same inputs and stored after it, so overlapping lanes get the same value once),
        // instead of a scalar tail; and one horizontal sum per row instead of one per vector width.
        static Vector512<int> Lanes16 => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        static Vector256<int> Lanes8 => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);

        static void RowGrads(float* x, float* dy, int len, float mean, float invStd, float gamma, float beta, out double sumG, out double sumGX)
        {
            int i = 0;
            sumG = 0; sumGX = 0;
            if (Simd.Use512 && len >= 16)
            {
                var m = Vector512.Create(mean); var s = Vector512.Create(invStd); var ga = Vector512.Create(gamma); var be = Vector512.Create(beta);
                var ag = Vector512<float>.Zero; var agx = Vector512<float>.Zero;
                for (; i <= len - 16; i += 16)
                {
                    var xh = (Vector512.Load(x + i) - m) * s;
                    var g = Vector512.Load(dy + i) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, ga, be));
                    ag += g; agx = Vector512.FusedMultiplyAdd(g, xh, agx);
                }
                if (i < len)
                {
                    int at = len - 16;
                    var keep = Vector512.GreaterThanOrEqual(Lanes16, Vector512.Create(i - at)).AsSingle();
                    var xh = (Vector512.Load(x + at) - m) * s;
                    var g = Vector512.Load(dy + at) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, ga, be));
                    g &= keep; xh &= keep;
                    ag += g; agx = Vector512.FusedMultiplyAdd(g, xh, agx);
                }
                sumG = Vector512.Sum(ag); sumGX = Vector512.Sum(agx);
                return;
            }
            if (len >= 8)
            {
                var m = Vector256.Create(mean); var s = Vector256.Create(invStd); var ga = Vector256.Create(gamma); var be = Vector256.Create(beta);
                var ag = Vector256<float>.Zero; var agx = Vector256<float>.Zero;
                for (; i <= len - 8; i += 8)
                {
                    var xh = (Vector256.Load(x + i) - m) * s;
                    var g = Vector256.Load(dy + i) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, ga, be));
                    ag += g; agx = Vector256.FusedMultiplyAdd(g, xh, agx);
                }
                if (i < len)
                {
                    int at = len - 8;
                    var keep = Vector256.GreaterThanOrEqual(Lanes8, Vector256.Create(i - at)).AsSingle();
                    var xh = (Vector256.Load(x + at) - m) * s;
                    var g = Vector256.Load(dy + at) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, ga, be));
                    g &= keep; xh &= keep;
                    ag += g; agx = Vector256.FusedMultiplyAdd(g, xh, agx);
                }
                sumG = Vector256.Sum(ag); sumGX = Vector256.Sum(agx);
                return;
            }
            for (; i < len; i++)
            {
                float xh = (x[i] - mean) * invStd;
                float g = dy[i] * default(TAct).Derivative(MathF.FusedMultiplyAdd(xh, gamma, beta));
                sumG += g; sumGX += g * xh;
            }
        }

        static void RowDx(float* x, float* dy, float* dx, int len, float mean, float invStd, float gamma, float beta,
            float k, float mG, float mGX, bool accumulate)
        {
            int i = 0;
            if (Simd.Use512 && len >= 16)
            {
                var m = Vector512.Create(mean); var s = Vector512.Create(invStd); var ga = Vector512.Create(gamma); var be = Vector512.Create(beta);
                var vk = Vector512.Create(k); var vmg = Vector512.Create(mG); var vmgx = Vector512.Create(mGX);
                int at = len - 16;
                bool part = len % 16 != 0;
                Vector512<float> last = default;
                if (part)
                {
                    var xh = (Vector512.Load(x + at) - m) * s;
                    var g = Vector512.Load(dy + at) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, ga, be));
                    last = vk * (g - vmg - xh * vmgx);
                    if (accumulate) last += Vector512.Load(dx + at);
                }
                for (; i <= len - 16; i += 16)
                {
                    var xh = (Vector512.Load(x + i) - m) * s;
                    var g = Vector512.Load(dy + i) * default(TAct).Derivative(Vector512.FusedMultiplyAdd(xh, ga, be));
                    var d = vk * (g - vmg - xh * vmgx);
                    if (accumulate) d += Vector512.Load(dx + i);
                    d.Store(dx + i);
                }
                if (part) last.Store(dx + at);
                return;
            }
            if (len >= 8)
            {
                var m = Vector256.Create(mean); var s = Vector256.Create(invStd); var ga = Vector256.Create(gamma); var be = Vector256.Create(beta);
                var vk = Vector256.Create(k); var vmg = Vector256.Create(mG); var vmgx = Vector256.Create(mGX);
                int at = len - 8;
                bool part = len % 8 != 0;
                Vector256<float> last = default;
                if (part)
                {
                    var xh = (Vector256.Load(x + at) - m) * s;
                    var g = Vector256.Load(dy + at) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, ga, be));
                    last = vk * (g - vmg - xh * vmgx);
                    if (accumulate) last += Vector256.Load(dx + at);
                }
                for (; i <= len - 8; i += 8)
                {
                    var xh = (Vector256.Load(x + i) - m) * s;
                    var g = Vector256.Load(dy + i) * default(TAct).Derivative(Vector256.FusedMultiplyAdd(xh, ga, be));
                    var d = vk * (g - vmg - xh * vmgx);
                    if (accumulate) d += Vector256.Load(dx + i);
                    d.Store(dx + i);
                }
                if (part) last.Store(dx + at);
                return;
            }
            for (; i < len; i++)
            {
                float xh = (x[i] - mean) * invStd;
                float g = dy[i] * default(TAct).Derivative(MathF.FusedMultiplyAdd(xh, gamma, beta));
                float d = k * (g - mG - xh * mGX);
                dx[i] = accumulate ? dx[i] + d : d;
            }
        }
    }

    struct AffineJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public float* X, Y, Scale, Shift;
        public int C, Hw, XStride, YStride;

        public void Run(int b)
        {
            for (int ch = 0; ch < C; ch++)
                KernelUtil.Epilogue<TAct>(X + (long)b * XStride + (long)ch * Hw, Y + (long)b * YStride + (long)ch * Hw, Hw, Scale[ch], Shift[ch]);
        }
    }
}
