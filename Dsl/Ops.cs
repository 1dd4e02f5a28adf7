// The functional op surface of a Forward method. Bring it in with `using static Authoring.Ops;`.
namespace Authoring;

/// <summary>Stateless ops usable in a model's Forward method. All are symbolic.</summary>
public static class Ops
{
    /// <summary>Binarising sign: -1 where x &lt; 0, else +1 (sign(0) = +1). Its backward is a straight-through estimator
    /// (<paramref name="estimator"/>; the clipped identity cuts off at |x| &gt; <paramref name="clip"/>). Binary layers
    /// (<see cref="BinaryConv2d"/>, <see cref="BinaryLinear"/>) read its output.</summary>
    public static Tensor Sign(Tensor x, SignEstimator estimator = SignEstimator.Ste, float clip = 1f) => throw Symbolic.Error();
    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor x) => throw Symbolic.Error();
    /// <summary>min(max(x, 0), 6).</summary>
    public static Tensor Relu6(Tensor x) => throw Symbolic.Error();
    /// <summary>x * relu6(x + 3) / 6.</summary>
    public static Tensor HardSwish(Tensor x) => throw Symbolic.Error();
    /// <summary>relu6(x + 3) / 6.</summary>
    public static Tensor HardSigmoid(Tensor x) => throw Symbolic.Error();
    /// <summary>1 / (1 + exp(-x)).</summary>
    public static Tensor Sigmoid(Tensor x) => throw Symbolic.Error();
    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => throw Symbolic.Error();
    /// <summary>GELU, x * Phi(x): <paramref name="approximate"/> "none" (exact, with erf) or "tanh", as PyTorch's <c>F.gelu</c>.</summary>
    public static Tensor Gelu(Tensor x, string approximate = "none") => throw Symbolic.Error();
    /// <summary>SiLU (swish): x * sigmoid(x).</summary>
    public static Tensor Silu(Tensor x) => throw Symbolic.Error();
    /// <summary>ELU: x for x &gt; 0, else alpha * (exp(x) - 1).</summary>
    public static Tensor Elu(Tensor x, float alpha = 1f) => throw Symbolic.Error();
    /// <summary>exp(x).</summary>
    public static Tensor Exp(Tensor x) => throw Symbolic.Error();
    /// <summary>Element-wise sum, with PyTorch broadcasting; a (C) vector against (C, H, W) follows the channels (also <c>a + b</c>).</summary>
    public static Tensor Add(Tensor a, Tensor b) => throw Symbolic.Error();
    /// <summary>Element-wise difference, with broadcasting (also <c>a - b</c>).</summary>
    public static Tensor Sub(Tensor a, Tensor b) => throw Symbolic.Error();
    /// <summary>Element-wise product, with broadcasting (also <c>a * b</c>).</summary>
    public static Tensor Mul(Tensor a, Tensor b) => throw Symbolic.Error();
    /// <summary>Element-wise quotient, with broadcasting (also <c>a / b</c>).</summary>
    public static Tensor Div(Tensor a, Tensor b) => throw Symbolic.Error();
    /// <summary>Concatenation along the first per-sample axis (the channels of (C, H, W)); the parts are written into one
    /// buffer, no copy.</summary>
    public static Tensor Concat(params Tensor[] parts) => throw Symbolic.Error();
    /// <summary>Concatenation along per-sample axis <paramref name="axis"/> (negative counts from the end), as PyTorch's
    /// <c>torch.cat(parts, dim=axis + 1)</c>; the parts agree on every other axis. Along an inner axis the parts are
    /// copied into place.</summary>
    public static Tensor Concat(Tensor[] parts, int axis) => throw Symbolic.Error();
    /// <summary>Indices [start, start + count) of per-sample axis <paramref name="axis"/> (negative counts from the end;
    /// default the first axis, the channels of (C, H, W)), as PyTorch's <c>x.narrow(axis + 1, start, count)</c>. Along the
    /// first axis it is a view; along an inner axis a copy.</summary>
    public static Tensor Slice(Tensor x, int start, int count, int axis = 0) => throw Symbolic.Error();
    /// <summary>Softmax over the last axis, as PyTorch's <c>F.softmax(x, dim=-1)</c>, for every leading axis.</summary>
    public static Tensor Softmax(Tensor x) => throw Symbolic.Error();
    /// <summary>Matrix product of per-sample matrices, as PyTorch's <c>torch.matmul</c> on (..., M, K) and (..., K, N) with
    /// equal leading axes (e.g. attention heads): (..., M, N). <paramref name="transposeA"/> / <paramref name="transposeB"/>
    /// read an operand with its last two axes swapped (no copy): <c>MatMul(q, k, transposeB: true)</c> is q kᵀ.</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false) => throw Symbolic.Error();
    /// <summary>Multi-head softmax attention, as PyTorch's <c>F.scaled_dot_product_attention</c> on q, k, v split into
    /// <paramref name="heads"/> heads: softmax(q kᵀ / sqrt(D / heads)) v per head, with <paramref name="causal"/> query i
    /// seeing keys j &lt;= i. q, k and v are (N, D) token matrices, head h in columns [h D / heads, (h + 1) D / heads);
    /// the result is (N, D) in the same layout. Memory stays O(N): the N x N scores are never stored.</summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, int heads, bool causal = false) => throw Symbolic.Error();
    /// <summary>Multi-head linear attention ("Transformers are RNNs"): y_i = φ(q_i)ᵀ S / (φ(q_i)ᵀ z + 1e-6) per head,
    /// S = Σ_j φ(k_j) v_jᵀ, z = Σ_j φ(k_j) over every key or (<paramref name="causal"/>) keys j &lt;= i. The feature map
    /// φ is <paramref name="featureMap"/> "elu" (elu(x) + 1, Katharopoulos et al.) or "relu" (SLAB's simplified linear
    /// attention kernel). q, k, v and the result are (N, D) token matrices laid out as for
    /// <see cref="ScaledDotProductAttention"/>. Time and memory grow linearly in N.</summary>
    public static Tensor LinearAttention(Tensor q, Tensor k, Tensor v, int heads, string featureMap = "elu", bool causal = false) => throw Symbolic.Error();
    /// <summary>Per-sample axes <paramref name="a"/> and <paramref name="b"/> swapped (negative axes count from the end), as
    /// PyTorch's <c>x.transpose(a + 1, b + 1).contiguous()</c>.</summary>
    public static Tensor Transpose(Tensor x, int a, int b) => throw Symbolic.Error();
    /// <summary>Mean over per-sample axis <paramref name="axis"/> (negative counts from the end), as PyTorch's
    /// <c>x.mean(axis + 1, keepdim)</c>; <paramref name="keepDim"/> keeps the axis with length 1.</summary>
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => throw Symbolic.Error();
    /// <summary>Sum over per-sample axis <paramref name="axis"/> (negative counts from the end), as PyTorch's
    /// <c>x.sum(axis + 1, keepdim)</c>; <paramref name="keepDim"/> keeps the axis with length 1.</summary>
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => throw Symbolic.Error();
    /// <summary>Mean over H and W: (C, H, W) to (C).</summary>
    public static Tensor GlobalAvgPool(Tensor x) => throw Symbolic.Error();
    /// <summary>(C, H, W) to (C*H*W).</summary>
    public static Tensor Flatten(Tensor x) => throw Symbolic.Error();
    /// <summary>Same elements, new per-sample shape.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape) => throw Symbolic.Error();
    /// <summary>Max pooling; stride 0 means the kernel size.</summary>
    public static Tensor MaxPool(Tensor x, int kernel, int stride = 0, int padding = 0) => throw Symbolic.Error();
    /// <summary>Nearest-neighbour resize of a (C, H, W) tensor to (C, <paramref name="height"/>, <paramref name="width"/>),
    /// up or down, as PyTorch's <c>F.interpolate(x, size=(height, width), mode='nearest')</c>: output row i reads
    /// input row min(floor(i * (float)H / height), H - 1), and likewise for columns.</summary>
    public static Tensor UpsampleNearest(Tensor x, int height, int width) => throw Symbolic.Error();
    /// <summary>Average pooling; stride 0 means the kernel size.</summary>
    public static Tensor AvgPool(Tensor x, int kernel, int stride = 0, int padding = 0) => throw Symbolic.Error();
    /// <summary>Direct encoding: (...) to (T, ...), the input repeated at every one of <paramref name="steps"/> time
    /// steps (SpikingJelly's <c>x.unsqueeze(0).repeat(T, 1, ...)</c>, with T first per sample). Per-step layers between
    /// a Repeat and a neuron (conv, BatchNorm, pools, activations...) run once per sample rather than T times, as
    /// SpikingJelly's tutorials apply their static conv before repeating; BatchNorm's statistics are then those of the N
    /// samples, as in the tutorial.</summary>
    public static Tensor Repeat(Tensor x, int steps) => throw Symbolic.Error();
    /// <summary>Poisson (rate) encoding: (...) to (T, ...) spikes, 1 where u &lt;= x for a uniform u drawn per element and
    /// step (SpikingJelly's <c>encoding.PoissonEncoder</c>); x holds firing probabilities in [0, 1]. Training steps draw
    /// from the model's dropout seed and step counter, inference calls from a counter of their own; both backends draw
    /// the same spikes. No gradient flows to x.</summary>
    public static Tensor Poisson(Tensor x, int steps) => throw Symbolic.Error();
    /// <summary>Readout: the mean over the time axis, (T, ...) to (...) (SpikingJelly's <c>out_fr = x_seq.mean(0)</c>):
    /// the firing rate of a spiking output layer.</summary>
    public static Tensor MeanOverTime(Tensor x) => throw Symbolic.Error();
}
