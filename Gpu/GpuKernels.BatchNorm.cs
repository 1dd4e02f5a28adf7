// Batch normalization with a fused activation. Per-channel statistics and parameter-gradient sums
// reduce in two deterministic steps (partials over interleaved terms, then an ordered combine per
// channel; no atomics); the element-wise parts take one thread per element. Backward recomputes the pre-activation
// z = gamma x_hat + beta from x and the saved statistics instead of storing it.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Training forward: batch mean and biased variance per channel; y = act(gamma x_hat + beta);
    /// running mean/var (either may be empty to skip) updated with <paramref name="momentum"/> and the unbiased
    /// variance, as PyTorch; save[ch] = mean, save[c + ch] = 1/sqrt(var + eps). Empty gamma/beta mean 1/0.
    /// As the CPU kernel: when the batch mean or variance of any channel is NaN or infinite, the running statistics
    /// of the whole layer are left as they were. The host is not told synchronously (that would stall the queue):
    /// <paramref name="nonFinite"/>[0], when given, is set to 1 in that case and left as it is otherwise, so one flag
    /// can collect every layer of a step and be read once.</summary>
    public void BatchNormForwardTrain<TAct>(int n, int c, int hw, GView x, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, ArrayView<float> save, GView y,
        ArrayView<int> nonFinite = default)
        where TAct : struct, IActivation
    {
        if (n * c * hw == 0) return;
        Authoring.Runtime.Cpu.BatchNormKernel.CheckBatchStatistics(n, hw);
        var d = new ChannelDims(n, c, hw);
        int parts = Parts(n * hw);
        var scratch = Scratch(2 * c * parts + c);
        ArrayView<float> partials = scratch.SubView(0, 2 * c * parts), unbiased = scratch.SubView(2 * c * parts, c);
        (_bnPartialStats ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, GView, ArrayView<float>>(
            BatchNormPartialStatsKernel))(c * parts, d, parts, x, partials);
        (_bnStats ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, ArrayView<float>, float, ArrayView<float>, ArrayView<float>>(
            BatchNormStatsKernel))(c, d, parts, partials, eps, save, unbiased);
        if (runningMean.Length > 0 || runningVar.Length > 0 || nonFinite.Length > 0)
            (_bnRunning ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<int>>(
                BatchNormRunningKernel))(c, d, save, unbiased, runningMean, runningVar, momentum, nonFinite);
        Act<TAct>().BatchNormApply(n * c * hw, d, x, gamma, beta, save, y);
    }

    /// <summary>Training backward through act and the batch statistics: dx (= or += when <paramref name="accumulate"/>),
    /// dGamma +=, dBeta += (either may be empty to skip).</summary>
    public void BatchNormBackwardTrain<TAct>(int n, int c, int hw, GView x, GView dy, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> save, GView dx, bool accumulate, ArrayView<float> dGamma, ArrayView<float> dBeta)
        where TAct : struct, IActivation
    {
        if (n * c * hw == 0) return;
        var d = new ChannelDims(n, c, hw);
        int parts = Parts(n * hw);
        var scratch = Scratch(2 * c + 2 * c * parts);
        ArrayView<float> sums = scratch.SubView(0, 2 * c), partials = scratch.SubView(2 * c, 2 * c * parts);
        var k = Act<TAct>();
        k.BatchNormBackwardPartials(c * parts, d, parts, x, dy, gamma, beta, save, partials);
        (_bnBackwardSums ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            BatchNormBackwardSumsKernel))(c, d, parts, partials, sums, dGamma, dBeta);
        k.BatchNormBackwardData(n * c * hw, d, x, dy, gamma, beta, save, sums, dx, accumulate ? 1 : 0);
    }

    /// <summary>Folds running statistics (and an optional preceding <paramref name="bias"/>, empty = 0) into
    /// scale = gamma/sqrt(var+eps), shift = beta + (bias - mean) * scale.</summary>
    public void BatchNormFoldEval(int c, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean, ArrayView<float> var,
        float eps, ArrayView<float> bias, ArrayView<float> scale, ArrayView<float> shift)
    {
        if (c == 0) return;
        (_bnFold ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            BatchNormFoldKernel))(c, gamma, beta, mean, var, eps, bias, scale, shift);
    }

    /// <summary>y = act(scale[ch] x + shift[ch]) for a BatchNorm that no producer can absorb.</summary>
    public void BatchNormAffine<TAct>(int n, int c, int hw, GView x, ArrayView<float> scale, ArrayView<float> shift, GView y)
        where TAct : struct, IActivation
    {
        if (n * c * hw == 0) return;
        Act<TAct>().Affine(n * c * hw, new ChannelDims(n, c, hw), x, scale, shift, y);
    }

    Action<Index1D, ChannelDims, int, GView, ArrayView<float>>? _bnPartialStats;
    Action<Index1D, ChannelDims, int, ArrayView<float>, float, ArrayView<float>, ArrayView<float>>? _bnStats;
    Action<Index1D, ChannelDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<int>>? _bnRunning;
    Action<Index1D, ChannelDims, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _bnBackwardSums;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _bnFold;

    /// <summary>Batch, channels and positions per channel, packed so kernels take few parameters.</summary>
    internal readonly struct ChannelDims(int n, int c, int hw)
    {
        public readonly int N = n;
        public readonly int C = c;
        public readonly int HW = hw;
    }

    /// <summary>One thread per (channel, part j): mean and sum of squared deviations of terms j, j+P, ... of the
    /// channel (two passes over them, so no cancellation from E[x^2] - E[x]^2) into partials[2i], partials[2i+1].</summary>
    internal static void BatchNormPartialStatsKernel(Index1D index, ChannelDims d, int parts, GView x, ArrayView<float> partials)
    {
        int i = index;
        int ch = i / parts, j = i - ch * parts, count = d.N * d.HW, m = 0;
        float sum = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW;
            sum += x.Data[x.At(b) + ch * d.HW + e - b * d.HW];
            m++;
        }
        float mean = m > 0 ? sum / m : 0f, sq = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW;
            float t = x.Data[x.At(b) + ch * d.HW + e - b * d.HW] - mean;
            sq += t * t;
        }
        partials[2 * i] = mean;
        partials[2 * i + 1] = sq;
    }

    /// <summary>One thread per channel: combines the parts in order (Chan et al.'s pairwise update, stable for
    /// large counts), writes save and the unbiased variance the running update uses.</summary>
    internal static void BatchNormStatsKernel(Index1D index, ChannelDims d, int parts, ArrayView<float> partials, float eps,
        ArrayView<float> save, ArrayView<float> unbiased)
    {
        int ch = index;
        int count = d.N * d.HW, seen = 0;
        float mean = 0f, sq = 0f;
        for (int j = 0; j < parts; j++)
        {
            int m = (count - j + parts - 1) / parts;
            if (m <= 0) continue;
            int at = 2 * (ch * parts + j), total = seen + m;
            float delta = partials[at] - mean;
            mean += delta * m / total;
            sq += partials[at + 1] + delta * delta * ((float)seen * m / total);
            seen = total;
        }
        float var = sq / count;
        save[ch] = mean;
        save[d.C + ch] = 1f / MathF.Sqrt(var + eps);
        // PyTorch tracks the unbiased variance; with one value per channel it keeps the biased one.
        unbiased[ch] = count > 1 ? sq / (count - 1) : var;
    }

    /// <summary>One thread per channel: updates the running statistics (either may be empty) from save and unbiased,
    /// unless some channel's batch mean or variance is non-finite; then nothing moves and thread 0 sets nonFinite[0].
    /// Each thread reads every channel's statistics (C reads), so the decision needs no second launch or atomics.</summary>
    internal static void BatchNormRunningKernel(Index1D index, ChannelDims d, ArrayView<float> save, ArrayView<float> unbiased,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, ArrayView<int> nonFinite)
    {
        int ch = index;
        bool finite = true;
        for (int j = 0; j < d.C; j++)
        {
            float m = save[j], u = unbiased[j];
            if (float.IsNaN(m) || float.IsInfinity(m) || float.IsNaN(u) || float.IsInfinity(u)) finite = false;
        }
        if (!finite)
        {
            if (ch == 0 && nonFinite.Length > 0) nonFinite[0] = 1;
            return;
        }
        if (runningMean.Length > 0) runningMean[ch] = (1f - momentum) * runningMean[ch] + momentum * save[ch];
        if (runningVar.Length > 0) runningVar[ch] = (1f - momentum) * runningVar[ch] + momentum * unbiased[ch];
    }

    /// <summary>One thread per element: y = act(gamma x_hat + beta).</summary>
    internal static void BatchNormApplyKernel<TAct>(Index1D index, ChannelDims d, GView x, ArrayView<float> gamma,
        ArrayView<float> beta, ArrayView<float> save, GView y) where TAct : struct, IActivation
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float xhat = (x.Data[x.At(b) + r] - save[ch]) * save[d.C + ch];
        float z = (gamma.Length > 0 ? gamma[ch] * xhat : xhat) + (beta.Length > 0 ? beta[ch] : 0f);
        y.Data[y.At(b) + r] = default(TAct).Apply(z);
    }

    /// <summary>One thread per (channel, part j): sums of g and g x_hat over terms j, j+P, ... with g = dy act'(z),
    /// into partials[2i], partials[2i+1].</summary>
    internal static void BatchNormBackwardPartialsKernel<TAct>(Index1D index, ChannelDims d, int parts, GView x, GView dy,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> save, ArrayView<float> partials) where TAct : struct, IActivation
    {
        int i = index;
        int ch = i / parts, j = i - ch * parts, count = d.N * d.HW;
        float mean = save[ch], invStd = save[d.C + ch];
        float ga = gamma.Length > 0 ? gamma[ch] : 1f, be = beta.Length > 0 ? beta[ch] : 0f;
        float sg = 0f, sgx = 0f;
        for (int e = j; e < count; e += parts)
        {
            int b = e / d.HW, r = ch * d.HW + e - b * d.HW;
            float xhat = (x.Data[x.At(b) + r] - mean) * invStd;
            float g = dy.Data[dy.At(b) + r] * default(TAct).Derivative(ga * xhat + be);
            sg += g;
            sgx += g * xhat;
        }
        partials[2 * i] = sg;
        partials[2 * i + 1] = sgx;
    }

    /// <summary>One thread per channel: adds the parts in order into sums[ch] = sum g, sums[C + ch] = sum g x_hat,
    /// which are also what dBeta and dGamma accumulate.</summary>
    internal static void BatchNormBackwardSumsKernel(Index1D index, ChannelDims d, int parts, ArrayView<float> partials,
        ArrayView<float> sums, ArrayView<float> dGamma, ArrayView<float> dBeta)
    {
        int ch = index;
        float sg = 0f, sgx = 0f;
        for (int j = 0; j < parts; j++)
        {
            sg += partials[2 * (ch * parts + j)];
            sgx += partials[2 * (ch * parts + j) + 1];
        }
        sums[ch] = sg;
        sums[d.C + ch] = sgx;
        if (dBeta.Length > 0) dBeta[ch] += sg;
        if (dGamma.Length > 0) dGamma[ch] += sgx;
    }

    /// <summary>One thread per element: dx = gamma invstd (g - mean(g) - x_hat mean(g x_hat)).</summary>
    internal static void BatchNormBackwardDataKernel<TAct>(Index1D index, ChannelDims d, GView x, GView dy,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> save, ArrayView<float> sums, GView dx, int accumulate)
        where TAct : struct, IActivation
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        float mean = save[ch], invStd = save[d.C + ch];
        float ga = gamma.Length > 0 ? gamma[ch] : 1f, be = beta.Length > 0 ? beta[ch] : 0f;
        float xhat = (x.Data[x.At(b) + r] - mean) * invStd;
        float g = dy.Data[dy.At(b) + r] * default(TAct).Derivative(ga * xhat + be);
        float inv = 1f / (d.N * d.HW);
        float v = ga * invStd * (g - sums[ch] * inv - xhat * sums[d.C + ch] * inv);
        int at = dx.At(b) + r;
        dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
    }

    /// <summary>One thread per channel.</summary>
    internal static void BatchNormFoldKernel(Index1D index, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean,
        ArrayView<float> var, float eps, ArrayView<float> bias, ArrayView<float> scale, ArrayView<float> shift)
    {
        int ch = index;
        float sc = gamma[ch] / MathF.Sqrt(var[ch] + eps);
        scale[ch] = sc;
        shift[ch] = beta[ch] + ((bias.Length > 0 ? bias[ch] : 0f) - mean[ch]) * sc;
    }

    /// <summary>One thread per element: y = act(scale[ch] x + shift[ch]).</summary>
    internal static void AffineKernel<TAct>(Index1D index, ChannelDims d, GView x, ArrayView<float> scale,
        ArrayView<float> shift, GView y) where TAct : struct, IActivation
    {
        int i = index, per = d.C * d.HW;
        int b = i / per, r = i - b * per, ch = r / d.HW;
        y.Data[y.At(b) + r] = default(TAct).Apply(scale[ch] * x.Data[x.At(b) + r] + shift[ch]);
    }
}
