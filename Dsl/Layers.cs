// Layer declarations: fields of a model, constructed with constant hyper-parameters. The generator
// reads the constructor arguments; these classes only remember them.
namespace Authoring;

/// <summary>Base of every layer declaration.</summary>
public abstract class Layer
{
    /// <summary>Applies the layer (symbolic: only meaningful inside a model's Forward method).</summary>
    public Tensor Forward(Tensor x) => throw Symbolic.Error();
}

/// <summary>Fully connected layer y = x W^T + b over (features) inputs; W is [out, in].</summary>
public sealed class Linear(int inFeatures, int outFeatures, bool bias = true) : Layer
{
    /// <summary>Input features.</summary>
    public int InFeatures { get; } = inFeatures;
    /// <summary>Output features.</summary>
    public int OutFeatures { get; } = outFeatures;
    /// <summary>Whether a bias is learned.</summary>
    public bool Bias { get; } = bias;
}

/// <summary>2-D convolution over (C, H, W) inputs; weight [out, in/groups, kernelHeight, kernelWidth].</summary>
/// <remarks>The kernel and padding are square unless <paramref name="kernelWidth"/> or <paramref name="paddingWidth"/>
/// is given: then <paramref name="kernel"/> and <paramref name="padding"/> are the height's, as PyTorch's
/// <c>kernel_size=(kh, kw)</c>, <c>padding=(ph, pw)</c>.</remarks>
/// <param name="inChannels">Input channels.</param>
/// <param name="outChannels">Output channels.</param>
/// <param name="kernel">Kernel size (its height when <paramref name="kernelWidth"/> is given).</param>
/// <param name="stride">Stride.</param>
/// <param name="padding">Zero padding on each side (top and bottom when <paramref name="paddingWidth"/> is given).</param>
/// <param name="dilation">Dilation.</param>
/// <param name="groups">Groups.</param>
/// <param name="bias">Whether a bias is learned.</param>
/// <param name="kernelWidth">Kernel width; 0 means the same as <paramref name="kernel"/>.</param>
/// <param name="paddingWidth">Zero padding on the left and right; -1 means the same as <paramref name="padding"/>.</param>
public sealed class Conv2d(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0,
    int dilation = 1, int groups = 1, bool bias = true, int kernelWidth = 0, int paddingWidth = -1) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel height (the size of a square kernel).</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Kernel width.</summary>
    public int KernelWidth { get; } = kernelWidth == 0 ? kernel : kernelWidth;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding on the top and bottom (on each side of a square padding).</summary>
    public int Padding { get; } = padding;
    /// <summary>Zero padding on the left and right.</summary>
    public int PaddingWidth { get; } = paddingWidth == -1 ? padding : paddingWidth;
    /// <summary>Dilation.</summary>
    public int Dilation { get; } = dilation;
    /// <summary>Groups (equal to the channels for a depthwise convolution).</summary>
    public int Groups { get; } = groups;
    /// <summary>Whether a bias is learned.</summary>
    public bool Bias { get; } = bias;
}

/// <summary>Depthwise 2-D convolution: one kernel per channel (a Conv2d with groups = channels); weight
/// [channels, 1, kernelHeight, kernelWidth].</summary>
/// <remarks>Band kernels such as 1x5 and 5x1 (GhostNetV2's DFC attention) take <paramref name="kernelWidth"/> and
/// <paramref name="paddingWidth"/>: <c>new(c, kernel: 1, padding: 0, kernelWidth: 5, paddingWidth: 2)</c>.</remarks>
/// <param name="channels">Channels in and out.</param>
/// <param name="kernel">Kernel size (its height when <paramref name="kernelWidth"/> is given).</param>
/// <param name="stride">Stride.</param>
/// <param name="padding">Zero padding on each side (top and bottom when <paramref name="paddingWidth"/> is given).</param>
/// <param name="dilation">Dilation.</param>
/// <param name="bias">Whether a bias is learned.</param>
/// <param name="kernelWidth">Kernel width; 0 means the same as <paramref name="kernel"/>.</param>
/// <param name="paddingWidth">Zero padding on the left and right; -1 means the same as <paramref name="padding"/>.</param>
public sealed class DepthwiseConv2d(int channels, int kernel, int stride = 1, int padding = 0, int dilation = 1,
    bool bias = true, int kernelWidth = 0, int paddingWidth = -1) : Layer
{
    /// <summary>Channels in and out.</summary>
    public int Channels { get; } = channels;
    /// <summary>Kernel height (the size of a square kernel).</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Kernel width.</summary>
    public int KernelWidth { get; } = kernelWidth == 0 ? kernel : kernelWidth;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding on the top and bottom (on each side of a square padding).</summary>
    public int Padding { get; } = padding;
    /// <summary>Zero padding on the left and right.</summary>
    public int PaddingWidth { get; } = paddingWidth == -1 ? padding : paddingWidth;
    /// <summary>Dilation.</summary>
    public int Dilation { get; } = dilation;
    /// <summary>Whether a bias is learned.</summary>
    public bool Bias { get; } = bias;
}

/// <summary>Batch normalization over the channels of (C, H, W) inputs: batch statistics in training, running ones in evaluation.</summary>
public sealed class BatchNorm2d(int channels, float eps = 1e-5f, float momentum = 0.1f) : Layer
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels;
    /// <summary>Added to the variance.</summary>
    public float Eps { get; } = eps;
    /// <summary>Running-average update factor, as PyTorch defines it.</summary>
    public float Momentum { get; } = momentum;
}

/// <summary>Batch normalization over the features of (F) inputs.</summary>
public sealed class BatchNorm1d(int features, float eps = 1e-5f, float momentum = 0.1f) : Layer
{
    /// <summary>Features.</summary>
    public int Features { get; } = features;
    /// <summary>Added to the variance.</summary>
    public float Eps { get; } = eps;
    /// <summary>Running-average update factor, as PyTorch defines it.</summary>
    public float Momentum { get; } = momentum;
}

/// <summary>Layer normalization over the last axis, as PyTorch's <c>nn.LayerNorm(dim)</c> (normalized_shape = (dim,)):
/// each row of <paramref name="dim"/> features, for every leading axis (tokens, time steps), is normalised by its own
/// mean and biased variance, then scaled by <c>weight</c> and shifted by <c>bias</c> (state_dict names), initialised to
/// ones and zeros. The same in training and evaluation (no running statistics).</summary>
/// <param name="dim">Features on the last axis.</param>
/// <param name="eps">Added to the variance.</param>
/// <param name="elementwiseAffine">Whether the per-feature weight (and bias) are learned.</param>
/// <param name="bias">Whether the bias is learned (only with <paramref name="elementwiseAffine"/>).</param>
public sealed class LayerNorm(int dim, float eps = 1e-5f, bool elementwiseAffine = true, bool bias = true) : Layer
{
    /// <summary>Features on the last axis.</summary>
    public int Dim { get; } = dim;
    /// <summary>Added to the variance.</summary>
    public float Eps { get; } = eps;
    /// <summary>Whether the per-feature weight (and bias) are learned.</summary>
    public bool ElementwiseAffine { get; } = elementwiseAffine;
    /// <summary>Whether the bias is learned.</summary>
    public bool Bias { get; } = bias;
}

/// <summary>Max pooling; stride defaults to the kernel size.</summary>
public sealed class MaxPool2d(int kernel, int stride = 0, int padding = 0) : Layer
{
    /// <summary>Square window.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride (0 means the kernel size).</summary>
    public int Stride { get; } = stride;
    /// <summary>Padding (implicit negative infinity).</summary>
    public int Padding { get; } = padding;
}

/// <summary>Average pooling (zero padding counted in the divisor, as PyTorch's default); stride defaults to the kernel size.</summary>
public sealed class AvgPool2d(int kernel, int stride = 0, int padding = 0) : Layer
{
    /// <summary>Square window.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride (0 means the kernel size).</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding.</summary>
    public int Padding { get; } = padding;
}

/// <summary>Dropout: zeroes elements with probability p in training and scales the rest by 1/(1-p); identity in evaluation.</summary>
public sealed class Dropout(float p = 0.5f) : Layer
{
    /// <summary>Drop probability.</summary>
    public float P { get; } = p;
}

/// <summary>A lookup table of <paramref name="vocabulary"/> vectors of size <paramref name="dim"/> (PyTorch's nn.Embedding,
/// weight [vocabulary, dim], initialised N(0, 1)): token ids (N) to vectors (N, dim). Its gradient touches only the
/// rows of the ids in the batch.</summary>
/// <param name="vocabulary">Number of distinct ids; ids must lie in [0, vocabulary).</param>
/// <param name="dim">Size of each vector.</param>
public sealed class Embedding(int vocabulary, int dim) : Layer
{
    /// <summary>Number of distinct ids.</summary>
    public int Vocabulary { get; } = vocabulary;
    /// <summary>Size of each vector.</summary>
    public int Dim { get; } = dim;

    /// <summary>Looks the ids up (symbolic: only meaningful inside a model's Forward method).</summary>
    public Tensor Forward(Tokens ids) => throw Symbolic.Error();

    /// <summary>Not an embedding's input: it reads token ids.</summary>
    [Obsolete("An Embedding reads token ids: declare the model's input as '[Shape(N)] Tokens ids' and pass that.", error: true)]
    public new Tensor Forward(Tensor x) => throw Symbolic.Error();
}
