// Batch normalization with a fused activation. Statistics and parameter-gradient sums take one
// thread per channel, summing batch and positions in a fixed order (deterministic, no atomics);
// the element-wise parts take one thread per element. Backward recomputes the pre-activation
// z = gamma x_hat + beta from x and the saved statistics instead of storing it.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    /// <summary>Training forward: batch mean and biased variance per channel; y = act(gamma x_hat + beta);
    /// running mean/var (either may be empty to skip) updated with <paramref name="momentum"/> and the unbiased
    /// variance, as PyTorch; save[ch] = mean, save[c + ch] = 1/sqrt(var + eps). Empty gamma/beta mean 1/0.</summary>
    public void BatchNormForwardTrain<TAct>(int n, int c, int hw, GView x, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, float momentum, float eps, ArrayView<float> save, GView y)
        where TAct : struct, IActivation
    {
        if (n * c * hw == 0) return;
        var d = new ChannelDims(n, c, hw);
        (_bnStats ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>>(
            BatchNormStatsKernel))(c, d, x, runningMean, runningVar, momentum, eps, save);
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
        var sums = Scratch(2 * c);
        var k = Act<TAct>();
        k.BatchNormBackwardSums(c, d, x, dy, gamma, beta, save, sums, dGamma, dBeta);
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

    Action<Index1D, ChannelDims, GView, ArrayView<float>, ArrayView<float>, float, float, ArrayView<float>>? _bnStats;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _bnFold;

    /// <summary>Batch, channels and positions per channel, packed so kernels take few parameters.</summary>
    internal readonly struct ChannelDims(int n, int c, int hw)
    {
        public readonly int N = n;
        public readonly int C = c;
        public readonly int HW = hw;
    }

    /// <summary>One thread per channel: two-pass mean and variance (no cancellation from E[x^2] - E[x]^2).</summary>
    internal static void BatchNormStatsKernel(Index1D index, ChannelDims d, GView x, ArrayView<float> runningMean,
        ArrayView<float> runningVar, float momentum, float eps, ArrayView<float> save)
    {
        int ch = index;
        int count = d.N * d.HW;
        float sum = 0f;
        for (int b = 0; b < d.N; b++)
        {
            int at = x.At(b) + ch * d.HW;
            for (int p = 0; p < d.HW; p++) sum += x.Data[at + p];
        }
        float mean = sum / count;
        float sq = 0f;
        for (int b = 0; b < d.N; b++)
        {
            int at = x.At(b) + ch * d.HW;
            for (int p = 0; p < d.HW; p++)
            {
                float t = x.Data[at + p] - mean;
                sq += t * t;
            }
        }
        float var = sq / count;
        save[ch] = mean;
        save[d.C + ch] = 1f / MathF.Sqrt(var + eps);
        if (runningMean.Length > 0) runningMean[ch] = (1f - momentum) * runningMean[ch] + momentum * mean;
        if (runningVar.Length > 0)
        {
            // PyTorch tracks the unbiased variance; with one value per channel it keeps the biased one.
            float unbiased = count > 1 ? sq / (count - 1) : var;
            runningVar[ch] = (1f - momentum) * runningVar[ch] + momentum * unbiased;
        }
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

    /// <summary>One thread per channel: sums[ch] = sum g, sums[C + ch] = sum g x_hat with g = dy act'(z);
    /// they are also dBeta and dGamma.</summary>
    internal static void BatchNormBackwardSumsKernel<TAct>(Index1D index, ChannelDims d, GView x, GView dy,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> save, ArrayView<float> sums,
        ArrayView<float> dGamma, ArrayView<float> dBeta) where TAct : struct, IActivation
    {
        int ch = index;
        float mean = save[ch], invStd = save[d.C + ch];
        float ga = gamma.Length > 0 ? gamma[ch] : 1f, be = beta.Length > 0 ? beta[ch] : 0f;
        float sg = 0f, sgx = 0f;
        for (int b = 0; b < d.N; b++)
        {
            int xa = x.At(b) + ch * d.HW, ga0 = dy.At(b) + ch * d.HW;
            for (int p = 0; p < d.HW; p++)
            {
                float xhat = (x.Data[xa + p] - mean) * invStd;
                float g = dy.Data[ga0 + p] * default(TAct).Derivative(ga * xhat + be);
                sg += g;
                sgx += g * xhat;
            }
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
