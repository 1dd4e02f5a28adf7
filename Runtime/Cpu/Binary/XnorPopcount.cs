// The XNOR-popcount micro-kernels: for a few output positions and one block of 16 output channels,
// popcount(a XOR w) summed over the reduction words (taps x input-channel words), where the
// position's word k is act[posOff[p] + kOff[k]] and the weights are BitPack's [k][16] block.
//
// Output channels are vector lanes (one 64-bit lane per channel, the input word broadcast), so no
// horizontal reduction is ever needed: byte counts are summed into the lanes with SAD.
//
// Four paths; the fastest one the machine has is chosen (tests and benchmarks force each):
//   Avx512: Harley-Seal carry-save adders over blocks of 8 words (ones, twos, fours per accumulator,
//           each full adder two VPTERNLOGQ), so only one in eight XOR results goes through a byte
//           popcount; the popcount is VPERMB on 6-bit fields (VBMI: count of bits 0-5 and, after a
//           16-bit shift by 6, of bits 6-7) or the classic nibble VPSHUFB without VBMI. 2 positions x 16 channels.
//           One or two groups of nine words (64 or 128 channels 3 x 3) go through a tree of five full adders
//           per group, whose four planes are counted with weight-scaled tables, over 4 positions x 16 channels.
//           Other reductions under 16 words (64 channels 3 x 3, 1 x 1 up to 960 channels) take one full adder
//           per three words and count its sum and carry planes, over 4 positions x 16 channels instead.
//   Avx2:   nibble lookup (VPSHUFB on low and high nibbles), byte counts summed for up to 31 words,
//           then VPSADBW into the 64-bit lanes. 3 positions x 8 channels, twice per block.
//   Avx2Csa: Harley-Seal as on AVX-512 with five-operation full adders (no VPTERNLOG) and nibble
//           popcounts, 1 position x 8 channels; chosen on AVX2 machines for long reductions only.
//   Scalar: POPCNT on 64-bit words (Popcnt.X64 where present), 1 position x 8 channels, twice per block.
// .NET 10 has no VPOPCNTQ intrinsic (AVX512_VPOPCNTDQ), so nothing here can use it.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

/// <summary>Which popcount implementation the binary kernels use.</summary>
internal enum XnorPath
{
    /// <summary>The fastest the machine supports.</summary>
    Auto,
    /// <summary>Scalar POPCNT on 64-bit words.</summary>
    Scalar,
    /// <summary>256-bit nibble lookup (AVX2).</summary>
    Avx2,
    /// <summary>256-bit carry-save adders (AVX2, five logic ops per full adder) with nibble-lookup popcounts.</summary>
    Avx2Csa,
    /// <summary>512-bit carry-save adders with byte-lookup popcounts (AVX-512 F/BW, VBMI when present).</summary>
    Avx512,
}

internal static unsafe class XnorPopcount
{
    /// <summary>Whether the 512-bit path can run here (intrinsics, not Vector512 in software).</summary>
    public static bool Avx512Available => Avx512F.IsSupported && Avx512BW.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Whether the 256-bit path can run here.</summary>
    public static bool Avx2Available => Avx2.IsSupported;

    /// <summary>Reduction length from which the AVX2 carry-save path beat the nibble lookup: at 72 words (512 channels, 3 x 3)
    /// it was about 10% faster, at 36 equal, below slower (one indicative run on Zen 5 with AVX-512 disabled; re-measure
    /// on AVX2-only machines with XnorPathBenchmarks).</summary>
    const int Avx2CsaWords = 64;

    /// <summary>The path <paramref name="path"/> resolves to on this machine for <paramref name="kw"/> reduction words;
    /// throws when a forced path is unsupported.</summary>
    public static XnorPath Resolve(XnorPath path, int kw) => path switch
    {
        XnorPath.Auto => Avx512Available ? XnorPath.Avx512 : Avx2Available ? (kw >= Avx2CsaWords ? XnorPath.Avx2Csa : XnorPath.Avx2) : XnorPath.Scalar,
        XnorPath.Avx512 when !Avx512Available => throw new PlatformNotSupportedException("AVX-512 F/BW is not available."),
        XnorPath.Avx2 or XnorPath.Avx2Csa when !Avx2Available => throw new PlatformNotSupportedException("AVX2 is not available."),
        _ => path,
    };

    /// <summary>Positions one call of <see cref="Tile"/> computes on <paramref name="path"/> (resolved).</summary>
    public static int Rows(XnorPath path, int kw) => path switch
    {
        XnorPath.Avx512 => Nines(kw) ? 4 : kw < Avx512CsaWords ? 4 : 2,
        XnorPath.Avx2 => 3,
        XnorPath.Avx2Csa => 2,
        _ => 1,
    };

    /// <summary>Reduction length from which the AVX-512 path uses carry-save adders; shorter reductions count every word
    /// directly over 4 positions (the adders' final counts would cost as much as they save).</summary>
    const int Avx512CsaWords = 16;

    /// <summary>Whether the AVX-512 path takes <see cref="Tile512Nines"/> for <paramref name="kw"/> words: one or two groups of
    /// nine (64 or 128 channels 3 x 3; at most 144 per byte count). 27 words and more were not measured.</summary>
    static bool Nines(int kw) => kw == 9 || kw == 18;

    /// <summary>out[i * 16 + lane] = sum over k of popcount(act[posOff[i] + kOff[k]] ^ w[k * 16 + lane]) for the
    /// <paramref name="np"/> (at most <see cref="Rows"/>) positions i; <paramref name="path"/> must be resolved.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile(XnorPath path, ulong* act, int* posOff, int np, int* kOff, int kw, ulong* w, int* o)
    {
        switch (path)
        {
            case XnorPath.Avx512:
                if (Nines(kw))
                    Tile512Nines(act, posOff, np, kOff, kw, w, o);
                else if (kw < Avx512CsaWords)
                    Tile512Direct(act, posOff, np, kOff, kw, w, o);
                else
                    Tile512(act + posOff[0], act + posOff[np > 1 ? 1 : 0], kOff, kw, w, o, np > 1);
                break;
            case XnorPath.Avx2Csa:
                for (int i = 0; i < np; i++)
                {
                    Tile256Csa(act + posOff[i], kOff, kw, w, o + i * 16);
                    Tile256Csa(act + posOff[i], kOff, kw, w + 8, o + i * 16 + 8);
                }
                break;
            case XnorPath.Avx2:
                ulong* r1 = act + posOff[np > 1 ? 1 : 0], r2 = act + posOff[np > 2 ? 2 : 0];
                Tile256(act + posOff[0], r1, r2, kOff, kw, w, o, np);
                Tile256(act + posOff[0], r1, r2, kOff, kw, w + 8, o + 8, np);
                break;
            default:
                TileScalar(act + posOff[0], kOff, kw, w, o);
                TileScalar(act + posOff[0], kOff, kw, w + 8, o + 8);
                break;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // AVX-512: Harley-Seal.

    /// <summary>Full adder on bit planes: (high, low) = carry and sum of l + b + c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<ulong> Csa(ref Vector512<ulong> l, Vector512<ulong> b, Vector512<ulong> c)
    {
        var h = Avx512F.TernaryLogic(l, b, c, 0xE8); // majority(l, b, c)
        l = Avx512F.TernaryLogic(l, b, c, 0x96);     // l ^ b ^ c
        return h;
    }

    // The lookup tables are literal constants, not static readonly fields: with tiering off (the benchmarks) a kernel
    // can be compiled before the class's static constructor has run, and then every read of a static field in a loop
    // is a helper call that clobbers all vector registers, so the JIT spilled the whole accumulator state each trip.

    /// <summary>k times the popcount of the low 6 bits of each byte index (VPERMB reads only those). k is a constant at
    /// every call, so after inlining the vector is a constant too (checked in the JIT's disassembly of the kernels); the
    /// scaled tables count a twos or fours plane straight into a ones accumulator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Low6(byte k)
    {
        byte a = k, b = (byte)(2 * k), c = (byte)(3 * k), d = (byte)(4 * k), e = (byte)(5 * k), f = (byte)(6 * k);
        return Vector512.Create((byte)0, a, a, b, a, b, b, c, a, b, b, c, b, c, c, d, a, b, b, c, b, c, c, d, b, c, c, d, c, d, d, e,
            a, b, b, c, b, c, c, d, b, c, c, d, c, d, d, e, b, c, c, d, c, d, d, e, c, d, d, e, d, e, e, f);
    }

    /// <summary>k times the popcount of the low 2 bits of each byte index: bytes 0, k, k, 2k repeated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Low2(byte k) => Vector512.Create((uint)(k << 8 | k << 16 | 2 * k << 24)).AsByte();

    /// <summary>Popcount of each nibble value, in every 128-bit lane (VPSHUFB).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Nibbles() => Vector512.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);

    /// <summary>Per-byte popcount of <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<byte> Count(Vector512<ulong> x) => Count(x, 1);

    /// <summary>Per-byte popcount of <paramref name="x"/> times <paramref name="k"/> (1, 2 or 4: a ones, twos or fours plane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Count(Vector512<ulong> x, byte k)
    {
        if (Avx512Vbmi.IsSupported)
        {
            // VPERMB reads only the low 6 bits of each index byte: bits 0-5 directly, then bits 6-7 brought down by a
            // 16-bit shift (the bits above them in the low 2 of each byte are ignored by the second table).
            var lo = Avx512Vbmi.PermuteVar64x8(Low6(k), x.AsByte());
            var hi = Avx512Vbmi.PermuteVar64x8(Low2(k), Avx512BW.ShiftRightLogical(x.AsUInt16(), 6).AsByte());
            return Avx512BW.Add(lo, hi);
        }
        var m = Vector512.Create((byte)0x0F);
        var l = Avx512BW.Shuffle(Nibbles(), x.AsByte() & m);
        var u = Avx512BW.Shuffle(Nibbles(), Avx512BW.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & m);
        var n = Avx512BW.Add(l, u);
        if (k >= 2) n = Avx512BW.Add(n, n);
        if (k >= 4) n = Avx512BW.Add(n, n);
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Sad(Vector512<byte> bytes) => Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();

    /// <summary>Two positions x 16 channels. Eights counts are bytes that take at most 8 per block: they go to the
    /// 64-bit totals every 31 blocks.</summary>
    static void Tile512(ulong* a0, ulong* a1, int* kOff, int kw, ulong* w, int* o, bool two)
    {
        // Accumulator xy: position x, channel half y. o* ones, t* twos, f* fours (bit planes); e* eights counts (bytes).
        Vector512<ulong> o00 = default, o01 = default, o10 = default, o11 = default;
        Vector512<ulong> t00 = default, t01 = default, t10 = default, t11 = default;
        Vector512<ulong> f00 = default, f01 = default, f10 = default, f11 = default;
        Vector512<ulong> s00 = default, s01 = default, s10 = default, s11 = default;
        int full = kw & ~7, k = 0;
        while (k < full)
        {
            int end = Math.Min(full, k + 31 * 8);
            Vector512<byte> e00 = default, e01 = default, e10 = default, e11 = default;
            for (; k < end; k += 8)
            {
                ulong* wk = w + (long)k * 16;
                int* ko = kOff + k;
                // Four pairs of words -> twos carries h, two pairs of those -> fours carries g, one -> eights.
                Vector512<ulong> h00a, h01a, h10a, h11a, h00b, h01b, h10b, h11b, g00a, g01a, g10a, g11a;
                Pair(wk, ko, a0, a1, ref o00, ref o01, ref o10, ref o11, out h00a, out h01a, out h10a, out h11a);
                Pair(wk + 32, ko + 2, a0, a1, ref o00, ref o01, ref o10, ref o11, out h00b, out h01b, out h10b, out h11b);
                g00a = Csa(ref t00, h00a, h00b); g01a = Csa(ref t01, h01a, h01b);
                g10a = Csa(ref t10, h10a, h10b); g11a = Csa(ref t11, h11a, h11b);
                Pair(wk + 64, ko + 4, a0, a1, ref o00, ref o01, ref o10, ref o11, out h00a, out h01a, out h10a, out h11a);
                Pair(wk + 96, ko + 6, a0, a1, ref o00, ref o01, ref o10, ref o11, out h00b, out h01b, out h10b, out h11b);
                e00 = Avx512BW.Add(e00, Count(Csa(ref f00, g00a, Csa(ref t00, h00a, h00b))));
                e01 = Avx512BW.Add(e01, Count(Csa(ref f01, g01a, Csa(ref t01, h01a, h01b))));
                if (two)
                {
                    e10 = Avx512BW.Add(e10, Count(Csa(ref f10, g10a, Csa(ref t10, h10a, h10b))));
                    e11 = Avx512BW.Add(e11, Count(Csa(ref f11, g11a, Csa(ref t11, h11a, h11b))));
                }
            }
            s00 += Sad(e00); s01 += Sad(e01); s10 += Sad(e10); s11 += Sad(e11);
        }
        // The last kw % 8 words are counted directly (at most 7 x 8 per byte).
        Vector512<byte> r00 = default, r01 = default, r10 = default, r11 = default;
        for (; k < kw; k++)
        {
            var w0 = Vector512.Load(w + (long)k * 16);
            var w1 = Vector512.Load(w + (long)k * 16 + 8);
            var x0 = Vector512.Create(a0[kOff[k]]);
            var x1 = Vector512.Create(a1[kOff[k]]);
            r00 = Avx512BW.Add(r00, Count(w0 ^ x0)); r01 = Avx512BW.Add(r01, Count(w1 ^ x0));
            r10 = Avx512BW.Add(r10, Count(w0 ^ x1)); r11 = Avx512BW.Add(r11, Count(w1 ^ x1));
        }
        if (full == 0)
        {
            // Fewer than 8 words (1 x 1 convolutions of up to 448 channels): no carry-save planes to count.
            Store(o, Sad(r00));
            Store(o + 8, Sad(r01));
            if (two) { Store(o + 16, Sad(r10)); Store(o + 24, Sad(r11)); }
            return;
        }
        Store(o, Total(s00, f00, t00, o00, r00));
        Store(o + 8, Total(s01, f01, t01, o01, r01));
        if (two)
        {
            Store(o + 16, Total(s10, f10, t10, o10, r10));
            Store(o + 24, Total(s11, f11, t11, o11, r11));
        }
    }

    /// <summary>Reductions of whole groups of nine words (see <see cref="Nines"/>): up to four positions x 16 channels, one
    /// channel half at a time. A half's nine weight vectors stay in registers for the four positions, whose activation
    /// words are broadcast into the XOR (each used once); the half is a loop, not unrolled, because unrolled the JIT shared
    /// the broadcasts between the halves and spilled them to the stack.</summary>
    static void Tile512Nines(ulong* act, int* posOff, int np, int* kOff, int kw, ulong* w, int* o)
    {
        ulong* a0 = act + posOff[0], a1 = act + posOff[np > 1 ? 1 : 0], a2 = act + posOff[np > 2 ? 2 : 0], a3 = act + posOff[np > 3 ? 3 : 0];
        for (int h = 0; h < 16; h += 8)
        {
            Vector512<byte> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int k = 0; k < kw; k += 9)
            {
                int* ko = kOff + k;
                ulong* wk = w + (long)k * 16 + h;
                var w0 = Vector512.Load(wk); var w1 = Vector512.Load(wk + 16); var w2 = Vector512.Load(wk + 32);
                var w3 = Vector512.Load(wk + 48); var w4 = Vector512.Load(wk + 64); var w5 = Vector512.Load(wk + 80);
                var w6 = Vector512.Load(wk + 96); var w7 = Vector512.Load(wk + 112); var w8 = Vector512.Load(wk + 128);
                c0 = Avx512BW.Add(c0, Tree9(a0, ko, w0, w1, w2, w3, w4, w5, w6, w7, w8));
                c1 = Avx512BW.Add(c1, Tree9(a1, ko, w0, w1, w2, w3, w4, w5, w6, w7, w8));
                c2 = Avx512BW.Add(c2, Tree9(a2, ko, w0, w1, w2, w3, w4, w5, w6, w7, w8));
                c3 = Avx512BW.Add(c3, Tree9(a3, ko, w0, w1, w2, w3, w4, w5, w6, w7, w8));
            }
            Store(o + h, Sad(c0));
            if (np > 1) Store(o + 16 + h, Sad(c1));
            if (np > 2) Store(o + 32 + h, Sad(c2));
            if (np > 3) Store(o + 48 + h, Sad(c3));
        }
    }

    /// <summary>Per-byte popcount of nine XOR words of one position (activations a[ko[j]], weights w_j): three full adders
    /// on the words, one on their sums (ones and a twos carry), one on their carries (twos and a fours carry); the four
    /// planes are counted with tables scaled by their weights, so no count is doubled afterwards. 9 XOR + 10 VPTERNLOGQ +
    /// 4 x 3 for the counts + 7 adds: 38 operations per nine words, against 45 for three adders of three words; at most
    /// 72 per byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Tree9(ulong* a, int* ko, Vector512<ulong> w0, Vector512<ulong> w1, Vector512<ulong> w2, Vector512<ulong> w3,
        Vector512<ulong> w4, Vector512<ulong> w5, Vector512<ulong> w6, Vector512<ulong> w7, Vector512<ulong> w8)
    {
        var s1 = w0 ^ Vector512.Create(a[ko[0]]);
        var c1 = Csa(ref s1, w1 ^ Vector512.Create(a[ko[1]]), w2 ^ Vector512.Create(a[ko[2]]));
        var s2 = w3 ^ Vector512.Create(a[ko[3]]);
        var c2 = Csa(ref s2, w4 ^ Vector512.Create(a[ko[4]]), w5 ^ Vector512.Create(a[ko[5]]));
        var s3 = w6 ^ Vector512.Create(a[ko[6]]);
        var c3 = Csa(ref s3, w7 ^ Vector512.Create(a[ko[7]]), w8 ^ Vector512.Create(a[ko[8]]));
        var twos = Csa(ref s1, s2, s3);
        var fours = Csa(ref c1, c2, c3);
        return Avx512BW.Add(Avx512BW.Add(Count(s1), Count(twos, 2)), Avx512BW.Add(Count(c1, 2), Count(fours, 4)));
    }

    /// <summary>Up to four positions x 16 channels for short reductions (under 16 words). Words go through one full adder
    /// per three (two VPTERNLOGQ), whose sum and carry planes are counted into ones and twos byte counts: 15 operations
    /// per three words per accumulator instead of 18 counting each word; the last kw % 3 words are counted directly. A byte
    /// takes at most 8 per word, so ones + 2 twos stays below 8 x 15 and one SAD per accumulator ends it.</summary>
    static void Tile512Direct(ulong* act, int* posOff, int np, int* kOff, int kw, ulong* w, int* o)
    {
        ulong* a0 = act + posOff[0], a1 = act + posOff[np > 1 ? 1 : 0], a2 = act + posOff[np > 2 ? 2 : 0], a3 = act + posOff[np > 3 ? 3 : 0];
        // pXY: position X, channel half Y, ones counts; qXY: twos counts.
        Vector512<byte> p00 = default, p01 = default, p10 = default, p11 = default, p20 = default, p21 = default, p30 = default, p31 = default;
        Vector512<byte> q00 = default, q01 = default, q10 = default, q11 = default, q20 = default, q21 = default, q30 = default, q31 = default;
        int k = 0, triples = kw - kw % 3;
        for (; k < triples; k += 3)
        {
            ulong* wk = w + (long)k * 16;
            var wa0 = Vector512.Load(wk); var wa1 = Vector512.Load(wk + 8);
            var wb0 = Vector512.Load(wk + 16); var wb1 = Vector512.Load(wk + 24);
            var wc0 = Vector512.Load(wk + 32); var wc1 = Vector512.Load(wk + 40);
            int ka = kOff[k], kb = kOff[k + 1], kc = kOff[k + 2];
            Adder3(a0, ka, kb, kc, wa0, wa1, wb0, wb1, wc0, wc1, ref p00, ref p01, ref q00, ref q01);
            Adder3(a1, ka, kb, kc, wa0, wa1, wb0, wb1, wc0, wc1, ref p10, ref p11, ref q10, ref q11);
            Adder3(a2, ka, kb, kc, wa0, wa1, wb0, wb1, wc0, wc1, ref p20, ref p21, ref q20, ref q21);
            Adder3(a3, ka, kb, kc, wa0, wa1, wb0, wb1, wc0, wc1, ref p30, ref p31, ref q30, ref q31);
        }
        for (; k < kw; k++)
        {
            var w0 = Vector512.Load(w + (long)k * 16);
            var w1 = Vector512.Load(w + (long)k * 16 + 8);
            int ko = kOff[k];
            var x = Vector512.Create(a0[ko]);
            p00 = Avx512BW.Add(p00, Count(w0 ^ x)); p01 = Avx512BW.Add(p01, Count(w1 ^ x));
            x = Vector512.Create(a1[ko]);
            p10 = Avx512BW.Add(p10, Count(w0 ^ x)); p11 = Avx512BW.Add(p11, Count(w1 ^ x));
            x = Vector512.Create(a2[ko]);
            p20 = Avx512BW.Add(p20, Count(w0 ^ x)); p21 = Avx512BW.Add(p21, Count(w1 ^ x));
            x = Vector512.Create(a3[ko]);
            p30 = Avx512BW.Add(p30, Count(w0 ^ x)); p31 = Avx512BW.Add(p31, Count(w1 ^ x));
        }
        Store(o, Ones2(p00, q00)); Store(o + 8, Ones2(p01, q01));
        if (np > 1) { Store(o + 16, Ones2(p10, q10)); Store(o + 24, Ones2(p11, q11)); }
        if (np > 2) { Store(o + 32, Ones2(p20, q20)); Store(o + 40, Ones2(p21, q21)); }
        if (np > 3) { Store(o + 48, Ones2(p30, q30)); Store(o + 56, Ones2(p31, q31)); }
    }

    /// <summary>Three words of one position into its two accumulators (both channel halves): a full adder, then byte
    /// counts of the sum plane into the ones and of the carry plane into the twos.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Adder3(ulong* a, int ka, int kb, int kc, Vector512<ulong> wa0, Vector512<ulong> wa1, Vector512<ulong> wb0,
        Vector512<ulong> wb1, Vector512<ulong> wc0, Vector512<ulong> wc1,
        ref Vector512<byte> ones0, ref Vector512<byte> ones1, ref Vector512<byte> twos0, ref Vector512<byte> twos1)
    {
        var xa = Vector512.Create(a[ka]); var xb = Vector512.Create(a[kb]); var xc = Vector512.Create(a[kc]);
        var u = wa0 ^ xa; var v = wb0 ^ xb; var t = wc0 ^ xc;
        ones0 = Avx512BW.Add(ones0, Count(Avx512F.TernaryLogic(u, v, t, 0x96)));
        twos0 = Avx512BW.Add(twos0, Count(Avx512F.TernaryLogic(u, v, t, 0xE8)));
        u = wa1 ^ xa; v = wb1 ^ xb; t = wc1 ^ xc;
        ones1 = Avx512BW.Add(ones1, Count(Avx512F.TernaryLogic(u, v, t, 0x96)));
        twos1 = Avx512BW.Add(twos1, Count(Avx512F.TernaryLogic(u, v, t, 0xE8)));
    }

    /// <summary>ones + 2 twos per 64-bit lane (byte sums below 120, so no byte overflows before the SAD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Ones2(Vector512<byte> ones, Vector512<byte> twos) => Sad(Avx512BW.Add(ones, Avx512BW.Add(twos, twos)));

    /// <summary>Two words (k, k+1) into the ones planes of the four accumulators; returns their twos carries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Pair(ulong* wk, int* ko, ulong* a0, ulong* a1,
        ref Vector512<ulong> o00, ref Vector512<ulong> o01, ref Vector512<ulong> o10, ref Vector512<ulong> o11,
        out Vector512<ulong> h00, out Vector512<ulong> h01, out Vector512<ulong> h10, out Vector512<ulong> h11)
    {
        var wa0 = Vector512.Load(wk); var wa1 = Vector512.Load(wk + 8);
        var wb0 = Vector512.Load(wk + 16); var wb1 = Vector512.Load(wk + 24);
        int ka = ko[0], kb = ko[1];
        var xa = Vector512.Create(a0[ka]); var xb = Vector512.Create(a0[kb]);
        h00 = Csa(ref o00, wa0 ^ xa, wb0 ^ xb);
        h01 = Csa(ref o01, wa1 ^ xa, wb1 ^ xb);
        var ya = Vector512.Create(a1[ka]); var yb = Vector512.Create(a1[kb]);
        h10 = Csa(ref o10, wa0 ^ ya, wb0 ^ yb);
        h11 = Csa(ref o11, wa1 ^ ya, wb1 ^ yb);
    }

    /// <summary>8 eights + 4 fours + 2 twos + ones + rest, per 64-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<ulong> Total(Vector512<ulong> eights, Vector512<ulong> fours, Vector512<ulong> twos, Vector512<ulong> ones, Vector512<byte> rest)
        => (eights << 3) + (Sad(Count(fours)) << 2) + (Sad(Count(twos)) << 1) + Sad(Avx512BW.Add(Count(ones), rest));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(int* o, Vector512<ulong> v) => Avx512F.ConvertToVector256Int32(v).AsInt32().Store(o);

    // ---------------------------------------------------------------------------------------------
    // AVX2: nibble lookup.

    /// <summary>Popcount of each nibble value, in both 128-bit lanes (a constant, as the 512-bit tables).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Nibbles256() => Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Count(Vector256<ulong> x, Vector256<byte> lut, Vector256<byte> m)
    {
        var lo = Avx2.Shuffle(lut, x.AsByte() & m);
        var hi = Avx2.Shuffle(lut, Avx2.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & m);
        return Avx2.Add(lo, hi);
    }

    /// <summary>Up to three positions x 8 channels (w points at lane 0 or 8 of the block; rows stride 16 words).</summary>
    static void Tile256(ulong* a0, ulong* a1, ulong* a2, int* kOff, int kw, ulong* w, int* o, int np)
    {
        var lut = Nibbles256();
        var m = Vector256.Create((byte)0x0F);
        for (int i = 0; i < 8; i++) { o[i] = 0; o[16 + i] = 0; o[32 + i] = 0; }
        int k = 0;
        while (k < kw)
        {
            // At most 8 per byte per word: flush before 32 words.
            int end = Math.Min(kw, k + 31);
            Vector256<byte> b00 = default, b01 = default, b10 = default, b11 = default, b20 = default, b21 = default;
            for (; k < end; k++)
            {
                var w0 = Vector256.Load(w + (long)k * 16);
                var w1 = Vector256.Load(w + (long)k * 16 + 4);
                int ko = kOff[k];
                var x0 = Vector256.Create(a0[ko]);
                b00 = Avx2.Add(b00, Count(w0 ^ x0, lut, m)); b01 = Avx2.Add(b01, Count(w1 ^ x0, lut, m));
                var x1 = Vector256.Create(a1[ko]);
                b10 = Avx2.Add(b10, Count(w0 ^ x1, lut, m)); b11 = Avx2.Add(b11, Count(w1 ^ x1, lut, m));
                var x2 = Vector256.Create(a2[ko]);
                b20 = Avx2.Add(b20, Count(w0 ^ x2, lut, m)); b21 = Avx2.Add(b21, Count(w1 ^ x2, lut, m));
            }
            AddLanes(o, b00, b01);
            if (np > 1) AddLanes(o + 16, b10, b11);
            if (np > 2) AddLanes(o + 32, b20, b21);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddLanes(int* o, Vector256<byte> lo, Vector256<byte> hi)
    {
        var a = Avx2.SumAbsoluteDifferences(lo, Vector256<byte>.Zero).AsInt32();
        var b = Avx2.SumAbsoluteDifferences(hi, Vector256<byte>.Zero).AsInt32();
        // The sums fit in the low dword of each 64-bit lane: gather those eight dwords in lane order.
        var both = Avx2.PermuteVar8x32(Avx2.Blend(a, Avx2.ShiftLeftLogical128BitLane(b, 4), 0b10101010), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        (Vector256.Load(o) + both).Store(o);
    }


    /// <summary>Full adder on bit planes with AVX2 logic: (carry, sum) of l + b + c in five operations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<ulong> Csa(ref Vector256<ulong> l, Vector256<ulong> b, Vector256<ulong> c)
    {
        var u = l ^ b;
        var h = (l & b) | (u & c);
        l = u ^ c;
        return h;
    }

    /// <summary>One position x 8 channels with carry-save adders over blocks of 8 words (w points at lane 0 or 8).</summary>
    static void Tile256Csa(ulong* a, int* kOff, int kw, ulong* w, int* o)
    {
        var lut = Nibbles256();
        var m = Vector256.Create((byte)0x0F);
        Vector256<ulong> o0 = default, o1 = default, t0 = default, t1 = default, f0 = default, f1 = default;
        Vector256<ulong> s0 = default, s1 = default;
        int full = kw & ~7, k = 0;
        while (k < full)
        {
            int end = Math.Min(full, k + 31 * 8);
            Vector256<byte> e0 = default, e1 = default;
            for (; k < end; k += 8)
            {
                ulong* wk = w + (long)k * 16;
                int* ko = kOff + k;
                var x0 = Vector256.Create(a[ko[0]]); var x1 = Vector256.Create(a[ko[1]]);
                var ha0 = Csa(ref o0, Vector256.Load(wk) ^ x0, Vector256.Load(wk + 16) ^ x1);
                var ha1 = Csa(ref o1, Vector256.Load(wk + 4) ^ x0, Vector256.Load(wk + 20) ^ x1);
                x0 = Vector256.Create(a[ko[2]]); x1 = Vector256.Create(a[ko[3]]);
                var hb0 = Csa(ref o0, Vector256.Load(wk + 32) ^ x0, Vector256.Load(wk + 48) ^ x1);
                var hb1 = Csa(ref o1, Vector256.Load(wk + 36) ^ x0, Vector256.Load(wk + 52) ^ x1);
                var ga0 = Csa(ref t0, ha0, hb0);
                var ga1 = Csa(ref t1, ha1, hb1);
                x0 = Vector256.Create(a[ko[4]]); x1 = Vector256.Create(a[ko[5]]);
                ha0 = Csa(ref o0, Vector256.Load(wk + 64) ^ x0, Vector256.Load(wk + 80) ^ x1);
                ha1 = Csa(ref o1, Vector256.Load(wk + 68) ^ x0, Vector256.Load(wk + 84) ^ x1);
                x0 = Vector256.Create(a[ko[6]]); x1 = Vector256.Create(a[ko[7]]);
                hb0 = Csa(ref o0, Vector256.Load(wk + 96) ^ x0, Vector256.Load(wk + 112) ^ x1);
                hb1 = Csa(ref o1, Vector256.Load(wk + 100) ^ x0, Vector256.Load(wk + 116) ^ x1);
                e0 = Avx2.Add(e0, Count(Csa(ref f0, ga0, Csa(ref t0, ha0, hb0)), lut, m));
                e1 = Avx2.Add(e1, Count(Csa(ref f1, ga1, Csa(ref t1, ha1, hb1)), lut, m));
            }
            s0 += Avx2.SumAbsoluteDifferences(e0, Vector256<byte>.Zero).AsUInt64();
            s1 += Avx2.SumAbsoluteDifferences(e1, Vector256<byte>.Zero).AsUInt64();
        }
        Vector256<byte> r0 = default, r1 = default;
        for (; k < kw; k++)
        {
            var x = Vector256.Create(a[kOff[k]]);
            r0 = Avx2.Add(r0, Count(Vector256.Load(w + (long)k * 16) ^ x, lut, m));
            r1 = Avx2.Add(r1, Count(Vector256.Load(w + (long)k * 16 + 4) ^ x, lut, m));
        }
        // 8 eights + (4 fours + 2 twos + ones + rest) as bytes (at most 32 + 16 + 8 + 56 per byte), one SAD each.
        var b0 = Avx2.Add(Avx2.Add(Count(o0, lut, m), r0), Avx2.Add(Twice(Count(t0, lut, m)), Twice(Twice(Count(f0, lut, m)))));
        var b1 = Avx2.Add(Avx2.Add(Count(o1, lut, m), r1), Avx2.Add(Twice(Count(t1, lut, m)), Twice(Twice(Count(f1, lut, m)))));
        var q0 = (s0 << 3) + Avx2.SumAbsoluteDifferences(b0, Vector256<byte>.Zero).AsUInt64();
        var q1 = (s1 << 3) + Avx2.SumAbsoluteDifferences(b1, Vector256<byte>.Zero).AsUInt64();
        var both = Avx2.PermuteVar8x32(Avx2.Blend(q0.AsInt32(), Avx2.ShiftLeftLogical128BitLane(q1.AsInt32(), 4), 0b10101010), Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
        both.Store(o);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> Twice(Vector256<byte> v) => Avx2.Add(v, v);

    // ---------------------------------------------------------------------------------------------
    // Scalar: POPCNT.

    /// <summary>One position x 8 channels (w points at lane 0 or 8 of the block).</summary>
    static void TileScalar(ulong* a, int* kOff, int kw, ulong* w, int* o)
    {
        ulong c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0, c6 = 0, c7 = 0;
        for (int k = 0; k < kw; k++)
        {
            ulong x = a[kOff[k]];
            ulong* wk = w + (long)k * 16;
            c0 += Pop(x ^ wk[0]); c1 += Pop(x ^ wk[1]); c2 += Pop(x ^ wk[2]); c3 += Pop(x ^ wk[3]);
            c4 += Pop(x ^ wk[4]); c5 += Pop(x ^ wk[5]); c6 += Pop(x ^ wk[6]); c7 += Pop(x ^ wk[7]);
        }
        o[0] = (int)c0; o[1] = (int)c1; o[2] = (int)c2; o[3] = (int)c3;
        o[4] = (int)c4; o[5] = (int)c5; o[6] = (int)c6; o[7] = (int)c7;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Pop(ulong x) => Popcnt.X64.IsSupported ? Popcnt.X64.PopCount(x) : (ulong)BitOperations.PopCount(x);
}
