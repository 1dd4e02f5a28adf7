// The general epilogue (BinaryConvKernel.ForwardFused / LinearForwardFused): residual, per-channel RPReLU, then floats,
// bits or both in one pass, against the separate passes it replaces in a Bi-Real / ReActNet block (the float conv with
// its shortcut, BinaryActivationKernel.RPReluForward, BitPack.PackActivations). Every step rounds the same IEEE float
// operations in the same order on both sides, so floats and bits must be equal to the bit, on every popcount path (the
// AVX2 paths run the 256-bit epilogue, AVX-512 the 512-bit one), with the bits past Cout cleared in a buffer full of
// stale ones.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public class BinaryFusedEpilogueTests
{
    // Cin, H, W, Cout, Kh, Kw, Sh, Sw, Ph, Pw: channels not multiples of 64 (or 16), stride 2, the sample's 64 x 7 x 7.
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 70, 6, 6, 70, 3, 3, 1, 1, 1, 1 },
        new[] { 65, 9, 11, 33, 3, 3, 2, 2, 1, 1 },
        new[] { 64, 7, 7, 64, 3, 3, 1, 1, 1, 1 },
        new[] { 20, 5, 5, 130, 1, 1, 1, 1, 0, 0 },
        new[] { 3, 7, 6, 5, 3, 3, 1, 1, 1, 1 },
    };

    const ulong Stale = 0xABCDABCDABCDABCDUL;

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ConvDualOutputEqualsTheSeparatePasses(int[] a)
    {
        var s = new Conv2dShape(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], 1, 1, 1);
        const int n = 3;
        var rng = new Random(a[0] * 31 + a[3]);
        int inWords = BitPack.ActivationWords(s.Cin, s.H, s.W);
        var x = new BitView(new ulong[n * inWords], 0, inWords);
        BitPack.PackActivations(n, s.Cin, s.H, s.W, new View(BitPackTests.Values(rng, n * s.InSize), 0, s.InSize), null, 0, x);
        var w = new ulong[BitPack.ConvWeightWords(s)];
        BitPack.PackConvWeights(s, BitPackTests.Values(rng, s.WeightSize), 0, w, 0);
        var sums = new int[BitPack.TapSumCount(s)];
        BitPack.ConvTapSums(s, w, 0, sums, 0);
        var scale = TestUtil.Random(rng, s.Cout, 0.01f, 0.2f);
        var shift = TestUtil.Random(rng, s.Cout, -1f, 1f);
        // b0, a, b1 at offsets 5, 5 + C, 5 + 2C of one array, as the generated code's parameter array holds them.
        var p = TestUtil.Random(rng, 5 + 3 * s.Cout, -0.4f, 0.4f);
        var act = new RPReluParams(p, 5, 5 + s.Cout, 5 + 2 * s.Cout);
        var thr = TestUtil.Random(rng, s.Cout, -0.3f, 0.3f);
        int hw = s.Ho * s.Wo, outWords = BitPack.ActivationWords(s.Cout, s.Ho, s.Wo);
        var residual = new View(TestUtil.Random(rng, n * s.OutSize, -2f, 2f), 0, s.OutSize);

        foreach (var path in BinaryConvKernelTests.Paths())
            foreach (bool withResidual in new[] { true, false })
                foreach (bool withAct in new[] { true, false })
                {
                    var res = withResidual ? residual : default;
                    var rp = withAct ? act : default;
                    // The separate passes: floats with the shortcut, RPReLU, then the packing of the result.
                    var z = new View(new float[n * s.OutSize], 0, s.OutSize);
                    BinaryConvKernel.Forward<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, z, res, path);
                    var expected = z;
                    if (withAct)
                    {
                        expected = new View(new float[n * s.OutSize], 0, s.OutSize);
                        BinaryActivationKernel.RPReluForward(n, s.Cout, hw, z, p, act.B0Off, act.SlopeOff, act.B1Off, expected);
                    }
                    var expectedBits = new BitView(new ulong[n * outWords], 0, outWords);
                    BitPack.PackActivations(n, s.Cout, s.Ho, s.Wo, expected, thr, 0, expectedBits);

                    var y = new View(new float[n * s.OutSize], 0, s.OutSize);
                    var bits = new BitView(new ulong[n * outWords + 1], 0, outWords);
                    Array.Fill(bits.Data, Stale);
                    BinaryConvKernel.ForwardFused<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, res, rp, y, thr, 0, bits, path);
                    string what = $"{path}, residual {withResidual}, RPReLU {withAct}";
                    Assert.True(expected.Data.AsSpan().SequenceEqual(y.Data), what + ": floats differ");
                    Assert.True(expectedBits.Data.AsSpan().SequenceEqual(bits.Data.AsSpan(0, n * outWords)), what + ": bits differ (or stale bits past Cout)");
                    Assert.Equal(Stale, bits.Data[n * outWords]);

                    // Each output alone gives the same.
                    var yOnly = new View(new float[n * s.OutSize], 0, s.OutSize);
                    BinaryConvKernel.ForwardFused<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, res, rp, yOnly, null, 0, default, path);
                    Assert.True(expected.Data.AsSpan().SequenceEqual(yOnly.Data), what + ": floats alone differ");
                    var bitsOnly = new BitView(new ulong[n * outWords], 0, outWords);
                    Array.Fill(bitsOnly.Data, Stale);
                    BinaryConvKernel.ForwardFused<Identity>(s, n, x, w, 0, sums, 0, scale, 0, shift, 0, res, rp, default, thr, 0, bitsOnly, path);
                    Assert.True(expectedBits.Data.AsSpan().SequenceEqual(bitsOnly.Data), what + ": bits alone differ");
                }
    }

    [Theory]
    [InlineData(70, 70, 5)]
    [InlineData(130, 33, 2)]
    [InlineData(64, 200, 49)]
    public void LinearDualOutputEqualsTheSeparatePasses(int inF, int outF, int n)
    {
        var rng = new Random(inF + outF);
        int inWords = BitPack.Words(inF), outWords = BitPack.Words(outF);
        var x = new BitView(new ulong[n * inWords], 0, inWords);
        BitPack.PackActivations(n, inF, 1, 1, new View(BitPackTests.Values(rng, n * inF), 0, inF), null, 0, x);
        var w = new ulong[BitPack.LinearWeightWords(inF, outF)];
        BitPack.PackLinearWeights(inF, outF, BitPackTests.Values(rng, inF * outF), 0, w, 0);
        var scale = TestUtil.Random(rng, outF, 0.01f, 0.2f);
        var shift = TestUtil.Random(rng, outF, -1f, 1f);
        var p = TestUtil.Random(rng, 3 * outF, -0.4f, 0.4f);
        var act = new RPReluParams(p, 0, outF, 2 * outF);
        var thr = TestUtil.Random(rng, outF, -0.3f, 0.3f);
        var res = new View(TestUtil.Random(rng, n * outF, -2f, 2f), 0, outF);
        foreach (var path in BinaryConvKernelTests.Paths())
        {
            var z = new View(new float[n * outF], 0, outF);
            BinaryConvKernel.LinearForward<Identity>(n, inF, outF, x, w, 0, scale, 0, shift, 0, z, res, path);
            var expected = new View(new float[n * outF], 0, outF);
            BinaryActivationKernel.RPReluForward(n, outF, 1, z, p, 0, outF, 2 * outF, expected);
            var expectedBits = new BitView(new ulong[n * outWords], 0, outWords);
            BitPack.PackActivations(n, outF, 1, 1, expected, thr, 0, expectedBits);

            var y = new View(new float[n * outF], 0, outF);
            var bits = new BitView(new ulong[n * outWords], 0, outWords);
            Array.Fill(bits.Data, Stale);
            BinaryConvKernel.LinearForwardFused<Identity>(n, inF, outF, x, w, 0, scale, 0, shift, 0, res, act, y, thr, 0, bits, path);
            Assert.True(expected.Data.AsSpan().SequenceEqual(y.Data), $"{path}: floats differ");
            Assert.True(expectedBits.Data.AsSpan().SequenceEqual(bits.Data), $"{path}: bits differ (or stale bits past the features)");
        }
    }

    [Fact]
    public void NoOutputIsRefused()
    {
        var s = new Conv2dShape(8, 3, 3, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1);
        var x = new BitView(new ulong[9], 0, 9);
        var w = new ulong[BitPack.ConvWeightWords(s)];
        var e = Assert.Throws<ArgumentException>(() => BinaryConvKernel.ForwardFused<Identity>(s, 1, x, w, 0, null!, 0, null, 0, null, 0, default, default, default, null, 0, default));
        Assert.Contains("floats, bits or both", e.Message);
    }
}
