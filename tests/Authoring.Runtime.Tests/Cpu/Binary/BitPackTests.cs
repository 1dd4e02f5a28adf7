// Bit packing against per-bit references: the 8 x 8 bit transpose, activations (odd channel counts,
// positions not a multiple of 8, thresholds, -0 and NaN), features, weights and their tap sums, and
// that nothing outside a packed sample (other samples, gaps, padding bits) is written.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu.Binary;

public class BitPackTests
{
    [Fact]
    public void Transpose8x8MovesEveryBitAcrossTheDiagonal()
    {
        var rng = new Random(1);
        for (int trial = 0; trial < 200; trial++)
        {
            ulong x = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 33);
            ulong t = BitPack.Transpose8x8(x);
            for (int r = 0; r < 8; r++)
                for (int c = 0; c < 8; c++)
                    Assert.Equal((x >> (8 * r + c)) & 1, (t >> (8 * c + r)) & 1);
        }
    }

    /// <summary>Random floats with exact zeros, negative zeros and values equal to the threshold mixed in.</summary>
    internal static float[] Values(Random rng, int len, float[]? thresholdPerRow = null, int rowLen = 1)
    {
        var a = new float[len];
        for (int i = 0; i < len; i++)
        {
            a[i] = rng.Next(10) switch
            {
                0 => 0f,
                1 => -0f,
                2 => thresholdPerRow is null ? 0f : thresholdPerRow[i / rowLen % thresholdPerRow.Length],
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        }
        return a;
    }

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 3, 5, 7)]    // 35 positions: four blocks of 8 and a tail of 3
    [InlineData(1, 63, 4, 4)]
    [InlineData(3, 64, 3, 3)]
    [InlineData(2, 65, 2, 9)]   // one channel in the second word
    [InlineData(1, 130, 5, 3)]  // three words, 2 channels in the last
    [InlineData(2, 17, 8, 8)]
    public void ActivationsPackAsThresholdComparisons(int n, int c, int h, int w)
    {
        foreach (bool withThreshold in new[] { false, true })
        {
            var rng = new Random(c * 31 + h + w);
            int hw = h * w, words = BitPack.ActivationWords(c, h, w), wc = BitPack.Words(c);
            float[]? th = withThreshold ? TestUtil.Random(rng, c + 3, -0.5f, 0.5f) : null;
            var data = Values(rng, 5 + n * (c * hw + 2), th, hw);
            var x = new View(data, 5, c * hw + 2);
            data[x.At(n - 1) + c * hw - 1] = float.NaN; // NaN < t is false: +1
            if (th is not null)
                for (int b = 0; b < n; b++)
                    for (int ch = 0; ch < c; ch++) data[x.At(b) + ch * hw + (b + ch) % hw] = th[1 + ch]; // on the boundary: +1
            int gap = 3, off = 2;
            var bits = new ulong[off + n * (words + gap) + 2];
            Array.Fill(bits, 0xDEADBEEFUL);
            BitPack.PackActivations(n, c, h, w, x, th, 1, new BitView(bits, off, words + gap));
            for (int b = 0; b < n; b++)
                for (int p = 0; p < hw; p++)
                    for (int j = 0; j < wc; j++)
                    {
                        ulong word = bits[off + b * (words + gap) + p * wc + j];
                        for (int bit = 0; bit < 64; bit++)
                        {
                            int ch = j * 64 + bit;
                            bool expected = ch < c && data[x.At(b) + ch * hw + p] < (th is null ? 0f : th[1 + ch]);
                            Assert.True(expected == (((word >> bit) & 1) != 0), $"sample {b} position {p} channel {ch}");
                        }
                    }
            for (int b = 0; b < n; b++)
                for (int g = 0; g < gap; g++) Assert.Equal(0xDEADBEEFUL, bits[off + b * (words + gap) + words + g]);
            Assert.Equal(0xDEADBEEFUL, bits[0]);
            Assert.Equal(0xDEADBEEFUL, bits[^1]);

            // Unpacking gives the ±1 values back.
            var back = new float[n * c * hw];
            BitPack.UnpackActivations(n, c, h, w, new BitView(bits, off, words + gap), new View(back, 0, c * hw));
            for (int b = 0; b < n; b++)
                for (int i = 0; i < c * hw; i++)
                    Assert.Equal(data[x.At(b) + i] < (th is null ? 0f : th[1 + i / hw]) ? -1f : 1f, back[b * c * hw + i]);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 63)]
    [InlineData(2, 64)]
    [InlineData(2, 65)]
    [InlineData(1, 200)]
    public void FeaturesPackAsThresholdComparisons(int n, int f)
    {
        var rng = new Random(f);
        float[] th = TestUtil.Random(rng, f + 2, -0.5f, 0.5f);
        foreach (bool withThreshold in new[] { false, true })
        {
            var data = Values(rng, 4 + n * (f + 1), withThreshold ? th : null);
            var x = new View(data, 4, f + 1);
            if (withThreshold) for (int i = 0; i < f; i += 3) data[x.At(0) + i] = th[2 + i]; // on the boundary: +1
            int words = BitPack.Words(f);
            var bits = new ulong[1 + n * (words + 1)];
            Array.Fill(bits, 0xDEADBEEFUL);
            BitPack.PackFeatures(n, f, x, withThreshold ? th : null, 2, new BitView(bits, 1, words + 1));
            for (int b = 0; b < n; b++)
            {
                for (int i = 0; i < words * 64; i++)
                {
                    bool expected = i < f && data[x.At(b) + i] < (withThreshold ? th[2 + i] : 0f);
                    Assert.Equal(expected, ((bits[1 + b * (words + 1) + i / 64] >> (i % 64)) & 1) != 0);
                }
                Assert.Equal(0xDEADBEEFUL, bits[1 + b * (words + 1) + words]);
            }
            Assert.Equal(0xDEADBEEFUL, bits[0]);
        }
    }

    [Theory]
    [InlineData(3, 5, 3, 3)]
    [InlineData(65, 17, 3, 3)]
    [InlineData(64, 16, 1, 1)]
    [InlineData(130, 33, 1, 3)]
    public void ConvWeightsPackIntoSixteenChannelBlocks(int cin, int cout, int kh, int kw)
    {
        var s = new Conv2dShape(cin, 7, 7, cout, kh, kw, 1, 1, 0, 0, 1, 1, 1);
        var rng = new Random(cin + cout);
        var w = Values(rng, s.WeightSize + 3);
        var packed = new ulong[BitPack.ConvWeightWords(s) + 2];
        Array.Fill(packed, ulong.MaxValue);
        BitPack.PackConvWeights(s, w, 3, packed, 1);
        int taps = kh * kw, wc = BitPack.Words(cin), cout16 = BitPack.PaddedChannels(cout);
        Assert.Equal(ulong.MaxValue, packed[0]);
        Assert.Equal(ulong.MaxValue, packed[^1]);
        for (int co = 0; co < cout16; co++)
            for (int t = 0; t < taps; t++)
                for (int ci = 0; ci < wc * 64; ci++)
                {
                    bool expected = co < cout && ci < cin && w[3 + (co * cin + ci) * taps + t] < 0f;
                    ulong word = packed[1 + ((co / 16 * taps + t) * wc + ci / 64) * 16 + co % 16];
                    Assert.Equal(expected, ((word >> (ci % 64)) & 1) != 0);
                }

        var sums = new int[BitPack.TapSumCount(s) + 1];
        BitPack.ConvTapSums(s, packed, 1, sums, 1);
        for (int co = 0; co < cout16; co++)
            for (int t = 0; t < taps; t++)
            {
                int expected = 0;
                for (int ci = 0; ci < cin; ci++) expected += co < cout && w[3 + (co * cin + ci) * taps + t] < 0f ? -1 : 1;
                Assert.Equal(expected, sums[1 + t * cout16 + co]);
            }
        Assert.Equal(0, sums[0]);
    }

    [Fact]
    public void PackedWeightsAreThirtyTwoTimesSmallerWhenChannelsFillWords()
    {
        var s = new Conv2dShape(256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        Assert.Equal(s.WeightSize * 4L, BitPack.ConvWeightWords(s) * 8L * 32);
        Assert.Equal(512L * 512 * 4, BitPack.LinearWeightWords(512, 512) * 8L * 32);
    }

    [Fact]
    public void GroupedWeightsAreRejected()
    {
        var s = new Conv2dShape(4, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2);
        Assert.Throws<ArgumentException>(() => BitPack.PackConvWeights(s, new float[s.WeightSize], 0, new ulong[64], 0));
    }
}
