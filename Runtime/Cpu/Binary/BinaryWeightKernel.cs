// Binarised weights for training a binary conv or linear layer on the fp32 kernels: from latent
// real weights w [Cout, K] (K = Cin Kh Kw, or In), the ±1 weights, scaled per output channel as
// XNOR-Net does, and the gradient back to the latent weights.
//   forward:   alpha[co] = mean_k |w[co, k]|   (computed in double),   wb[co, k] = alpha[co] * sign(w[co, k])
//              (sign(0) = +1; without alpha, wb = sign(w): Bi-Real-style layers whose BatchNorm absorbs the scale)
//   backward:  dw[co, k] += one of WeightGradient's definitions (Clip: ReActNet/Bi-Real code,
//              ScaledClip: Larq's magnitude-aware sign, Full: XNOR-Net's gradient through alpha).
// One output channel per task; each channel's sums run in order, so results are deterministic.
namespace Authoring.Runtime.Cpu;

/// <summary>Scaled binary weights (XNOR-Net) and their straight-through gradient to the latent weights.</summary>
public static unsafe class BinaryWeightKernel
{
    /// <summary>wb = alpha * sign(w) per output channel, alpha = mean |w| written to <paramref name="alpha"/>; a null
    /// <paramref name="alpha"/> gives wb = sign(w).</summary>
    public static void Forward(int cout, int k, float[] w, int wOff, float[] wb, int wbOff, float[]? alpha, int alphaOff)
    {
        KernelUtil.Check(w, wOff, cout * k, nameof(w));
        KernelUtil.Check(wb, wbOff, cout * k, nameof(wb));
        if (alpha is not null) KernelUtil.Check(alpha, alphaOff, cout, nameof(alpha));
        if (cout == 0 || k == 0) return;
        fixed (float* pw = w, pwb = wb, pa = alpha)
        {
            var job = new ForwardJob { K = k, W = pw + wOff, Wb = pwb + wbOff, Alpha = pa == null ? null : pa + alphaOff };
            if ((long)cout * k < 32768) for (int co = 0; co < cout; co++) job.Run(co);
            else WorkerPool.For(cout, ref job);
        }
    }

    /// <summary>dw += the gradient reaching the latent weights from <paramref name="dwb"/>, the gradient of the binarised
    /// weights, as <paramref name="mode"/> defines it. <paramref name="alpha"/> (from <see cref="Forward"/>) is needed by
    /// <see cref="WeightGradient.ScaledClip"/> and <see cref="WeightGradient.Full"/>.</summary>
    public static void Backward(int cout, int k, WeightGradient mode, float clip, float[] w, int wOff, float[] dwb, int dwbOff,
        float[]? alpha, int alphaOff, float[] dw, int dwOff)
    {
        KernelUtil.Check(w, wOff, cout * k, nameof(w));
        KernelUtil.Check(dwb, dwbOff, cout * k, nameof(dwb));
        KernelUtil.Check(dw, dwOff, cout * k, nameof(dw));
        if (mode != WeightGradient.Clip)
        {
            if (alpha is null) throw new ArgumentNullException(nameof(alpha), $"{mode} needs the scales of the forward pass.");
            KernelUtil.Check(alpha, alphaOff, cout, nameof(alpha));
        }
        if (cout == 0 || k == 0) return;
        fixed (float* pw = w, pdwb = dwb, pa = alpha, pdw = dw)
        {
            var job = new BackwardJob
            {
                K = k, Mode = mode, Clip = clip, W = pw + wOff, Dwb = pdwb + dwbOff, Alpha = pa == null ? null : pa + alphaOff, Dw = pdw + dwOff,
            };
            if ((long)cout * k < 32768) for (int co = 0; co < cout; co++) job.Run(co);
            else WorkerPool.For(cout, ref job);
        }
    }

    struct ForwardJob : IParallelJob
    {
        public float* W, Wb, Alpha;
        public int K;

        public readonly void Run(int co)
        {
            float* w = W + (long)co * K, wb = Wb + (long)co * K;
            float a = 1f;
            if (Alpha != null)
            {
                double sum = 0;
                for (int i = 0; i < K; i++) sum += Math.Abs(w[i]);
                a = (float)(sum / K);
                Alpha[co] = a;
            }
            for (int i = 0; i < K; i++) wb[i] = w[i] < 0f ? -a : a;
        }
    }

    struct BackwardJob : IParallelJob
    {
        public float* W, Dwb, Alpha, Dw;
        public int K;
        public WeightGradient Mode;
        public float Clip;

        public readonly void Run(int co)
        {
            float* w = W + (long)co * K, dwb = Dwb + (long)co * K, dw = Dw + (long)co * K;
            float scale = Mode == WeightGradient.Clip ? 1f : Alpha[co];
            float mean = 0f;
            if (Mode == WeightGradient.Full)
            {
                // d alpha / d w_i = sgn(w_i) / K, times sum_j dwb_j sign(w_j) (the binarised weights' direction).
                double s = 0;
                for (int i = 0; i < K; i++) s += w[i] < 0f ? -dwb[i] : dwb[i];
                mean = (float)(s / K);
            }
            for (int i = 0; i < K; i++)
            {
                float v = MathF.Abs(w[i]) <= Clip ? scale * dwb[i] : 0f;
                if (Mode == WeightGradient.Full) v += w[i] > 0f ? mean : w[i] < 0f ? -mean : 0f;
                dw[i] += v;
            }
        }
    }
}
