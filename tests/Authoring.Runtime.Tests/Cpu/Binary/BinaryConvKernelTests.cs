// XNOR-popcount convolution and linear layers against an independent integer reference: the
// convolution of the ±1 tensors with zero padding, summed exactly in 64-bit integers. Every shape
// runs on every popcount path this machine supports (scalar POPCNT, AVX2 nibble lookup and
// carry-save, AVX-512 carry-save), at batch 1 and 3, on views with offsets and gaps.
//   - Unscaled Identity output is the integer itself and must match exactly (it is below 2^24).
//   - Scaled outputs (scale, shift, residual, activation) are compared with the double-precision
//     value of the same formula; the kernel rounds the product, the shift add and the residual add
//     once each, so 4u of the magnitudes involved (times the activation's largest slope) bounds the error.
//   - Packed outputs must equal, bit for bit, the comparison act(dot * scale + shift) < threshold
//     evaluated in float as the kernel defines it, with the padding bits past Cout zero.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public class BinaryConvKernelTests
{
    /// <summary>The popcount paths this machine runs.</summary>
    internal static IEnumerable<XnorPath> Paths()
    {
        yield return XnorPath.Scalar;
        if (XnorPopcount.Avx2Available) { yield return XnorPath.Avx2; yield return XnorPath.Avx2Csa; }
        if (XnorPopcount.Avx512Available) yield return XnorPath.Avx512;
    }

    // Cin, H, W, Cout, Kh, Kw, Sh, Sw, Ph, Pw, Dh, Dw
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1 },        // tiny, odd everything
        new[] { 64, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1 },    // whole words, the sample's kind of layer
        new[] { 65, 9, 11, 17, 3, 3, 2, 2, 1, 1, 1, 1 },     // stride 2, one channel in a second word, 17 outputs
        new[] { 130, 5, 7, 33, 3, 3, 1, 1, 2, 2, 1, 1 },     // padding 2: corner taps entirely outside
        new[] { 37, 8, 8, 16, 1, 1, 1, 1, 0, 0, 1, 1 },      // 1 x 1
        new[] { 48, 9, 9, 40, 1, 1, 2, 2, 0, 0, 1, 1 },      // 1 x 1 stride 2
        new[] { 20, 10, 9, 24, 3, 3, 1, 1, 2, 2, 2, 2 },     // dilation 2
        new[] { 16, 6, 13, 8, 1, 3, 1, 1, 0, 1, 1, 1 },      // 1 x 3, padding in width only
        new[] { 70, 4, 4, 16, 3, 3, 1, 1, 1, 1, 1, 1 },      // tiny plane: every position touches the border
        new[] { 200, 3, 3, 48, 3, 3, 2, 2, 0, 0, 1, 1 },     // unpadded stride 2, 36 words: carry-save blocks and a tail
        new[] { 512, 3, 3, 20, 3, 3, 1, 1, 1, 1, 1, 1 },     // 72 words
        new[] { 1920, 3, 3, 16, 3, 3, 1, 1, 1, 1, 1, 1 },    // 270 words: eights counts flushed after 31 blocks
        new[] { 1, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1 },        // one input channel
        // Short reductions (AVX-512: a full adder per three words, the rest counted directly):
        new[] { 130, 6, 5, 24, 1, 1, 1, 1, 0, 0, 1, 1 },     // 3 words: one adder, no rest
        new[] { 300, 5, 6, 20, 1, 1, 2, 2, 0, 0, 1, 1 },     // 5 words: one adder and 2 words, stride 2
        new[] { 64, 6, 7, 16, 2, 2, 1, 1, 1, 1, 1, 1 },      // 4 words: one adder and 1 word, even kernel with padding
        new[] { 100, 7, 7, 17, 7, 1, 1, 1, 3, 0, 1, 1 },     // 14 words: four adders and 2 words, padding in height only
        new[] { 320, 4, 5, 32, 3, 1, 2, 1, 1, 0, 1, 1 },     // 15 words, the longest short reduction: five adders
        // One or two groups of nine words (AVX-512: a tree of five full adders per group, 4 positions at a time):
        new[] { 550, 3, 5, 24, 1, 1, 1, 1, 0, 0, 1, 1 },     // 1 x 1 with 9 words, 15 positions (a part tile), 24 outputs
        new[] { 128, 7, 7, 40, 3, 3, 1, 1, 1, 1, 1, 1 },     // 128 channels 3 x 3, 40 outputs (a part block of 16)
        new[] { 1100, 5, 3, 16, 1, 1, 1, 1, 0, 0, 1, 1 },    // 1 x 1 with 18 words, the last one part filled
    };

    static Conv2dShape Shape(int[] a) => new(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], 1);

    /// <summary>Random ±1-valued floats as x &lt; 0 reads them (zeros and -0 included: both +1).</summary>
    static float[] Values(Random rng, int len) => BitPackTests.Values(rng, len);

    static float Sign(float v) => v < 0f ? -1f : 1f;

    /// <summary>dot[b, co, oy, ox] of the ±1 tensors with zero padding, exactly.</summary>
    internal static long[] ReferenceDot(in Conv2dShape s, int n, float[] x, int xOff, int xStride, float[] w)
    {
        var y = new long[n * s.OutSize];
        for (int b = 0; b < n; b++)
            for (int co = 0; co < s.Cout; co++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        long acc = 0;
                        for (int ci = 0; ci < s.Cin; ci++)
                            for (int kh = 0; kh < s.Kh; kh++)
                                for (int kw = 0; kw < s.Kw; kw++)
                                {
                                    int iy = oy * s.StrideH - s.PadH + kh * s.DilH, ix = ox * s.StrideW - s.PadW + kw * s.DilW;
                                    if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                    acc += (long)Sign(x[xOff + b * xStride + (ci * s.H + iy) * s.W + ix]) * (long)Sign(w[((co * s.Cin + ci) * s.Kh + kh) * s.Kw + kw]);
                                }
                        y[b * s.OutSize + (co * s.Ho + oy) * s.Wo + ox] = acc;
                    }
        return y;
    }

    /// <summary>A packed input batch with offset and gap, from float values (returned for the reference).</summary>
    static (BitView bits, float[] values, int stride) PackInput(Random rng, in Conv2dShape s, int n)
    {
        int stride = s.InSize + 3;
        var values = Values(rng, 2 + n * stride);
        int words = BitPack.ActivationWords(s.Cin, s.H, s.W);
        var bits = new BitView(new ulong[4 + n * (words + 2)], 4, words + 2);
        BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(values, 2, stride), null, 0, bits);
        return (bits, values, stride);
    }

    static (ulong[] w, int[] sums) PackWeights(in Conv2dShape s, float[] w)
    {
        var packed = new ulong[3 + BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, w, 0, packed, 3);
        var sums = new int[1 + BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, packed, 3, sums, 1);
        return (packed, sums);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PopcountPartIsTheExactIntegerConvolution(int[] shape)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 3 })
        {
            var rng = new Random(shape[0] * 7 + n);
            var (x, values, stride) = PackInput(rng, s, n);
            var w = Values(rng, s.WeightSize);
            var (pw, sums) = PackWeights(s, w);
            var expected = ReferenceDot(s, n, values, 2, stride, w);
            foreach (var path in Paths())
            {
                var y = TestUtil.Sliced(rng, n, s.OutSize, 5, 4, fill: false);
                BinaryConvKernel.Forward<Identity>(s, n, x, pw, 3, sums, 1, null, 0, null, 0, y, default, path);
                for (int b = 0; b < n; b++)
                    for (int i = 0; i < s.OutSize; i++)
                    {
                        float got = y.Data[y.At(b) + i];
                        if (got != expected[b * s.OutSize + i])
                            Assert.Fail($"{path}, n {n}: sample {b} element {i} is {got}, expected {expected[b * s.OutSize + i]}");
                    }
                TestUtil.AssertUntouchedOutside(y, n, s.OutSize);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ScaledEpilogueMatchesReference(int[] shape)
    {
        var s = Shape(shape);
        int n = 2;
        var rng = new Random(shape[0] + 100);
        var (x, values, stride) = PackInput(rng, s, n);
        var w = Values(rng, s.WeightSize);
        var (pw, sums) = PackWeights(s, w);
        var dot = ReferenceDot(s, n, values, 2, stride, w);
        var scale = TestUtil.Random(rng, s.Cout + 1, 0.01f, 0.2f);
        var shift = TestUtil.Random(rng, s.Cout + 2, -2f, 2f);
        var res = TestUtil.Sliced(rng, n, s.OutSize, 1, 3);
        foreach (var path in Paths())
        {
            foreach (bool withResidual in new[] { false, true })
            {
                var y = TestUtil.Sliced(rng, n, s.OutSize, 2, 1, fill: false);
                BinaryConvKernel.Forward<HardSwish>(s, n, x, pw, 3, sums, 1, scale, 1, shift, 2, y, withResidual ? res : default, path);
                for (int b = 0; b < n; b++)
                    for (int i = 0; i < s.OutSize; i++)
                    {
                        int co = i / (s.Ho * s.Wo);
                        double sd = (double)scale[1 + co] * dot[b * s.OutSize + i], r = withResidual ? res.Data[res.At(b) + i] : 0;
                        double z = sd + shift[2 + co] + r;
                        double expected = TestUtil.Act("HardSwish", z);
                        double tol = 4 * TestUtil.U * (Math.Abs(sd) + Math.Abs(shift[2 + co]) + Math.Abs(r)) * TestUtil.MaxSlope + TestUtil.ActTol(expected);
                        double got = y.Data[y.At(b) + i];
                        if (!(Math.Abs(got - expected) <= tol))
                            Assert.Fail($"{path}: sample {b} element {i} is {got}, expected {expected} (tolerance {tol:E2})");
                    }
                TestUtil.AssertUntouchedOutside(y, n, s.OutSize);
            }
        }
    }

    /// <summary>The bit the packed epilogue must produce, in the kernel's float arithmetic.</summary>
    static bool ExpectedBit<TAct>(long dot, float scale, float shift, float threshold) where TAct : struct, IActivation
        => default(TAct).Apply((float)dot * scale + shift) < threshold;

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedOutputIsTheThresholdedEpilogue(int[] shape)
    {
        var s = Shape(shape);
        int n = 2;
        var rng = new Random(shape[0] + 200);
        var (x, values, stride) = PackInput(rng, s, n);
        var w = Values(rng, s.WeightSize);
        var (pw, sums) = PackWeights(s, w);
        var dot = ReferenceDot(s, n, values, 2, stride, w);
        var scale = TestUtil.Random(rng, s.Cout, -0.2f, 0.2f);
        var shift = TestUtil.Random(rng, s.Cout, -1f, 1f);
        var thr = TestUtil.Random(rng, s.Cout, -0.3f, 0.3f);
        int words = BitPack.ActivationWords(s.Cout, s.Ho, s.Wo), wco = BitPack.Words(s.Cout), hw = s.Ho * s.Wo;
        foreach (var path in Paths())
        {
            foreach (bool relu in new[] { false, true })
            {
                var y = new BitView(new ulong[2 + n * (words + 1)], 2, words + 1);
                // Every bit of every word set beforehand: the bits past Cout must come out 0 (a reused arena holds stale bits).
                Array.Fill(y.Data, 0xABCDABCDABCDABCDUL);
                if (relu) BinaryConvKernel.ForwardPacked<Relu>(s, n, x, pw, 3, sums, 1, scale, 0, shift, 0, thr, 0, y, path);
                else BinaryConvKernel.ForwardPacked<Identity>(s, n, x, pw, 3, sums, 1, scale, 0, shift, 0, thr, 0, y, path);
                for (int b = 0; b < n; b++)
                {
                    for (int p = 0; p < hw; p++)
                        for (int co = 0; co < wco * 64; co++)
                        {
                            bool expected = co < s.Cout && (relu
                                ? ExpectedBit<Relu>(dot[b * s.OutSize + co * hw + p], scale[co], shift[co], thr[co])
                                : ExpectedBit<Identity>(dot[b * s.OutSize + co * hw + p], scale[co], shift[co], thr[co]));
                            bool got = ((y.Data[y.At(b) + p * wco + co / 64] >> (co % 64)) & 1) != 0;
                            if (expected != got) Assert.Fail($"{path} relu {relu}: sample {b} position {p} channel {co}: bit {got}");
                        }
                    Assert.Equal(0xABCDABCDABCDABCDUL, y.Data[y.At(b) + words]);
                }
                Assert.Equal(0xABCDABCDABCDABCDUL, y.Data[0]);
                Assert.Equal(0xABCDABCDABCDABCDUL, y.Data[1]);
            }
        }
    }

    /// <summary>A packed output feeds the next binary layer exactly as packing the float output does.</summary>
    [Fact]
    public void PackedOutputChainsIntoTheNextLayer()
    {
        var s1 = new Conv2dShape(40, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var s2 = new Conv2dShape(70, 9, 9, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1);
        int n = 2;
        var rng = new Random(9);
        var (x, _, _) = PackInput(rng, s1, n);
        var (w1, t1) = PackWeights(s1, Values(rng, s1.WeightSize));
        var (w2, t2) = PackWeights(s2, Values(rng, s2.WeightSize));
        var scale = TestUtil.Random(rng, s1.Cout, 0.05f, 0.2f);
        var shift = TestUtil.Random(rng, s1.Cout);
        var bias = TestUtil.Random(rng, s1.Cout, -0.5f, 0.5f);
        var thr = Array.ConvertAll(bias, b => -b); // RSign(x + bias) packs as x < -bias
        int mid = BitPack.ActivationWords(s1.Cout, s1.Ho, s1.Wo);
        foreach (var path in Paths())
        {
            var packed = new BitView(new ulong[n * mid], 0, mid);
            BinaryConvKernel.ForwardPacked<Relu>(s1, n, x, w1, 3, t1, 1, scale, 0, shift, 0, thr, 0, packed, path);
            var floats = new View(new float[n * s1.OutSize], 0, s1.OutSize);
            BinaryConvKernel.Forward<Relu>(s1, n, x, w1, 3, t1, 1, scale, 0, shift, 0, floats, default, path);
            var repacked = new BitView(new ulong[n * mid], 0, mid);
            BitPack.PackActivations(n, s1.Cout, s1.Ho, s1.Wo, floats, thr, 0, repacked);
            Assert.Equal(repacked.Data, packed.Data);
            var ya = new View(new float[n * s2.OutSize], 0, s2.OutSize);
            var yb = new View(new float[n * s2.OutSize], 0, s2.OutSize);
            BinaryConvKernel.Forward<Identity>(s2, n, packed, w2, 3, t2, 1, null, 0, null, 0, ya, default, path);
            BinaryConvKernel.Forward<Identity>(s2, n, repacked, w2, 3, t2, 1, null, 0, null, 0, yb, default, path);
            Assert.Equal(yb.Data, ya.Data);
        }
    }

    public static TheoryData<int, int, int> LinearShapes => new()
    {
        { 1, 1, 1 }, { 1, 64, 10 }, { 3, 65, 17 }, { 5, 200, 40 }, { 50, 130, 16 }, { 2, 512, 512 }, { 1, 1152, 128 },
    };

    [Theory]
    [MemberData(nameof(LinearShapes))]
    public void LinearMatchesReference(int n, int inF, int outF)
    {
        var rng = new Random(inF * 3 + outF);
        int xs = inF + 2;
        var values = Values(rng, 1 + n * xs);
        int words = BitPack.Words(inF);
        var x = new BitView(new ulong[1 + n * (words + 1)], 1, words + 1);
        BitPack.PackFeatures(n, inF, new View(values, 1, xs), null, 0, x);
        var w = Values(rng, inF * outF);
        var pw = new ulong[BitPack.LinearWeightWords(inF, outF)];
        BitPack.PackLinearWeights(inF, outF, w, 0, pw, 0);
        var dot = new long[n * outF];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outF; o++)
            {
                long acc = 0;
                for (int i = 0; i < inF; i++) acc += (long)Sign(values[1 + b * xs + i]) * (long)Sign(w[o * inF + i]);
                dot[b * outF + o] = acc;
            }
        var scale = TestUtil.Random(rng, outF, -0.1f, 0.1f);
        var shift = TestUtil.Random(rng, outF);
        var thr = TestUtil.Random(rng, outF, -0.2f, 0.2f);
        var res = TestUtil.Sliced(rng, n, outF, 2, 1);
        foreach (var path in Paths())
        {
            var y = TestUtil.Sliced(rng, n, outF, 3, 2, fill: false);
            BinaryConvKernel.LinearForward<Identity>(n, inF, outF, x, pw, 0, null, 0, null, 0, y, default, path);
            for (int b = 0; b < n; b++)
                for (int o = 0; o < outF; o++) Assert.Equal(dot[b * outF + o], (long)y.Data[y.At(b) + o]);
            TestUtil.AssertUntouchedOutside(y, n, outF);

            BinaryConvKernel.LinearForward<Relu>(n, inF, outF, x, pw, 0, scale, 0, shift, 0, y, res, path);
            for (int b = 0; b < n; b++)
                for (int o = 0; o < outF; o++)
                {
                    double sd = (double)scale[o] * dot[b * outF + o], r = res.Data[res.At(b) + o];
                    double expected = Math.Max(0, sd + shift[o] + r);
                    double tol = 4 * TestUtil.U * (Math.Abs(sd) + Math.Abs(shift[o]) + Math.Abs(r));
                    Assert.True(Math.Abs(y.Data[y.At(b) + o] - expected) <= tol, $"{path}: row {b} output {o}");
                }

            int ow = BitPack.Words(outF);
            var yb = new BitView(new ulong[n * (ow + 1)], 0, ow + 1);
            Array.Fill(yb.Data, 0x5555555555555555UL);
            BinaryConvKernel.LinearForwardPacked<Identity>(n, inF, outF, x, pw, 0, scale, 0, shift, 0, thr, 0, yb, path);
            for (int b = 0; b < n; b++)
            {
                for (int o = 0; o < ow * 64; o++)
                {
                    bool expected = o < outF && ExpectedBit<Identity>(dot[b * outF + o], scale[o], shift[o], thr[o]);
                    Assert.Equal(expected, ((yb.Data[yb.At(b) + o / 64] >> (o % 64)) & 1) != 0);
                }
                Assert.Equal(0x5555555555555555UL, yb.Data[yb.At(b) + ow]);
            }
        }
    }

    /// <summary>Every XOR bit set (input +1, weights -1) is the worst case for the byte counters: 8 per byte per word,
    /// and eights counts 8 per block; 270 words overflow a byte unless they are flushed in time; 9 and 18 words (nine-word
    /// trees on AVX-512) take a byte count to 72 and 144.</summary>
    [Theory]
    [InlineData(1920, 3)]
    [InlineData(2560, 1)]
    [InlineData(64, 3)]
    [InlineData(128, 3)]
    [InlineData(1152, 1)]
    public void SaturatedCountsDoNotOverflow(int cin, int k)
    {
        var s = new Conv2dShape(cin, 3, 4, 16, k, k, 1, 1, k / 2, k / 2, 1, 1, 1);
        int n = 1;
        var values = new float[s.InSize];
        Array.Fill(values, 0.5f);
        var w = new float[s.WeightSize];
        Array.Fill(w, -0.5f);
        var x = new BitView(new ulong[BitPack.ActivationWords(cin, 3, 4)], 0, BitPack.ActivationWords(cin, 3, 4));
        BitPack.PackActivations(n, cin, 3, 4, new View(values, 0, s.InSize), null, 0, x);
        var (pw, sums) = PackWeights(s, w);
        var expected = ReferenceDot(s, n, values, 0, s.InSize, w);
        foreach (var path in Paths())
        {
            var y = new View(new float[s.OutSize], 0, s.OutSize);
            BinaryConvKernel.Forward<Identity>(s, n, x, pw, 3, sums, 1, null, 0, null, 0, y, default, path);
            for (int i = 0; i < s.OutSize; i++) Assert.True(expected[i] == y.Data[i], $"{path}: element {i} is {y.Data[i]}, expected {expected[i]}");
        }
    }

    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        var s = new Conv2dShape(8, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var x = new BitView(new ulong[BitPack.ActivationWords(8, 5, 5)], 0, BitPack.ActivationWords(8, 5, 5));
        var w = new ulong[BitPack.ConvWeightWords(s)];
        var y = new View(new float[s.OutSize], 0, s.OutSize);
        Assert.Throws<ArgumentNullException>(() => BinaryConvKernel.Forward<Identity>(s, 1, x, w, 0, null!, 0, null, 0, null, 0, y));
        Assert.Throws<ArgumentException>(() => BinaryConvKernel.Forward<Identity>(s, 1, x, w, 1, new int[BitPack.TapSumCount(s)], 0, null, 0, null, 0, y));
        Assert.Throws<ArgumentException>(() => BinaryConvKernel.Forward<Identity>(s, 2, x, w, 0, new int[BitPack.TapSumCount(s)], 0, null, 0, null, 0, y));
        var grouped = s with { Groups = 2 };
        Assert.Throws<ArgumentException>(() => BinaryConvKernel.Forward<Identity>(grouped, 1, x, w, 0, new int[BitPack.TapSumCount(s)], 0, null, 0, null, 0, y));
    }
}
