// Binary-network layers (BinaryNet / XNOR-Net / Bi-Real Net / ReActNet): a binarising sign whose backward is a
// straight-through estimator, ReActNet's learnable shifts (RSign, RPReLU), and convolution / linear layers whose
// latent real weights are binarised (optionally scaled per output channel, XNOR-Net) on every forward. A binary
// layer reads ±1 activations: its input must come straight from Ops.Sign or an RSign layer. The Bi-Real shortcut is a
// plain Ops.Add of the real-valued block input. First and last layers stay real (Conv2d, Linear), as the papers do.
// Like the other layers, these classes only remember their arguments.
namespace Authoring;

/// <summary>The backward of the binarising sign (its forward is always sign(u) with sign(0) = +1).</summary>
public enum SignEstimator
{
    /// <summary>Straight-through estimator, the clipped identity: d/du = 1 where |u| &lt;= clip, else 0 (BinaryNet,
    /// Larq's <c>ste_sign</c>).</summary>
    Ste,
    /// <summary>Bi-Real Net's piecewise-quadratic ApproxSign, used by ReActNet: d/du = 2 - 2|u| where |u| &lt; 1, else 0.</summary>
    ApproxSign,
}

/// <summary>How the gradient of the binarised weights wb = alpha sign(w) reaches the latent weights w (clip 1).</summary>
public enum BinaryWeightGradient
{
    /// <summary>dw = dwb 1{|w| &lt;= 1}: ReActNet's and Bi-Real Net's code (scaled sign detached, clamp straight through).</summary>
    Clip,
    /// <summary>dw = alpha dwb 1{|w| &lt;= 1}: Larq's <c>magnitude_aware_sign</c> (the scale held constant).</summary>
    ScaledClip,
    /// <summary>XNOR-Net: through the scale too, dw_i = alpha dwb_i 1{|w_i| &lt;= 1} + sgn(w_i) / K sum_j dwb_j sign(w_j).</summary>
    Full,
}

/// <summary>ReActNet's RSign: y = sign(x + b[c]) with a learnt per-channel shift b (initialised to 0), over (C, H, W)
/// or (F) inputs. Parameter <c>{name}.bias</c> (ReActNet's <c>LearnableBias.bias</c>).</summary>
/// <param name="channels">Channels (features) of the input.</param>
/// <param name="estimator">The sign's backward.</param>
/// <param name="clip">Where the straight-through estimator's identity is cut off (ignored by ApproxSign).</param>
public sealed class RSign(int channels, SignEstimator estimator = SignEstimator.Ste, float clip = 1f) : Layer
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels;
    /// <summary>The sign's backward.</summary>
    public SignEstimator Estimator { get; } = estimator;
    /// <summary>The estimator's clip.</summary>
    public float Clip { get; } = clip;
}

/// <summary>ReActNet's RPReLU: y = prelu(x + b0[c], a[c]) + b1[c], over (C, H, W) or (F) inputs. Parameters as
/// ReActNet's module names them: <c>{name}.move1.bias</c> (b0, 0), <c>{name}.prelu.weight</c> (a, <paramref name="init"/>),
/// <c>{name}.move2.bias</c> (b1, 0).</summary>
/// <param name="channels">Channels (features) of the input.</param>
/// <param name="init">Initial negative slope (PyTorch's nn.PReLU default 0.25).</param>
public sealed class RPReLU(int channels, float init = 0.25f) : Layer
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels;
    /// <summary>Initial slope.</summary>
    public float Init { get; } = init;
}

/// <summary>Binary 2-D convolution: the latent weight w [out, in, k, k] is binarised on every forward to
/// alpha[o] sign(w) (alpha = mean |w[o]| per output channel when <paramref name="scaled"/>, XNOR-Net; else 1) and
/// convolved with the ±1 input, which must come straight from Ops.Sign or an RSign layer. Zero padding, as PyTorch.
/// The deploy form packs the signs into bits (1 bit per weight) for XNOR-popcount kernels.</summary>
/// <param name="inChannels">Input channels.</param>
/// <param name="outChannels">Output channels.</param>
/// <param name="kernel">Kernel size (square).</param>
/// <param name="stride">Stride.</param>
/// <param name="padding">Zero padding on each side.</param>
/// <param name="scaled">Scale each output channel by the mean magnitude of its latent weights (XNOR-Net).</param>
/// <param name="weightGradient">How the gradient reaches the latent weights (Clip or, when scaled, ScaledClip / Full).</param>
/// <param name="bias">Whether a real bias is learned (usually not: a BatchNorm follows).</param>
public sealed class BinaryConv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, bool scaled = true,
    BinaryWeightGradient weightGradient = BinaryWeightGradient.Clip, bool bias = false) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel size.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding.</summary>
    public int Padding { get; } = padding;
    /// <summary>Whether the binary weights are scaled per output channel.</summary>
    public bool Scaled { get; } = scaled;
    /// <summary>The latent weights' gradient.</summary>
    public BinaryWeightGradient WeightGradient { get; } = weightGradient;
    /// <summary>Whether a bias is learned.</summary>
    public bool Bias { get; } = bias;
}

/// <summary>Binary fully connected layer: y = x wb^T (+ b) with wb = alpha[o] sign(w) binarised from the latent weight
/// w [out, in] on every forward (see <see cref="BinaryConv2d"/>); the (F) input must come straight from Ops.Sign or an
/// RSign layer.</summary>
/// <param name="inFeatures">Input features.</param>
/// <param name="outFeatures">Output features.</param>
/// <param name="scaled">Scale each output by the mean magnitude of its latent weights (XNOR-Net).</param>
/// <param name="weightGradient">How the gradient reaches the latent weights.</param>
/// <param name="bias">Whether a real bias is learned.</param>
public sealed class BinaryLinear(int inFeatures, int outFeatures, bool scaled = true,
    BinaryWeightGradient weightGradient = BinaryWeightGradient.Clip, bool bias = false) : Layer
{
    /// <summary>Input features.</summary>
    public int InFeatures { get; } = inFeatures;
    /// <summary>Output features.</summary>
    public int OutFeatures { get; } = outFeatures;
    /// <summary>Whether the binary weights are scaled per output.</summary>
    public bool Scaled { get; } = scaled;
    /// <summary>The latent weights' gradient.</summary>
    public BinaryWeightGradient WeightGradient { get; } = weightGradient;
    /// <summary>Whether a bias is learned.</summary>
    public bool Bias { get; } = bias;
}
