// Generated models over values of rank 1 to 4 against PyTorch (the check of ModelParityTests: evaluation logits at
// batch 3 and 1, two training steps' loss, hits, every gradient and the running statistics, tolerance 1e-4 of each
// tensor's scale as justified there). The models of Models/RankModels.cs (leading axes folded into the batch, the
// element-wise ops, broadcasting) and of Models/TensorOpModels.cs (LayerNorm, Softmax, MatMul, Transpose, Mean/Sum,
// Concat and Slice on inner axes, Reshape through 4-D, a transformer-style block), each mirrored by hand with torch
// ops on [n, ...] tensors: a per-sample axis a is torch dim a + 1, and layers that fold leading axes see a reshape.
using Authoring.Models.Tests.Models;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class RankParityTests
{
    static TorchTensor Silu(TorchTensor x) => F.silu(x);
    static TorchTensor Gelu(TorchTensor x) => F.gelu(x);

    /// <summary>PyTorch's approximate='tanh' GELU, written from its definition.</summary>
    static TorchTensor GeluTanh(TorchTensor x) => x * 0.5 * (torch.tanh((x + x * x * x * 0.044715) * Math.Sqrt(2 / Math.PI)) + 1);

    static TorchTensor Elu(TorchTensor x, double alpha = 1) => F.elu(x, alpha);

    static TorchTensor Softmax(TorchTensor x) => torch.softmax(x, -1);

    static long N(TorchTensor x) => x.shape[0];

    // ---- Models/RankModels.cs ------------------------------------------------------------------

    [Fact]
    public void TimeMajorConvPoolsLinearBatchNorm1dGelu() => ModelParityTests.Check(new TimeConv(), (m, x) =>
    {
        long n = N(x);
        var h = Relu(m.BatchNorm("bn", m.Conv("conv", x.reshape(n * 3, 2, 5, 5), padding: 1)));   // time folded into the batch
        h = AvgPool2d(MaxPool2d(h, 2, stride: 1), 2);
        var t = TorchModel.GlobalAvgPool(h);                                                        // (n * 3, 4)
        var z = Gelu(m.BatchNorm("bn1", m.Linear("fc", t)));                                       // (n * 3, 5)
        return m.Linear("head", z.reshape(n, 15));
    });

    [Fact]
    public void TokensLinearScalarArithmeticRowAndColumnBroadcast() => ModelParityTests.Check(new TokenMlp(), (m, x) =>
    {
        long n = N(x);
        var h = Silu(m.Linear("up", x)) * 0.5 + 1;
        var r = m.Linear("down", h) - 0.25;
        var row = Narrow(x, 1, 1, 1);                                                               // (n, 1, 6)
        var col = Tanh(m.Linear("gate", x));                                                        // (n, 5, 1)
        var y = (r + row) * col - x / 2;
        var q = y / (col * col + 1.5) + (1 - x) * -x;
        return m.Linear("head", (2 / (q * q + 1) + torch.exp(q * 0.1)).reshape(n, 30));
    });

    [Fact]
    public void SmoothActivationsFusedAndInTrees() => ModelParityTests.Check(new SmoothActs(), (m, x) =>
    {
        var h = GeluTanh(m.BatchNorm("bn", m.Conv("conv", x, padding: 1)));
        var f = Silu(m.Linear("fc1", Flatten(h)));
        var g = Elu(m.Linear("fc2", f)) + Elu(f, 0.5) * Gelu(f);
        return m.Linear("fc3", g - torch.exp(-g * g));
    }, zeroGrads: new[] { "conv" });   // conv.bias: bn removes its per-channel shift

    [Fact]
    public void OuterProductBroadcastAndTwoPlacementsOfOneValue() => ModelParityTests.Check(new OuterBroadcast(), (m, x) =>
    {
        long n = N(x);
        var t = m.Linear("mix", TorchModel.GlobalAvgPool(x));                                     // (n, 4)
        var gate = Sigmoid(t).reshape(n, 4, 1, 1);
        var p = m.Linear("plane", Flatten(x)).reshape(n, 1, 4, 4);
        var outer = gate * p;                                                                       // (n, 4, 4, 4)
        // t against (4, 4, 4) follows the channels; against (1, 4, 4) it lies on the last axis (right-aligned).
        var y = outer * t.reshape(n, 4, 1, 1) + (p + t.reshape(n, 1, 1, 4));
        return m.Linear("head", Flatten(y));
    });

    [Fact]
    public void TimeSliceIntoFoldingConvIsCopiedDense() => ModelParityTests.Check(new SlicedTime(), (m, x) =>
    {
        long n = N(x);
        var h = Tanh(m.Conv("first", x.reshape(n * 4, 2, 3, 3))).reshape(n, 4, 3, 3, 3);
        var mid = Narrow(h, 1, 1, 2).reshape(n * 2, 3, 3, 3);
        var y = TorchModel.GlobalAvgPool(m.Conv("second", mid, padding: 1)).reshape(n, 4);
        var all = TorchModel.GlobalAvgPool(h.reshape(n * 4, 3, 3, 3)).reshape(n, 12);
        return m.Linear("head", y + Narrow(all, 1, 0, 4));
    });

    // ---- Models/TensorOpModels.cs --------------------------------------------------------------

    [Fact]
    public void LayerNormAffineNoBiasPlainAnd4d() => ModelParityTests.Check(new LayerNormTokens(), (m, x) =>
    {
        long n = N(x);
        var h = m.Linear("fc", m.LayerNorm("ln", x, 6));
        var a = m.LayerNorm("lnNoBias", h, 7, eps: 1e-3) + m.LayerNorm("lnPlain", h * h, 7) * 0.5;
        var d = m.LayerNorm("ln4d", (x * 1.5 + 0.25).reshape(n, 3, 1, 2, 5), 5);
        return m.Linear("head", Cat(1, Flatten(Tanh(a)), Flatten(d)));
    });

    [Fact]
    public void SoftmaxLastAxis() => ModelParityTests.Check(new SoftmaxRows(), (m, x) =>
    {
        var both = Cat(1, m.Linear("mix", x), x);
        var p = Softmax(m.Linear("score", both) * 2);
        return m.Linear("head", Flatten(p * both + Softmax(both)));
    });

    [Fact]
    public void MatMulEveryTransposeAndSharedOperand() => ModelParityTests.Check(new MatMulVariants(), (m, x) =>
    {
        static TorchTensor T(TorchTensor t) => t.transpose(-2, -1);
        var a = m.Linear("fa", x);
        var b = Tanh(m.Linear("fb", x));
        var s = torch.matmul(a, T(b));
        var g = torch.matmul(T(a), b);
        var c = torch.matmul(s, a);
        var t = torch.matmul(T(a), T(s));
        var gram = torch.matmul(b, T(b));
        return m.Linear("head", Cat(1, Flatten(c), Flatten(g), Flatten(t), Flatten(torch.matmul(g, T(a))), Flatten(gram)));
    });

    [Fact]
    public void TransposeMeanSumConcatSliceOnInnerAxes() => ModelParityTests.Check(new AxisOps(), (m, x) =>
    {
        long n = N(x);
        var h = Tanh(m.Linear("f", x));                                                             // (n, 2, 3, 4)
        var t = h.transpose(1, 3);
        var mm = h.mean(new long[] { 2 });
        var s = (h * x).sum(-1, keepdim: true);
        var c = Cat(-1, h, x * h);
        var sl = Narrow(c, -1, 2, 5);
        var mid = Narrow(h, 2, 1, 2);
        var t4 = h.reshape(n, 2, 3, 2, 2).transpose(2, 3);
        var col = mm.reshape(n, 1, 8).transpose(1, 2);
        var one = Cat(2, mm.reshape(n, 1, 8), x.reshape(n, 1, 24));
        var row = Narrow(one, 2, 4, 16);
        return m.Linear("head", Cat(1, Flatten(t), Flatten(mm), Flatten(s), Flatten(sl), Flatten(sl.sum(1)),
            Flatten(mid), Flatten(t4), Flatten(col * col), Flatten(row)));
    });

    [Fact]
    public void ReshapeThroughA4dValue() => ModelParityTests.Check(new RankReshape(), (m, x) =>
    {
        long n = N(x);
        var v = Tanh(m.Linear("f", x)).reshape(n, 2, 3, 2, 2);
        var t = v.transpose(2, 4).reshape(n, 6, 4);
        return m.Linear("head", Flatten(m.LayerNorm("ln", t, 4)) + x);
    });

    [Fact]
    public void TinyTransformerBlock() => ModelParityTests.Check(new TinyTransformer(), (m, x) =>
    {
        long n = N(x);
        TorchTensor Heads(TorchTensor t) => t.reshape(n, 6, 2, 4).transpose(1, 2);                // (n, H, N, Dh)
        var h = m.LayerNorm("ln1", x, 8);
        var qh = Heads(m.Linear("q", h));
        var kh = Heads(m.Linear("k", h));
        var vh = Heads(m.Linear("v", h));
        var att = Softmax(torch.matmul(qh, kh.transpose(-2, -1)) * 0.5);
        var ctx = torch.matmul(att, vh).transpose(1, 2).reshape(n, 6, 8);
        var r = x + m.Linear("o", ctx);
        return m.Linear("head", m.LayerNorm("ln2", r, 8).mean(new long[] { 1 }));
    });
}
