// PackedBinaryConv (the deploy form of a binary conv) against the latent model's binarised forward, on random
// latent weights and inputs, with zero padding, stride and Cin / Cout that are not multiples of the packing widths:
//   - the popcount part bit for bit: its integer dot products equal the fp32 training kernels' conv of sign(w)
//     (BinaryWeightKernel without scale) with the ±1 input (BinaryActivationKernel's RSign), which are exact integers
//     in float (|dot| <= Cin Kh Kw < 2^24), and equal a direct integer reference;
//   - the scaled output (XNOR alpha, bias, BatchNorm, Bi-Real residual) against the same definition in double:
//     a few float roundings of values of magnitude <= scale * Cin Kh Kw, so 1e-5 of the largest magnitude (~100x the
//     float round-off) and a wrong sign, tap or channel is an O(1) error.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public class PackedBinaryConvTests
{
    static float[] Uniform(Random rng, int count, float lo, float hi)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return a;
    }

    [Theory]
    [InlineData(2, 5, 7, 6, 3, 1, 1)]     // odd everything, padded
    [InlineData(1, 64, 64, 7, 3, 1, 1)]   // the sample's 7x7 block, batch 1
    [InlineData(3, 70, 17, 9, 3, 2, 1)]   // two input words, strided
    [InlineData(2, 8, 5, 6, 1, 1, 0)]     // 1x1
    public void PackedEqualsLatentBinarisedForward(int n, int cin, int cout, int hw, int k, int stride, int pad)
    {
        var rng = new Random(cin * 31 + cout * 7 + hw + k);
        var s = new Conv2dShape(cin, hw, hw, cout, k, k, stride, stride, pad, pad, 1, 1, 1);
        int inSize = cin * hw * hw, outSize = s.OutSize;
        var latent = Uniform(rng, s.WeightSize, -1.5f, 1.5f);
        var x = Uniform(rng, n * inSize, -2f, 2f);
        var rsign = Uniform(rng, cin, -0.5f, 0.5f);
        var threshold = rsign.Select(b => -b).ToArray();

        // Latent model, binarised forward: ±1 activations (RSign), sign(w), fp32 conv.
        var xpm = new float[x.Length];
        BinaryActivationKernel.SignForward(n, cin, hw * hw, new View(x, 0, inSize), rsign, 0, new View(xpm, 0, inSize));
        var signs = new float[latent.Length];
        BinaryWeightKernel.Forward(cout, s.WeightSize / cout, latent, 0, signs, 0, null, 0);
        var latentDot = new float[n * outSize];
        Conv2dKernel.Forward<Identity>(s, n, new View(xpm, 0, inSize), signs, 0, null, 0, null, 0, new View(latentDot, 0, outSize));

        // Packed: the same input packed with RSign's threshold.
        int words = BitPack.ActivationWords(cin, hw, hw);
        var bits = new ulong[n * words];
        BitPack.PackActivations(n, cin, hw, hw, new View(x, 0, inSize), threshold, 0, new BitView(bits, 0, words));
        var gamma = Uniform(rng, cout, 0.5f, 1.5f);
        var beta = Uniform(rng, cout, -0.5f, 0.5f);
        var mean = Uniform(rng, cout, -3f, 3f);
        var var = Uniform(rng, cout, 0.5f, 4f);
        var bias = Uniform(rng, cout, -1f, 1f);
        const float eps = 1e-5f;
        var packed = PackedBinaryConv.FromLatent(s, latent, true, bias, gamma, beta, mean, var, eps);
        var dot = new float[n * outSize];
        packed.Dot(n, new BitView(bits, 0, words), new View(dot, 0, outSize));

        // The popcount part, bit for bit, against the fp32 conv and against an integer reference.
        Assert.Equal(latentDot, dot);
        int ho = s.Ho, wo = s.Wo;
        for (int b = 0; b < n; b++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        long acc = 0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                    if (iy < 0 || iy >= hw || ix < 0 || ix >= hw) continue;
                                    int sx = x[b * inSize + (ci * hw + iy) * hw + ix] + rsign[ci] < 0 ? -1 : 1;
                                    int sw = latent[((co * cin + ci) * k + ky) * k + kx] < 0 ? -1 : 1;
                                    acc += sx * sw;
                                }
                        Assert.Equal(acc, (long)dot[b * outSize + (co * ho + oy) * wo + ox]);
                    }

        // Scaled outputs with the Bi-Real residual, against the definition in double.
        var residual = Uniform(rng, n * outSize, -3f, 3f);
        var y = new float[n * outSize];
        packed.Forward<Identity>(n, new BitView(bits, 0, words), new View(y, 0, outSize), new View(residual, 0, outSize));
        int kk = s.WeightSize / cout;
        var expected = new double[y.Length];
        for (int co = 0; co < cout; co++)
        {
            double alpha = 0;
            for (int i = 0; i < kk; i++) alpha += Math.Abs((double)latent[co * kk + i]);
            alpha /= kk;
            double g = gamma[co] / Math.Sqrt(var[co] + (double)eps);
            for (int b = 0; b < n; b++)
                for (int p = 0; p < ho * wo; p++)
                {
                    int i = b * outSize + co * ho * wo + p;
                    expected[i] = g * (alpha * dot[i] + bias[co] - mean[co]) + beta[co] + residual[i];
                }
        }
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 * scale, $"y[{i}]: packed {y[i]}, expected {expected[i]}");

    }
}
