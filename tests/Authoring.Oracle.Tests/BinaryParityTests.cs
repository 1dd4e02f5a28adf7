// The binary layers' training kernels against TorchSharp implementations of the reference code's
// definitions (autograd through the usual straight-through trick, x_b = (sign(x) - f(x)).detach() + f(x)):
//   - Larq's ste_sign: f = clamp(u, -1, 1), u = x + bias (ReActNet's LearnableBias before the sign);
//   - Bi-Real / ReActNet's BinaryActivation: f the piecewise quadratic of their code, written as they do;
//   - ReActNet's RPReLU: LearnableBias, nn.PReLU(C), LearnableBias;
//   - scaled binary weights: ReActNet's HardBinaryConv (scale detached, clamp straight through), Larq's
//     magnitude_aware_sign (stop_gradient(scale) * ste_sign(w)) and XNOR-Net's (gradient through the scale);
//   - one whole training-form binary conv (RSign, XNOR weights, fp32 conv on ±1 values) and its packed
//     deploy form against torch's conv of the ±1 tensors.
// The sign is where(u < 0, -1, 1) on both sides (sign(0) = +1): torch.sign would give 0 there.
// Graphs with a convolution run in float64 on the torch side: libtorch's float32 conv2d here is not
// exact even on ±1 inputs (at batch 2 it was off by up to 6 on integer sums of at most 630, which
// looks like a Winograd-type algorithm), so it cannot serve as the reference for an exact kernel.
// Inputs include values with |u| exactly 1 (where the clip's gradient is kept, as torch.clamp's
// backward keeps it) and u exactly 0.
using Authoring.Runtime.Cpu;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Authoring.Oracle.Tests;

public class BinaryParityTests
{
    const int N = 2, C = 5, H = 4, W = 6, Hw = H * W;

    static TorchTensor SignPm(TorchTensor u) => torch.where(u.lt(0), torch.full_like(u, -1f), torch.ones_like(u));

    /// <summary>Larq's ste_sign via the detach trick.</summary>
    static TorchTensor SteSign(TorchTensor u)
    {
        var c = u.clamp(-1f, 1f);
        return (SignPm(u) - c).detach() + c;
    }

    /// <summary>ReActNet's BinaryActivation (training branch), with sign(0) = +1.</summary>
    static TorchTensor ReActSign(TorchTensor x)
    {
        var m1 = x.lt(-1).to(torch.float32);
        var m2 = x.lt(0).to(torch.float32);
        var m3 = x.lt(1).to(torch.float32);
        var out1 = -1f * m1 + (x * x + 2 * x) * (1 - m1);
        var out2 = out1 * m2 + (-x * x + 2 * x) * (1 - m2);
        var out3 = out2 * m3 + 1 * (1 - m3);
        return SignPm(x).detach() - out3.detach() + out3;
    }

    /// <summary>x of shape [N, C, H, W] with u = x + bias landing on 0, ±1, ±0.5 (exactly representable sums) now and then.</summary>
    static float[] Inputs(int seed, float[] bias)
    {
        var x = TorchOracle.Random(N * C * Hw, seed, -2f, 2f);
        float[] spots = [0f, 1f, -1f, 0.5f, -0.5f, 1.5f];
        for (int i = 0; i < x.Length; i += 4) x[i] = spots[i / 4 % spots.Length] - bias[i / Hw % C];
        return x;
    }

    static void Near(float[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"{what}[{i}]: torch {expected[i]}, ours {actual[i]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RSignMatchesTorch(bool approx)
    {
        using var scope = Scope();
        // Biases that are multiples of 1/8 keep x + bias exact, so both sides see the same u.
        float[] bias = [0.25f, -0.5f, 0f, 0.125f, -0.375f];
        var xData = Inputs(approx ? 2 : 1, bias);
        var dyData = TorchOracle.Random(N * C * Hw, 3);
        var x = Leaf(xData, N, C, H, W);
        var b = Leaf(bias, C);
        var u = AddChannel(x, b);
        var y = approx ? ReActSign(u) : SteSign(u);
        var g = Gradients(y, dyData, x, b);

        var yOurs = new float[xData.Length];
        BinaryActivationKernel.SignForward(N, C, Hw, new View(xData, 0, C * Hw), bias, 0, new View(yOurs, 0, C * Hw));
        // (s - c) + c rounds: torch's forward is the sign to within an ulp.
        Near(ToArray(y), yOurs, 2e-7, "y");
        var dx = new float[xData.Length];
        var dBias = new float[C];
        var dxView = new View(dx, 0, C * Hw);
        if (approx)
            BinaryActivationKernel.SignBackward(N, C, Hw, new ApproxSign(), new View(xData, 0, C * Hw), bias, 0, new View(dyData, 0, C * Hw), dxView, false, dBias, 0);
        else
            BinaryActivationKernel.SignBackward(N, C, Hw, new SteSign(1f), new View(xData, 0, C * Hw), bias, 0, new View(dyData, 0, C * Hw), dxView, false, dBias, 0);
        // dx: one product per element (torch forms it through its own chain rule: a few ulps).
        Near(g[0], dx, 1e-6, "dx");
        // dbias: a sum of N*H*W = 48 terms of magnitude <= 2.
        Near(g[1], dBias, 48 * 2 * 6e-8 * 2, "dbias");
        // The boundary cases really occur: some |u| == 1 with a kept gradient (ste) and some u == 0.
        Assert.Contains(xData.Select((v, i) => v + bias[i / Hw % C]), v => Math.Abs(v) == 1f);
    }

    [Fact]
    public void RPReluMatchesTorch()
    {
        using var scope = Scope();
        var b0 = TorchOracle.Random(C, 11, -0.5f, 0.5f);
        var a = TorchOracle.Random(C, 12, 0.05f, 0.5f);
        var b1 = TorchOracle.Random(C, 13, -0.5f, 0.5f);
        var xData = TorchOracle.Random(N * C * Hw, 14, -2f, 2f);
        var dyData = TorchOracle.Random(N * C * Hw, 15);
        var x = Leaf(xData, N, C, H, W);
        var tb0 = Leaf(b0, C); var ta = Leaf(a, C); var tb1 = Leaf(b1, C);
        var y = AddChannel(F.prelu(AddChannel(x, tb0), ta), tb1);
        var g = Gradients(y, dyData, x, tb0, ta, tb1);

        var p = b0.Concat(a).Concat(b1).ToArray();
        var yOurs = new float[xData.Length];
        BinaryActivationKernel.RPReluForward(N, C, Hw, new View(xData, 0, C * Hw), p, 0, C, 2 * C, new View(yOurs, 0, C * Hw));
        Near(ToArray(y), yOurs, 3e-7, "y");
        var dx = new float[xData.Length];
        var gp = new float[3 * C];
        BinaryActivationKernel.RPReluBackward(N, C, Hw, new View(xData, 0, C * Hw), new View(dyData, 0, C * Hw), p, 0, C, 2 * C,
            new View(dx, 0, C * Hw), false, gp, 0, C, 2 * C);
        Near(g[0], dx, 3e-7, "dx");
        // 48 terms of magnitude <= 2.5 per channel.
        Near(g[1], gp[..C], 48 * 2.5 * 6e-8 * 2, "dbias0");
        Near(g[2], gp[C..(2 * C)], 48 * 2.5 * 6e-8 * 2, "dslope");
        Near(g[3], gp[(2 * C)..], 48 * 2.5 * 6e-8 * 2, "dbias1");
    }

    const int Cout = 6, Cin = 7, K = 3;

    /// <summary>The reference's scaled binary weights for one <paramref name="mode"/>.</summary>
    static TorchTensor TorchBinaryWeights(TorchTensor w, WeightGradient mode)
    {
        var alpha = w.abs().mean([1, 2, 3], keepdim: true);
        switch (mode)
        {
            case WeightGradient.Clip:
                {
                    // ReActNet's HardBinaryConv, training branch.
                    var a = alpha.detach();
                    var noGrad = a * SignPm(w);
                    var clipped = torch.clamp(w, -1f, 1f);
                    return noGrad.detach() - clipped.detach() + clipped;
                }
            case WeightGradient.ScaledClip:
                return alpha.detach() * SteSign(w);
            default:
                return alpha * SteSign(w);
        }
    }

    static float[] Weights(int seed)
    {
        var w = TorchOracle.Random(Cout * Cin * K * K, seed, -1.5f, 1.5f);
        for (int i = 0; i < w.Length; i += 5) w[i] = (i / 5 % 4) switch { 0 => 1f, 1 => -1f, 2 => 0.5f, _ => 0f };
        return w;
    }

    [Theory]
    [InlineData(WeightGradient.Clip)]
    [InlineData(WeightGradient.ScaledClip)]
    [InlineData(WeightGradient.Full)]
    public void ScaledBinaryWeightsMatchTorch(WeightGradient mode)
    {
        using var scope = Scope();
        var wData = Weights(21);
        var dwbData = TorchOracle.Random(wData.Length, 22);
        var w = Leaf(wData, Cout, Cin, K, K);
        var wb = TorchBinaryWeights(w, mode);
        var g = Gradients(wb, dwbData, w);

        int k = Cin * K * K;
        var wbOurs = new float[wData.Length];
        var alpha = new float[Cout];
        BinaryWeightKernel.Forward(Cout, k, wData, 0, wbOurs, 0, alpha, 0);
        // alpha: torch's float mean of 63 terms against ours in double.
        Near(ToArray(wb), wbOurs, 63 * 6e-8, "wb");
        var dw = new float[wData.Length];
        BinaryWeightKernel.Backward(Cout, k, mode, 1f, wData, 0, dwbData, 0, alpha, 0, dw, 0);
        // Full: a mean of 63 products of magnitude <= 1 added to each element.
        Near(g[0], dw, mode == WeightGradient.Full ? 63 * 6e-8 * 2 : 2e-7, "dw");
    }

    /// <summary>A whole training-form binary conv (ReActNet's block core: RSign, HardBinaryConv with XNOR scales, ApproxSign)
    /// on our kernels (sign, binary weights, fp32 conv) against the same graph in torch: output and all three gradients.</summary>
    [Fact]
    public void TrainingBinaryConvMatchesTorch()
    {
        using var scope = Scope();
        var s = new Conv2dShape(C, H, W, Cout, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        float[] bias = [0.25f, -0.5f, 0f, 0.125f, -0.375f];
        var xData = Inputs(31, bias);
        var wData = TorchOracle.Random(s.WeightSize, 32, -1.2f, 1.2f);
        var dyData = TorchOracle.Random(N * s.OutSize, 33);
        var x = Leaf(xData, N, C, H, W);
        var tb = Leaf(bias, C);
        var tw = Leaf(wData, Cout, C, 3, 3);
        var y = Conv2d(ReActSign(AddChannel(x, tb)).to(torch.float64), TorchBinaryWeights(tw, WeightGradient.Clip).to(torch.float64), null, padding: 1)
            .to(torch.float32);
        var g = Gradients(y, dyData, x, tb, tw);

        var xb = new float[xData.Length];
        var xv = new View(xData, 0, s.InSize);
        BinaryActivationKernel.SignForward(N, C, Hw, xv, bias, 0, new View(xb, 0, s.InSize));
        var wb = new float[s.WeightSize];
        var alpha = new float[Cout];
        BinaryWeightKernel.Forward(Cout, C * 9, wData, 0, wb, 0, alpha, 0);
        var yOurs = new float[N * s.OutSize];
        Conv2dKernel.Forward<Identity>(s, N, new View(xb, 0, s.InSize), wb, 0, null, 0, null, 0, new View(yOurs, 0, s.OutSize));
        // 45 products of magnitude alpha <= 1.2 per output.
        Near(ToArray(y), yOurs, 45 * 1.2 * 6e-8 * 4, "y");

        var dxb = new float[xData.Length];
        var dwb = new float[s.WeightSize];
        var dyv = new View(dyData, 0, s.OutSize);
        Conv2dKernel.BackwardData(s, N, dyv, wb, 0, new View(dxb, 0, s.InSize), false);
        Conv2dKernel.BackwardWeights(s, N, new View(xb, 0, s.InSize), dyv, dwb, 0);
        var dx = new float[xData.Length];
        var dBias = new float[C];
        BinaryActivationKernel.SignBackward(N, C, Hw, new ApproxSign(), xv, bias, 0, new View(dxb, 0, s.InSize), new View(dx, 0, s.InSize), false, dBias, 0);
        var dw = new float[s.WeightSize];
        BinaryWeightKernel.Backward(Cout, C * 9, WeightGradient.Clip, 1f, wData, 0, dwb, 0, alpha, 0, dw, 0);
        Near(g[0], dx, 54 * 1.2 * 6e-8 * 8, "dx");
        Near(g[1], dBias, 48 * 54 * 1.2 * 6e-8 * 4, "dbias");
        Near(g[2], dw, 48 * 6e-8 * 4, "dw");
    }

    /// <summary>The deploy form: torch's conv of sign(x + bias) and sign(w), times alpha, then BatchNorm (eval), against our
    /// packed kernel with alpha and BatchNorm folded into the epilogue and the RSign bias into the packing threshold.</summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    public void PackedDeployConvMatchesTorch(int stride, int n)
    {
        using var scope = Scope();
        var s = new Conv2dShape(70, 9, 7, 20, 3, 3, stride, stride, 1, 1, 1, 1, 1);
        var bias = TorchOracle.Random(s.Cin, 41, -0.3f, 0.3f);
        var xData = TorchOracle.Random(n * s.InSize, 42, -1f, 1f);
        var wData = TorchOracle.Random(s.WeightSize, 43, -1f, 1f);
        var gamma = TorchOracle.Random(s.Cout, 44, 0.5f, 1.5f);
        var beta = TorchOracle.Random(s.Cout, 45);
        var mean = TorchOracle.Random(s.Cout, 46);
        var varv = TorchOracle.Random(s.Cout, 47, 0.5f, 2f);
        var x = Constant(xData, n, s.Cin, s.H, s.W);
        var w = Constant(wData, s.Cout, s.Cin, 3, 3);
        var alphaT = w.abs().mean([1, 2, 3], keepdim: true);
        var conv = Conv2d(SignPm(AddChannel(x, Constant(bias, s.Cin))).to(torch.float64), SignPm(w).to(torch.float64), null, stride: stride, padding: 1)
            .to(torch.float32);
        var y = BatchNormEval(MulChannel(conv, alphaT.reshape(s.Cout)), Constant(gamma, s.Cout), Constant(beta, s.Cout),
            Constant(mean, s.Cout), Constant(varv, s.Cout));
        var expected = ToArray(Relu(y));

        var alpha = new float[s.Cout];
        BinaryWeightKernel.Forward(s.Cout, s.Cin * 9, wData, 0, new float[s.WeightSize], 0, alpha, 0);
        var scale = new float[s.Cout];
        var shift = new float[s.Cout];
        var p = gamma.Concat(beta).Concat(mean).Concat(varv).ToArray();
        BatchNormKernel.FoldEval(s.Cout, p, 0, s.Cout, 2 * s.Cout, 3 * s.Cout, 1e-5f, null, 0, scale, 0, shift, 0);
        for (int c = 0; c < s.Cout; c++) scale[c] *= alpha[c];
        var packedW = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, wData, 0, packedW, 0);
        var sums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, packedW, 0, sums, 0);
        int words = BitPack.ActivationWords(s.Cin, s.H, s.W);
        var xb = new BitView(new ulong[n * words], 0, words);
        BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(xData, 0, s.InSize), bias.Select(b => -b).ToArray(), 0, xb);
        var ours = new float[n * s.OutSize];
        BinaryConvKernel.Forward<Relu>(s, n, xb, packedW, 0, sums, 0, scale, 0, shift, 0, new View(ours, 0, s.OutSize));
        // |dot| <= 630: torch sums it exactly in float, then alpha, BatchNorm: a few roundings of values up to ~600 * 1.5.
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - ours[i]) <= 1e-6 * Math.Max(1, 630 * 1.5), $"[{i}]: torch {expected[i]}, ours {ours[i]}");
    }
}
