// Ready-made efficient-CNN blocks. Each is a composite layer: the model compiler expands `field.Forward(x)`
// into the primitive layers and ops of the block's reference PyTorch code (train-time form), and names the
// sub-layers' parameters as that code's state_dict does, prefixed by the field name, so weights trained in
// PyTorch load by name. Like the other layers, these classes only remember their arguments.
namespace Authoring;

/// <summary>GhostNet's Ghost module (huawei-noah ghostnet_pytorch): a primary convolution makes
/// init = ceil(out / ratio) channels, a cheap grouped convolution makes init * (ratio - 1) more from them,
/// and the first <c>outChannels</c> of their concatenation are the output (no copy: both write into one buffer).
/// Parameters: <c>primary_conv.0</c> (conv), <c>primary_conv.1</c> (BatchNorm), <c>cheap_operation.0</c>,
/// <c>cheap_operation.1</c>. With <c>attention: true</c> it is GhostNetV2's 'attn' module (DFC attention):
/// the output is multiplied by the nearest-upsampled sigmoid of <c>short_conv</c> (conv kernel, BN,
/// 1x5 depthwise, BN, 5x1 depthwise, BN) applied to the 2x2-average-pooled input.</summary>
public sealed class GhostModule(int inChannels, int outChannels, int kernel = 1, int ratio = 2, int dwSize = 3, int stride = 1,
    bool relu = true, bool attention = false) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel of the primary convolution (padding kernel / 2).</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Output channels per primary channel (at least 2).</summary>
    public int Ratio { get; } = ratio;
    /// <summary>Kernel of the cheap operation (odd; padding dwSize / 2).</summary>
    public int DwSize { get; } = dwSize;
    /// <summary>Stride of the primary convolution.</summary>
    public int Stride { get; } = stride;
    /// <summary>Whether both halves end with a ReLU.</summary>
    public bool Relu { get; } = relu;
    /// <summary>GhostNetV2's DFC attention ('attn' mode).</summary>
    public bool Attention { get; } = attention;
}

/// <summary>GhostNet's bottleneck (huawei-noah ghostnet_pytorch): <c>ghost1</c> (GhostModule in -> mid, ReLU),
/// for stride &gt; 1 a depthwise <c>conv_dw</c> + <c>bn_dw</c>, for seRatio &gt; 0 squeeze-excite <c>se</c>
/// (<c>conv_reduce</c>, ReLU, <c>conv_expand</c>, hard sigmoid gate), <c>ghost2</c> (GhostModule mid -> out,
/// no ReLU), plus the shortcut: identity when in == out and stride == 1, else <c>shortcut.0</c>-<c>.3</c>
/// (depthwise conv, BN, 1x1 conv, BN). <c>attention</c> gives ghost1 GhostNetV2's DFC attention.</summary>
public sealed class GhostBottleneck(int inChannels, int midChannels, int outChannels, int dwKernel = 3, int stride = 1,
    float seRatio = 0f, bool attention = false) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Channels between the two Ghost modules.</summary>
    public int MidChannels { get; } = midChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel of the depthwise convolutions (padding (dwKernel - 1) / 2).</summary>
    public int DwKernel { get; } = dwKernel;
    /// <summary>Stride of the block.</summary>
    public int Stride { get; } = stride;
    /// <summary>Squeeze-excite reduction (0: none); reduced channels are _make_divisible(mid * seRatio, 4).</summary>
    public float SeRatio { get; } = seRatio;
    /// <summary>DFC attention in ghost1 (GhostNetV2).</summary>
    public bool Attention { get; } = attention;
}

/// <summary>RepVGG's block (DingXiaoH/RepVGG), train-time form:
/// relu(rbr_dense(x) + rbr_1x1(x) + rbr_identity(x)), where <c>rbr_dense</c> is a 3x3 conv (padding 1) + BN,
/// <c>rbr_1x1</c> a 1x1 conv + BN (each as <c>.conv</c> and <c>.bn</c>) and <c>rbr_identity</c> a BatchNorm,
/// present only when in == out and stride == 1.</summary>
public sealed class RepVggBlock(int inChannels, int outChannels, int stride = 1, int groups = 1) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Stride of both convolutions.</summary>
    public int Stride { get; } = stride;
    /// <summary>Groups of both convolutions.</summary>
    public int Groups { get; } = groups;
}

/// <summary>MobileOne's block (apple/ml-mobileone), train-time form: relu(rbr_scale(x) + rbr_skip(x) +
/// sum of rbr_conv[i](x)), where each <c>rbr_conv.i</c> is a kernel x kernel conv + BN (<c>.conv</c>,
/// <c>.bn</c>), <c>rbr_scale</c> a 1x1 conv + BN present when kernel &gt; 1, and <c>rbr_skip</c> a BatchNorm
/// present when in == out and stride == 1. The paper's MobileOne block is a depthwise one
/// (groups = in, kernel 3, padding 1) followed by a pointwise one (kernel 1).</summary>
public sealed class MobileOneBlock(int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, int groups = 1,
    int branches = 1) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel of the conv branches.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride of every branch.</summary>
    public int Stride { get; } = stride;
    /// <summary>Padding of the conv branches.</summary>
    public int Padding { get; } = padding;
    /// <summary>Groups of every conv.</summary>
    public int Groups { get; } = groups;
    /// <summary>Number of parallel kernel x kernel conv branches (the paper's k).</summary>
    public int Branches { get; } = branches;
}

/// <summary>RepGhost's module (ChengpengChen/RepGhost), train-time form with reparam_bn: x1 =
/// <c>primary_conv</c> (conv, BN, ReLU if relu); the output is cheap_operation(x1) (depthwise conv, BN)
/// + <c>fusion_bn.0</c>(x1), then ReLU if relu. The add replaces GhostNet's concat.</summary>
public sealed class RepGhostModule(int inChannels, int outChannels, int kernel = 1, int dwSize = 3, int stride = 1,
    bool relu = true) : Layer
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel of the primary convolution (padding kernel / 2).</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Kernel of the cheap depthwise convolution (padding dwSize / 2).</summary>
    public int DwSize { get; } = dwSize;
    /// <summary>Stride of the primary convolution.</summary>
    public int Stride { get; } = stride;
    /// <summary>Whether the primary output and the module output get a ReLU.</summary>
    public bool Relu { get; } = relu;
}

/// <summary>A pre-norm transformer block as timm's ViT <c>Block</c>, on (N, dim) tokens:
/// x + attn.proj(attention(attn.qkv(norm1(x)))), then x + mlp.fc2(gelu(mlp.fc1(norm2(x)))), with parameters
/// <c>norm1</c>, <c>attn.qkv</c> (q, k, v as consecutive dim-wide slices), <c>attn.proj</c>, <c>norm2</c>,
/// <c>mlp.fc1</c>, <c>mlp.fc2</c>. <paramref name="attention"/> "linear" is <see cref="Ops.LinearAttention"/> with
/// <paramref name="featureMap"/>, "softmax" is <see cref="Ops.ScaledDotProductAttention"/>. With
/// <paramref name="dwcKernel"/> &gt; 0 (odd; N a square) it is SLAB's simplified linear attention: the attention output
/// gains a depthwise conv of v over the token grid, <c>attn.dwc</c> (head size channels, shared by the heads, as the
/// reference's <c>dwc</c>). The MLP's hidden size is (int)(dim * mlpRatio). <paramref name="norm"/> "prepbn" makes
/// norm1 and norm2 SLAB's progressive re-parameterized BatchNorm (LinearNorm of LayerNorm <c>normX.norm1</c> and RepBN
/// <c>normX.norm2</c> = BatchNorm1d <c>normX.norm2.bn</c> + <c>normX.norm2.alpha</c> * x, buffers <c>normX.warm</c>,
/// <c>normX.iter</c>, <c>normX.total_step</c>): in training the first <paramref name="warmSteps"/> steps use the
/// LayerNorm, then lambda = iter / <paramref name="totalSteps"/> falls to 0 one step at a time and the output is
/// lambda LN(x) + (1 - lambda) RepBN(x); evaluation is RepBN, which the deploy model folds into attn.qkv and mlp.fc1.</summary>
public sealed class TransformerBlock(int dim, int heads, float mlpRatio = 4f, string attention = "linear", string featureMap = "elu",
    bool causal = false, bool qkvBias = true, float eps = 1e-5f, int dwcKernel = 0, string norm = "layernorm", int warmSteps = 0,
    int totalSteps = 1) : Layer
{
    /// <summary>Features per token.</summary>
    public int Dim { get; } = dim;
    /// <summary>Attention heads (dividing dim).</summary>
    public int Heads { get; } = heads;
    /// <summary>MLP hidden size over dim.</summary>
    public float MlpRatio { get; } = mlpRatio;
    /// <summary>"linear" or "softmax".</summary>
    public string Attention { get; } = attention;
    /// <summary>Linear attention's feature map, "elu" (elu(x) + 1) or "relu".</summary>
    public string FeatureMap { get; } = featureMap;
    /// <summary>Whether token i attends to tokens j &lt;= i only.</summary>
    public bool Causal { get; } = causal;
    /// <summary>Whether attn.qkv has a bias.</summary>
    public bool QkvBias { get; } = qkvBias;
    /// <summary>LayerNorm epsilon (timm's ViT uses 1e-6).</summary>
    public float Eps { get; } = eps;
    /// <summary>Kernel of SLAB's depthwise conv of v over the token grid; 0 for none.</summary>
    public int DwcKernel { get; } = dwcKernel;
    /// <summary>"layernorm" or "prepbn".</summary>
    public string Norm { get; } = norm;
    /// <summary>PRepBN: training steps that use the LayerNorm alone.</summary>
    public int WarmSteps { get; } = warmSteps;
    /// <summary>PRepBN: steps over which lambda falls from 1 to 0 after the warm-up.</summary>
    public int TotalSteps { get; } = totalSteps;
}
