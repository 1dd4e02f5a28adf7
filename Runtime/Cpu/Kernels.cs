using Authoring.Runtime;
// CPU SIMD kernels that generated code calls. All tensors are NCHW batches described by Views;
// every kernel runs over the batch on all cores and allocates nothing after warm-up.
// Epilogues: y = act(scale[c] * acc + shift[c]) with scale/shift optional (null = 1 / 0), so a
// conv/linear can carry its bias and an eval-mode BatchNorm in one pass.
namespace Authoring.Runtime.Cpu;

/// <summary>2-D convolution (including grouped and depthwise).</summary>
public static class Conv2dKernel
{
    /// <summary>y = act(scale[co] * conv(x, w)[co] + shift[co]).</summary>
    public static void Forward<TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
        => throw new NotImplementedException();

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = conv_transpose(dy, w).</summary>
    public static void BackwardData(in Conv2dShape s, int n, View dy, float[] w, int wOff, View dx, bool accumulate)
        => throw new NotImplementedException();

    /// <summary>dw += sum over the batch of the correlation of x with dy.</summary>
    public static void BackwardWeights(in Conv2dShape s, int n, View x, View dy, float[] dw, int dwOff)
        => throw new NotImplementedException();
}

/// <summary>Fully connected layer over (features) samples; weight [out, in].</summary>
public static class LinearKernel
{
    /// <summary>y = act(scale[o] * (x W^T)[o] + shift[o]).</summary>
    public static void Forward<TAct>(int n, int inF, int outF, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
        => throw new NotImplementedException();

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) = dy W.</summary>
    public static void BackwardData(int n, int inF, int outF, View dy, float[] w, int wOff, View dx, bool accumulate)
        => throw new NotImplementedException();

    /// <summary>dw += dy^T x.</summary>
    public static void BackwardWeights(int n, int inF, int outF, View x, View dy, float[] dw, int dwOff)
        => throw new NotImplementedException();
}

/// <summary>Per-channel reductions and copies.</summary>
public static class ChannelKernel
{
    /// <summary>db[c] += sum over batch and positions of dy[:, c, :].</summary>
    public static void BiasGrad(int n, int c, int hw, View dy, float[] db, int dbOff)
        => throw new NotImplementedException();

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) = src, <paramref name="size"/> floats per sample.</summary>
    public static void Copy(int n, int size, View src, View dst, bool accumulate)
        => throw new NotImplementedException();
}

/// <summary>Batch normalization over channels (BatchNorm1d is hw = 1), with a fused activation.</summary>
public static class BatchNormKernel
{
    /// <summary>Training forward: batch mean and biased variance per channel; y = act(gamma x_hat + beta);
    /// running mean/var updated with <paramref name="momentum"/> (unbiased variance, as PyTorch);
    /// save[c] = mean, save[C + c] = 1/sqrt(var + eps).</summary>
    public static void ForwardTrain<TAct>(int n, int c, int hw, View x, float[] p, int gammaOff, int betaOff,
        int meanOff, int varOff, float momentum, float eps, float[] save, int saveOff, View y) where TAct : struct, IActivation
        => throw new NotImplementedException();

    /// <summary>Training backward through act and the batch statistics: dx (= or +=), dgamma +=, dbeta +=.
    /// The pre-activation is recomputed from x and save, not stored.</summary>
    public static void BackwardTrain<TAct>(int n, int c, int hw, View x, View dy, float[] p, int gammaOff, int betaOff,
        float[] save, int saveOff, View dx, bool accumulate, float[] g, int dGammaOff, int dBetaOff) where TAct : struct, IActivation
        => throw new NotImplementedException();

    /// <summary>Folds running statistics (and an optional preceding bias) into scale = gamma/sqrt(var+eps),
    /// shift = beta + (bias - mean) * scale.</summary>
    public static void FoldEval(int c, float[] p, int gammaOff, int betaOff, int meanOff, int varOff, float eps,
        float[]? bias, int biasOff, float[] scale, int scaleOff, float[] shift, int shiftOff)
        => throw new NotImplementedException();

    /// <summary>y = act(scale[c] x + shift[c]) for a BatchNorm that no producer can absorb.</summary>
    public static void Affine<TAct>(int n, int c, int hw, View x, float[] scale, int scaleOff, float[] shift, int shiftOff, View y)
        where TAct : struct, IActivation
        => throw new NotImplementedException();
}

/// <summary>Pooling.</summary>
public static class PoolKernel
{
    /// <summary>Max pooling (padding acts as negative infinity).</summary>
    public static void MaxForward(in Pool2dShape s, int n, View x, View y) => throw new NotImplementedException();

    /// <summary>Routes dy to the first maximum of each window (recomputed from x, as PyTorch picks it).</summary>
    public static void MaxBackward(in Pool2dShape s, int n, View x, View dy, View dx, bool accumulate) => throw new NotImplementedException();

    /// <summary>Average pooling, zero padding counted in the divisor (PyTorch's count_include_pad = true).</summary>
    public static void AvgForward(in Pool2dShape s, int n, View x, View y) => throw new NotImplementedException();

    /// <summary>Backward of <see cref="AvgForward"/>.</summary>
    public static void AvgBackward(in Pool2dShape s, int n, View dy, View dx, bool accumulate) => throw new NotImplementedException();

    /// <summary>y[b, c] = mean over hw of x[b, c, :].</summary>
    public static void GlobalAvgForward(int n, int c, int hw, View x, View y) => throw new NotImplementedException();

    /// <summary>dx[b, c, :] (= or +=) dy[b, c] / hw.</summary>
    public static void GlobalAvgBackward(int n, int c, int hw, View dy, View dx, bool accumulate) => throw new NotImplementedException();
}

/// <summary>Losses.</summary>
public static class LossKernel
{
    /// <summary>Mean softmax cross-entropy over the batch; dlogits = (softmax - onehot) / n.</summary>
    public static StepResult SoftmaxCrossEntropy(int n, int classes, View logits, ReadOnlySpan<int> labels, View dlogits)
        => throw new NotImplementedException();
}

/// <summary>Dropout with a stored mask.</summary>
public static class DropoutKernel
{
    /// <summary>mask = (u &gt;= p) / (1 - p) from a counter-based generator keyed by seed; y = x * mask.</summary>
    public static void Forward(int n, int size, float p, ulong seed, View x, View mask, View y) => throw new NotImplementedException();
}

/// <summary>Single-precision matrix multiply, row-major.</summary>
public static class Gemm
{
    /// <summary>C = alpha op(A) op(B) + beta C with op(A) m x k, op(B) k x n; runs on all cores.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc)
        => throw new NotImplementedException();
}

/// <summary>The counter-based uniform generator dropout uses, shared by the CPU and ILGPU backends so masks agree.</summary>
public static class DropoutRandom
{
    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/> of a step keyed by <paramref name="seed"/> (SplitMix64).</summary>
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed + (ulong)(index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / 16777216f);
    }
}
