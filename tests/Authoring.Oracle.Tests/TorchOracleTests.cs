// Checks the oracle helper itself against small cases computed by hand, so parity tests can trust it.
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;

namespace Authoring.Oracle.Tests;

public class TorchOracleTests
{
    static readonly float[] OneToNine = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

    static void Near(float[] expected, float[] actual, float tol = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1f, Math.Abs(expected[i])),
                $"[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void Conv2d_single_channel_3x3_with_bias_and_gradients()
    {
        using var scope = Scope();
        var x = Leaf(OneToNine, 1, 1, 3, 3);
        var w = Leaf(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        var b = Leaf(new float[] { 1 }, 1);
        var y = Conv2d(x, w, b);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, Shape(y));
        // 1*1+2*2+3*4+4*5 + 1 = 38, and so on per window.
        Near(new float[] { 38, 48, 68, 78 }, ToArray(y));

        var g = Gradients(y, new float[] { 1, 1, 1, 1 }, x, w, b);
        // dx: each input summed over the kernel weights of the windows covering it.
        Near(new float[] { 1, 3, 2, 4, 10, 6, 3, 7, 4 }, g[0]);
        // dw: the sum of each tap's inputs over the four windows.
        Near(new float[] { 12, 16, 24, 28 }, g[1]);
        Near(new float[] { 4 }, g[2]);
    }

    [Fact]
    public void Conv2d_stride_padding_dilation_groups()
    {
        using var scope = Scope();
        var x = Constant(OneToNine, 1, 1, 3, 3);

        // 3x3 ones, padding 1, stride 2: windows centred on the corners.
        var ones = Constant(Enumerable.Repeat(1f, 9).ToArray(), 1, 1, 3, 3);
        Near(new float[] { 12, 16, 24, 28 }, ToArray(Conv2d(x, ones, null, stride: 2, padding: 1)));

        // 2x2 kernel, dilation 2: taps at the four corners.
        var w = Constant(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        Near(new float[] { 1 * 1 + 2 * 3 + 3 * 7 + 4 * 9 }, ToArray(Conv2d(x, w, null, dilation: 2)));

        // Depthwise (groups = channels) 1x1: each channel scaled by its own weight.
        var x2 = Constant(new float[] { 1, 2, 3, 4 }, 1, 2, 1, 2);
        var w2 = Constant(new float[] { 2, 3 }, 2, 1, 1, 1);
        Near(new float[] { 2, 4, 9, 12 }, ToArray(Conv2d(x2, w2, null, groups: 2)));

        // Per-axis stride and padding.
        var y = Conv2d(x, ones, null, stride: (1, 2), padding: (0, 1), dilation: (1, 1));
        Assert.Equal(new long[] { 1, 1, 1, 2 }, Shape(y));
        Near(new float[] { 1 + 2 + 4 + 5 + 7 + 8, 2 + 3 + 5 + 6 + 8 + 9 }, ToArray(y));
    }

    [Fact]
    public void Linear_and_its_gradients()
    {
        using var scope = Scope();
        var x = Leaf(new float[] { 1, 2 }, 1, 2);
        var w = Leaf(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        var b = Leaf(new float[] { 1, 1, 1 }, 3);
        var y = Linear(x, w, b);
        Near(new float[] { 6, 12, 18 }, ToArray(y));
        var g = Gradients(y, new float[] { 1, 1, 1 }, x, w, b);
        Near(new float[] { 9, 12 }, g[0]);
        Near(new float[] { 1, 2, 1, 2, 1, 2 }, g[1]);
        Near(new float[] { 1, 1, 1 }, g[2]);
    }

    [Fact]
    public void CrossEntropy_known_values_and_gradient()
    {
        using var scope = Scope();
        // Sample 0: logits (1, 2, 3), label 2: log(e + e^2 + e^3) - 3 = 0.4076059644.
        // Sample 1: logits (0, 0, 0), label 0: log 3 = 1.0986122887. Mean 0.7531091266.
        var logits = Leaf(new float[] { 1, 2, 3, 0, 0, 0 }, 2, 3);
        var loss = CrossEntropy(logits, new[] { 2, 0 });
        Assert.Equal(0.7531091266f, Scalar(loss), 5);

        // d/dlogits = (softmax - onehot) / N.
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        var expected = new float[]
        {
            (float)(Math.Exp(1) / z / 2), (float)(Math.Exp(2) / z / 2), (float)((Math.Exp(3) / z - 1) / 2),
            (1f / 3 - 1) / 2, 1f / 3 / 2, 1f / 3 / 2,
        };
        Near(expected, Gradients(loss, logits)[0]);

        using var scope2 = Scope();
        Assert.Equal(MathF.Log(2), Scalar(CrossEntropy(Constant(new float[] { 0, 0 }, 1, 2), new[] { 0 })), 6);
    }

    [Fact]
    public void BatchNormTrain_normalizes_per_channel_and_updates_running_stats()
    {
        using var scope = Scope();
        // x [N=2, C=2, 1, 2]; channel 0 holds 1, 3 | 5, 7 (mean 4, biased var 5, unbiased 20/3);
        // channel 1 holds 2, 2 | 2, 2 (mean 2, var 0).
        var x = Leaf(new float[] { 1, 3, 2, 2, 5, 7, 2, 2 }, 2, 2, 1, 2);
        var gamma = Leaf(new float[] { 2, 1 }, 2);
        var beta = Leaf(new float[] { 0.5f, -1 }, 2);
        var mean = Constant(new float[] { 0, 0 }, 2);
        var variance = Constant(new float[] { 1, 1 }, 2);
        var y = BatchNormTrain(x, gamma, beta, mean, variance, momentum: 0.1, eps: 1e-5);

        float s = 1 / MathF.Sqrt(5 + 1e-5f);
        Near(new float[]
        {
            2 * -3 * s + 0.5f, 2 * -1 * s + 0.5f, -1, -1,
            2 * 1 * s + 0.5f, 2 * 3 * s + 0.5f, -1, -1,
        }, ToArray(y));
        Near(new float[] { 0.1f * 4, 0.1f * 2 }, ToArray(mean));
        Near(new float[] { 0.9f + 0.1f * 20f / 3, 0.9f }, ToArray(variance));

        // dbeta = sum dy, dgamma = sum dy * x_hat.
        var g = Gradients(y, Enumerable.Repeat(1f, 8).ToArray(), gamma, beta);
        Near(new float[] { 0, 0 }, g[0], 1e-4f);
        Near(new float[] { 4, 4 }, g[1]);
    }

    [Fact]
    public void BatchNormTrain_output_has_zero_mean_and_unit_variance_per_channel()
    {
        using var scope = Scope();
        const int n = 4, c = 3, hw = 25;
        var x = Constant(Random(n * c * hw, seed: 1, min: -3, max: 5), n, c, 5, 5);
        var y = ToArray(BatchNormTrain(x, Constant(new float[] { 1, 1, 1 }, c), Constant(new float[c], c),
            Constant(new float[c], c), Constant(new float[] { 1, 1, 1 }, c)));
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, sq = 0;
            for (int b = 0; b < n; b++)
            {
                for (int i = 0; i < hw; i++)
                {
                    double v = y[(b * c + ch) * hw + i];
                    sum += v;
                    sq += v * v;
                }
            }
            Assert.Equal(0, sum / (n * hw), 5);
            Assert.Equal(1, sq / (n * hw), 3);
        }
    }

    [Fact]
    public void BatchNormEval_uses_running_stats()
    {
        using var scope = Scope();
        var y = BatchNormEval(Constant(new float[] { 3, 0 }, 1, 2), Constant(new float[] { 2, 1 }, 2),
            Constant(new float[] { 1, 0 }, 2), Constant(new float[] { 1, 0 }, 2), Constant(new float[] { 4, 1 }, 2), eps: 0);
        Near(new float[] { 2 * (3 - 1) / 2f + 1, 0 }, ToArray(y));
    }

    [Fact]
    public void Activations_match_their_definitions()
    {
        using var scope = Scope();
        var x = Constant(new float[] { -4, -1, 0, 1, 4, 7 }, 6);
        Near(new float[] { 0, 0, 0, 1, 4, 7 }, ToArray(Relu(x)));
        Near(new float[] { 0, 0, 0, 1, 4, 6 }, ToArray(Relu6(x)));
        Near(new float[] { 0, 2 / 6f, 3 / 6f, 4 / 6f, 1, 1 }, ToArray(Hardsigmoid(x)));
        Near(new float[] { 0, -2 / 6f, 0, 4 / 6f, 4, 7 }, ToArray(Hardswish(x)));
        Near(Array.ConvertAll(new[] { -4.0, -1, 0, 1, 4, 7 }, v => (float)(1 / (1 + Math.Exp(-v)))), ToArray(Sigmoid(x)));
        Near(Array.ConvertAll(new[] { -4.0, -1, 0, 1, 4, 7 }, v => (float)Math.Tanh(v)), ToArray(Tanh(x)));
    }

    [Fact]
    public void Channel_broadcast_and_its_gradient()
    {
        using var scope = Scope();
        var x = Leaf(new float[] { 1, 2, 3, 4 }, 1, 2, 1, 2);
        var c = Leaf(new float[] { 10, 20 }, 2);
        Near(new float[] { 11, 12, 23, 24 }, ToArray(AddChannel(x, c)));
        var y = MulChannel(x, c);
        Near(new float[] { 10, 20, 60, 80 }, ToArray(y));
        var g = Gradients(y, new float[] { 1, 1, 1, 1 }, x, c);
        Near(new float[] { 10, 10, 20, 20 }, g[0]);
        Near(new float[] { 3, 7 }, g[1]);

        // Per-sample channel scale [N, C], as squeeze-excite produces.
        var se = Constant(new float[] { 2, 3 }, 1, 2);
        Near(new float[] { 2, 4, 9, 12 }, ToArray(MulChannel(x, se)));
        Near(new float[] { 2, 4, 6, 8 }, ToArray(Add(x, x)));
        Near(new float[] { 1, 4, 9, 16 }, ToArray(Mul(x, x)));
    }

    [Fact]
    public void Cat_narrow_flatten_and_unused_gradients()
    {
        using var scope = Scope();
        var a = Leaf(new float[] { 1, 2 }, 1, 1, 1, 2);
        var b = Leaf(new float[] { 3, 4 }, 1, 1, 1, 2);
        var unused = Leaf(new float[] { 5, 6, 7 }, 3);
        var cat = Cat(1, a, b);
        Assert.Equal(new long[] { 1, 2, 1, 2 }, Shape(cat));
        Near(new float[] { 1, 2, 3, 4 }, ToArray(cat));
        var slice = Narrow(cat, 1, 1, 1);
        Near(new float[] { 3, 4 }, ToArray(slice));
        Assert.Equal(new long[] { 1, 4 }, Shape(Flatten(cat)));

        var g = Gradients(slice, new float[] { 1, 1 }, a, b, unused);
        Near(new float[] { 0, 0 }, g[0]);
        Near(new float[] { 1, 1 }, g[1]);
        Near(new float[] { 0, 0, 0 }, g[2]);
    }

    [Fact]
    public void Pooling_known_values()
    {
        using var scope = Scope();
        var x = Leaf(Enumerable.Range(1, 16).Select(v => (float)v).ToArray(), 1, 1, 4, 4);
        var max = MaxPool2d(x, 2);
        Near(new float[] { 6, 8, 14, 16 }, ToArray(max));
        var gx = Gradients(max, new float[] { 1, 1, 1, 1 }, x)[0];
        Near(new float[] { 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1 }, gx);

        Near(new float[] { 3.5f, 5.5f, 11.5f, 13.5f }, ToArray(AvgPool2d(x, 2)));
        // count_include_pad: a 3x3 window over a padded 2x2 of ones always sums 4 and divides by 9.
        var ones = Constant(new float[] { 1, 1, 1, 1 }, 1, 1, 2, 2);
        Near(new float[] { 4 / 9f, 4 / 9f, 4 / 9f, 4 / 9f }, ToArray(AvgPool2d(ones, 3, stride: 1, padding: 1)));
        // Max pooling's padding is negative infinity, never a 0 that wins.
        var neg = Constant(new float[] { -1, -2, -3, -4 }, 1, 1, 2, 2);
        Near(new float[] { -1, -1, -1, -1 }, ToArray(MaxPool2d(neg, 3, stride: 1, padding: 1)));

        var gap = AdaptiveAvgPool2d(x);
        Assert.Equal(new long[] { 1, 1, 1, 1 }, Shape(gap));
        Near(new float[] { 8.5f }, ToArray(gap));
        Near(Enumerable.Repeat(1 / 16f, 16).ToArray(), Gradients(gap, new float[] { 1 }, x)[0]);
    }

    [Fact]
    public void UpsampleNearest_known_values_and_gradient()
    {
        using var scope = Scope();
        var x = Leaf(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        // 2 -> 3: outputs 0, 1, 2 read floor(o * 2 / 3) = 0, 0, 1 in both axes.
        var up = UpsampleNearest(x, 3, 3);
        Near(new float[] { 1, 1, 2, 1, 1, 2, 3, 3, 4 }, ToArray(up));
        // Each input collects the gradient of the outputs that copied it: 2x2, 2x1, 1x2 and 1x1 of them.
        Near(new float[] { 4, 2, 2, 1 }, Gradients(up, Enumerable.Repeat(1f, 9).ToArray(), x)[0]);
        // 2 -> 1 keeps the first pixel; the others get no gradient.
        var down = UpsampleNearest(x, 1, 1);
        Near(new float[] { 1 }, ToArray(down));
        Near(new float[] { 1, 0, 0, 0 }, Gradients(down, new float[] { 1 }, x)[0]);
    }

    /// <summary>The parity tests' reference convolution (float64, batch above 1, output channels that fill no SIMD
    /// block) against a plain loop. The float32 one is wrong on AVX-512 machines for exactly these shapes: libtorch
    /// 2.10 (oneDNN 3.7.1, jit:avx512_core backward_data) drops kernel taps from the input gradient, at random with
    /// two threads, and may return NaN; its batch-1 calls take ATen's own kernel and are right.</summary>
    [Theory]
    [InlineData(3, 4, 3, 5)]
    [InlineData(3, 16, 3, 5)]
    [InlineData(2, 4, 17, 7)]
    public void ConvInputGradientOfTheReference(int n, int cin, int cout, int size)
    {
        using var scope = Scope();
        const int k = 3, pad = 1;
        var xd = Random(n * cin * size * size, 1);
        var wd = Random(cout * cin * k * k, 2);
        var dyd = Random(n * cout * size * size, 3);
        var x = Constant(xd, n, cin, size, size).to(torch.float64).requires_grad_(true);
        var w = Constant(wd, cout, cin, k, k).to(torch.float64).requires_grad_(true);
        var y = Conv2d(x, w, null, padding: pad);
        var g = torch.autograd.grad(new[] { y }, new[] { x, w }, new[] { Constant(dyd, n, cout, size, size).to(torch.float64) });
        var dx = g[0].data<double>().ToArray();
        var dw = g[1].data<double>().ToArray();

        var ex = new double[dx.Length];
        var ew = new double[dw.Length];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < size; oy++)
                    for (int ox = 0; ox < size; ox++)
                    {
                        double d = dyd[((b * cout + co) * size + oy) * size + ox];
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy + ky - pad, ix = ox + kx - pad;
                                    if (iy < 0 || iy >= size || ix < 0 || ix >= size) continue;
                                    int xi = ((b * cin + ci) * size + iy) * size + ix, wi = ((co * cin + ci) * k + ky) * k + kx;
                                    ex[xi] += d * wd[wi];
                                    ew[wi] += d * xd[xi];
                                }
                    }
        // Float64 sums of at most a few hundred O(1) terms: 1e-12 is thousands of ulps, a dropped tap is O(1).
        for (int i = 0; i < ex.Length; i++) Assert.True(Math.Abs(dx[i] - ex[i]) <= 1e-12 * Math.Max(1, Math.Abs(ex[i])), $"dx[{i}]: {dx[i]} vs {ex[i]}");
        for (int i = 0; i < ew.Length; i++) Assert.True(Math.Abs(dw[i] - ew[i]) <= 1e-12 * Math.Max(1, Math.Abs(ew[i])), $"dw[{i}]: {dw[i]} vs {ew[i]}");
    }

    [Fact]
    public void KinkPoints_record_near_ties_and_route_flipped_windows_to_the_runner_up()
    {
        using var scope = Scope();
        // Window 0 holds 2 and 2 + 1e-6 (a near tie at 1e-6 / 4 of the scale 4); window 1 is clear.
        var x = Leaf(new float[] { 2, 0, 4, 1, 2.000001f, 0, 0, 3 }, 1, 1, 2, 4);
        IReadOnlyList<Kink> found;
        using (var watch = KinkPoints.Watch())
        {
            var y = MaxPool2d(x, 2);
            found = watch.Found.ToList();
            Near(new float[] { 2.000001f, 4 }, ToArray(y));
            Near(new float[] { 0, 0, 1, 0, 1, 0, 0, 0 }, Gradients(y, new float[] { 1, 1 }, x)[0]);
        }
        var kink = Assert.Single(found);
        Assert.Equal(("max_pool2d", 0L), (kink.Op, kink.Element));
        Assert.InRange(kink.Margin, 2e-7, 3e-7);
        using (var watch = KinkPoints.Watch(found))
        {
            var y = MaxPool2d(x, 2);
            Near(new float[] { 2.000001f, 4 }, ToArray(y));       // the value stays PyTorch's
            Near(new float[] { 1, 0, 1, 0, 0, 0, 0, 0 }, Gradients(y, new float[] { 1, 1 }, x)[0]);
        }
    }

    [Fact]
    public void KinkPoints_flip_a_relu_corner_to_the_other_side()
    {
        using var scope = Scope();
        var x = Leaf(new float[] { -1e-7f, 0.5f, -1, 1e-7f }, 4);
        IReadOnlyList<Kink> found;
        using (var watch = KinkPoints.Watch())
        {
            var y = Relu(x);
            found = watch.Found.ToList();
            Near(new float[] { 0, 1, 0, 1 }, Gradients(y, new float[] { 1, 1, 1, 1 }, x)[0]);
        }
        Assert.Equal(new long[] { 0, 3 }, found.Select(k => k.Element));
        using (var watch = KinkPoints.Watch(found))
        {
            var y = Relu(x);
            Near(new float[] { 0, 0.5f, 0, 1e-7f }, ToArray(y));
            Near(new float[] { 1, 1, 0, 0 }, Gradients(y, new float[] { 1, 1, 1, 1 }, x)[0]);
        }
        // Without a watch the ops are PyTorch's own.
        Near(new float[] { 0, 1, 0, 1 }, Gradients(Relu(x), new float[] { 1, 1, 1, 1 }, x)[0]);
    }

    [Fact]
    public void Shape_mismatch_is_reported()
    {
        Assert.Throws<ArgumentException>(() => Constant(new float[] { 1, 2, 3 }, 2, 2));
    }
}
