// Bit packing for the XNOR-popcount kernels: weights once at deploy time, activations per call.
//
// Value <-> bit: +1 is bit 0, -1 is bit 1, and a float v packs to 1 exactly when v < threshold
// (threshold 0 unless a per-channel one is given: RSign's learnt shift). So 0 and -0 are +1, as
// Larq's sign (x >= 0 -> +1), and NaN is +1. Bits past the last channel are always 0, in weights
// and activations alike, so XOR leaves them 0 and they never count.
//
// Layouts (words are ulong, little-endian: channel c is bit c % 64 of word c / 64):
//   activations, one sample of (C, H, W):  [H][W][Wc] words, Wc = ceil(C / 64)   ("channels last")
//   features, one sample of (F):           [Wf] words, Wf = ceil(F / 64)
//   conv weights [Cout, Cin, Kh, Kw]:      [Cout16 / 16][Kh * Kw][Wc][16] words, Cout16 = Cout rounded up to 16:
//                                          16 output channels side by side per (tap, word), so one 512-bit load
//                                          (or two 256-bit ones) feeds 8 channels' XORs with one broadcast input word
//   linear weights [Out, In]:              the conv layout with Kh = Kw = 1, Cin = In
//   tap sums (derived from the weights):   [Kh * Kw][Cout16] ints, sum over input channels of the +-1 weights of
//                                          each tap: what a zero-padded tap removes from a +1-padded dot product
// 16 rows of padding channels hold zero words; their outputs are never stored.
using System.Numerics;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Packs ±1 tensors into bits for <see cref="BinaryConvKernel"/> (layouts in the file header).</summary>
public static unsafe class BitPack
{
    /// <summary>Output channels per block of packed weights.</summary>
    public const int Lanes = 16;

    /// <summary>Words of 64 bits that hold <paramref name="bits"/> bits.</summary>
    public static int Words(int bits) => (bits + 63) >> 6;

    /// <summary><paramref name="channels"/> rounded up to a whole block of <see cref="Lanes"/>.</summary>
    public static int PaddedChannels(int channels) => (channels + Lanes - 1) / Lanes * Lanes;

    /// <summary>Words of one packed (C, H, W) sample.</summary>
    public static int ActivationWords(int c, int h, int w) => h * w * Words(c);

    /// <summary>Words of the packed weights of a binary convolution (groups must be 1).</summary>
    public static int ConvWeightWords(in Conv2dShape s) => PaddedChannels(s.Cout) * s.Kh * s.Kw * Words(s.Cin);

    /// <summary>Ints of the tap sums of a binary convolution.</summary>
    public static int TapSumCount(in Conv2dShape s) => s.Kh * s.Kw * PaddedChannels(s.Cout);

    /// <summary>Words of the packed weights of a binary linear layer.</summary>
    public static int LinearWeightWords(int inF, int outF) => PaddedChannels(outF) * Words(inF);

    /// <summary>Packs conv weights [Cout, Cin, Kh, Kw] (a weight w packs to -1 when w &lt; 0) into
    /// <paramref name="packed"/>[<paramref name="packedOff"/>, + <see cref="ConvWeightWords"/>).</summary>
    public static void PackConvWeights(in Conv2dShape s, float[] w, int wOff, ulong[] packed, int packedOff)
    {
        if (s.Groups != 1) throw new ArgumentException("Binary convolutions are dense (groups = 1).", nameof(s));
        KernelUtil.Check(w, wOff, s.WeightSize, nameof(w));
        int total = ConvWeightWords(s);
        CheckWords(packed, packedOff, total, nameof(packed));
        int taps = s.Kh * s.Kw, wc = Words(s.Cin), kw = taps * wc;
        Array.Clear(packed, packedOff, total);
        for (int co = 0; co < s.Cout; co++)
        {
            int block = co / Lanes, lane = co % Lanes;
            for (int ci = 0; ci < s.Cin; ci++)
                for (int t = 0; t < taps; t++)
                    if (w[wOff + (co * s.Cin + ci) * taps + t] < 0f)
                        packed[packedOff + ((block * kw) + t * wc + (ci >> 6)) * Lanes + lane] |= 1UL << (ci & 63);
        }
    }

    /// <summary>Packs linear weights [Out, In] into <paramref name="packed"/>[<paramref name="packedOff"/>, + <see cref="LinearWeightWords"/>).</summary>
    public static void PackLinearWeights(int inF, int outF, float[] w, int wOff, ulong[] packed, int packedOff)
        => PackConvWeights(LinearShape(inF, outF), w, wOff, packed, packedOff);

    /// <summary>Tap sums of packed conv weights: sums[t * Cout16 + co] = sum over input channels of the ±1 weights of
    /// tap t. They are derived data (the deploy checkpoint stores only the bits).</summary>
    public static void ConvTapSums(in Conv2dShape s, ulong[] packed, int packedOff, int[] sums, int sumsOff)
    {
        CheckWords(packed, packedOff, ConvWeightWords(s), nameof(packed));
        int count = TapSumCount(s);
        if (sums is null) throw new ArgumentNullException(nameof(sums));
        if (sumsOff < 0 || (long)sumsOff + count > sums.Length) throw new ArgumentException("Tap sums out of range.", nameof(sums));
        int taps = s.Kh * s.Kw, wc = Words(s.Cin), kw = taps * wc, cout16 = PaddedChannels(s.Cout);
        for (int co = 0; co < cout16; co++)
        {
            int block = co / Lanes, lane = co % Lanes;
            for (int t = 0; t < taps; t++)
            {
                int ones = 0;
                for (int j = 0; j < wc; j++) ones += BitOperations.PopCount(packed[packedOff + ((block * kw) + t * wc + j) * Lanes + lane]);
                sums[sumsOff + t * cout16 + co] = s.Cin - 2 * ones;
            }
        }
    }

    /// <summary>The shape under which a linear layer runs through the convolution kernels (1 x 1 on 1 x 1 samples).</summary>
    internal static Conv2dShape LinearShape(int inF, int outF) => new(inF, 1, 1, outF, 1, 1, 1, 1, 0, 0, 1, 1, 1);

    /// <summary>Packs n NCHW samples of (c, h, w) floats into channels-last bits: bit set when x &lt; threshold[ch]
    /// (threshold null: 0; a RSign's shift otherwise).</summary>
    public static void PackActivations(int n, int c, int h, int w, View x, float[]? threshold, int thresholdOff, BitView y)
    {
        KernelUtil.Check(x, n, c * h * w, nameof(x));
        y.Check(n, ActivationWords(c, h, w), nameof(y));
        if (threshold is not null) KernelUtil.Check(threshold, thresholdOff, c, nameof(threshold));
        if (n == 0 || c == 0 || h * w == 0) return;
        fixed (float* px = x.Data, pt = threshold)
        fixed (ulong* py = y.Data)
        {
            var job = new PackJob
            {
                C = c, Hw = h * w, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Threshold = pt == null ? null : pt + thresholdOff,
            };
            job.Blocks = (job.Hw + PackJob.Pixels - 1) / PackJob.Pixels;
            int tasks = n * job.Blocks;
            if ((long)n * c * h * w < 32768) for (int i = 0; i < tasks; i++) job.Run(i);
            else WorkerPool.For(tasks, ref job);
        }
    }

    /// <summary>Packs n samples of <paramref name="f"/> features: bit set when x &lt; threshold[i] (null: 0).</summary>
    public static void PackFeatures(int n, int f, View x, float[]? threshold, int thresholdOff, BitView y)
    {
        KernelUtil.Check(x, n, f, nameof(x));
        y.Check(n, Words(f), nameof(y));
        if (threshold is not null) KernelUtil.Check(threshold, thresholdOff, f, nameof(threshold));
        fixed (float* px = x.Data, pt = threshold)
        fixed (ulong* py = y.Data)
        {
            float* t = pt == null ? null : pt + thresholdOff;
            for (int b = 0; b < n; b++)
            {
                float* s = px + x.At(b);
                ulong* d = py + y.At(b);
                int words = Words(f);
                for (int g = 0; g < words; g++)
                {
                    int c0 = g * 64;
                    ulong word = 0;
                    if (c0 + 64 <= f)
                    {
                        for (int j = 0; j < 8; j++)
                        {
                            var v = Vector256.Load(s + c0 + 8 * j);
                            var th = t == null ? Vector256<float>.Zero : Vector256.Load(t + c0 + 8 * j);
                            word |= (ulong)Vector256.LessThan(v, th).ExtractMostSignificantBits() << (8 * j);
                        }
                    }
                    else
                    {
                        for (int i = c0; i < f; i++)
                            if (s[i] < (t == null ? 0f : t[i])) word |= 1UL << (i - c0);
                    }
                    d[g] = word;
                }
            }
        }
    }

    /// <summary>The ±1 values of packed activations as NCHW floats (tests, debugging, and the float reference).</summary>
    public static void UnpackActivations(int n, int c, int h, int w, BitView x, View y)
    {
        x.Check(n, ActivationWords(c, h, w), nameof(x));
        KernelUtil.Check(y, n, c * h * w, nameof(y));
        int wc = Words(c), hw = h * w;
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++)
                for (int ch = 0; ch < c; ch++)
                {
                    ulong word = x.Data[x.At(b) + p * wc + (ch >> 6)];
                    y.Data[y.At(b) + ch * hw + p] = ((word >> (ch & 63)) & 1) != 0 ? -1f : 1f;
                }
    }

    static void CheckWords(ulong[] a, int off, int len, string name)
    {
        if (a is null) throw new ArgumentNullException(name);
        if (off < 0 || len < 0 || (long)off + len > a.Length)
            throw new ArgumentException($"{name}: range [{off}, {off + len}) is outside an array of {a.Length}.", name);
    }

    /// <summary>Transposes an 8 x 8 bit matrix held one row per byte (bit c of byte r is element (r, c)).</summary>
    internal static ulong Transpose8x8(ulong x)
    {
        // Three rounds of delta swaps (Hacker's Delight, 7-3): 1x1, 2x2 and 4x4 sub-blocks across the diagonal.
        ulong t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAUL; x ^= t ^ (t << 7);
        t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCUL; x ^= t ^ (t << 14);
        t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0UL; x ^= t ^ (t << 28);
        return x;
    }

    /// <summary>One task per (sample, block of 8 positions): 8 channels x 8 positions at a time, their compare masks
    /// (one byte per channel, a bit per position) transposed into one byte per position.</summary>
    struct PackJob : IParallelJob
    {
        public const int Pixels = 8;
        public float* X, Threshold;
        public ulong* Y;
        public int C, Hw, XStride, YStride, Blocks;

        public void Run(int index)
        {
            int b = index / Blocks, p0 = (index - b * Blocks) * Pixels;
            float* x = X + (long)b * XStride;
            ulong* y = Y + (long)b * YStride;
            int wc = Words(C), np = Math.Min(Pixels, Hw - p0);
            for (int g = 0; g < wc; g++)
            {
                ulong* row = y + (long)p0 * wc + g;
                for (int p = 0; p < np; p++) row[(long)p * wc] = 0;
                for (int j = 0; j < 8; j++)
                {
                    int c0 = g * 64 + j * 8;
                    if (c0 >= C) break;
                    ulong m = 0;
                    int cn = Math.Min(8, C - c0);
                    for (int r = 0; r < cn; r++)
                    {
                        float* s = x + (long)(c0 + r) * Hw + p0;
                        float th = Threshold == null ? 0f : Threshold[c0 + r];
                        uint bits;
                        if (np == Pixels) bits = Vector256.LessThan(Vector256.Load(s), Vector256.Create(th)).ExtractMostSignificantBits();
                        else
                        {
                            bits = 0;
                            for (int p = 0; p < np; p++) if (s[p] < th) bits |= 1u << p;
                        }
                        m |= (ulong)bits << (8 * r);
                    }
                    m = Transpose8x8(m);
                    byte* dst = (byte*)row + j;
                    for (int p = 0; p < np; p++) dst[(long)p * wc * 8] = (byte)(m >> (8 * p));
                }
            }
        }
    }
}
