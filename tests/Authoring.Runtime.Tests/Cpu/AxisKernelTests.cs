// Transpose, sum/mean over an axis and the run copies of Concat and Slice on inner axes, against references
// written index by index: swaps with and without a contiguous inner run (the 8 x 8 register tiles and their
// edges, the Vector512 and Vector256 runs and their tails), reductions over the last and an inner axis, batch 1,
// accumulate on and off, sliced views with sentinels.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class AxisKernelTests
{
    [Theory]
    [InlineData(1, 1, 11, 1, 13, 1)]   // a matrix transpose: one 8 x 8 tile and both edges
    [InlineData(2, 2, 16, 3, 9, 1)]    // axes with one between them
    [InlineData(3, 1, 5, 2, 4, 3)]     // short inner runs (scalar)
    [InlineData(1, 2, 3, 1, 2, 21)]    // inner runs of 16 + 4 + 1
    [InlineData(2, 1, 1, 1, 7, 9)]
    public void TransposeIsExact(int n, int outer, int a, int mid, int b, int inner)
    {
        var rng = new Random(n + outer * 3 + a * 5 + mid * 7 + b * 11 + inner);
        int size = outer * a * mid * b * inner;
        var x = TestUtil.Sliced(rng, n, size, 2, 3);
        foreach (bool accumulate in new[] { false, true })
        {
            var y = TestUtil.Sliced(rng, n, size, 1, 4);
            var y0 = TestUtil.Gather(y, n, size);
            TransposeKernel.Swap(n, outer, a, mid, b, inner, x, y, accumulate);
            var got = TestUtil.Gather(y, n, size);
            for (int s = 0; s < n; s++)
                for (int o = 0; o < outer; o++)
                    for (int ja = 0; ja < a; ja++)
                        for (int m = 0; m < mid; m++)
                            for (int jb = 0; jb < b; jb++)
                                for (int e = 0; e < inner; e++)
                                {
                                    float v = x.Data[x.At(s) + (((o * a + ja) * mid + m) * b + jb) * inner + e];
                                    int at = s * size + (((o * b + jb) * mid + m) * a + ja) * inner + e;
                                    Assert.Equal(accumulate ? y0[at] + v : v, got[at]);
                                }
            TestUtil.AssertUntouchedOutside(y, n, size);
        }
    }

    [Theory]
    [InlineData(1, 1, 37, 1)]   // last axis: a row reduction
    [InlineData(2, 3, 5, 1)]
    [InlineData(3, 2, 3, 19)]   // inner axis: rows of 16 + 3 added
    [InlineData(1, 1, 4, 8)]
    [InlineData(2, 4, 1, 5)]
    public void ReduceMatchesReference(int n, int outer, int len, int inner)
    {
        var rng = new Random(n * 13 + outer * 5 + len * 3 + inner);
        var x = TestUtil.Sliced(rng, n, outer * len * inner, 3, 2);
        foreach (float scale in new[] { 1f, 1f / len })
        {
            var y = TestUtil.Sliced(rng, n, outer * inner, 1, 3, fill: false);
            ReduceKernel.Forward(n, outer, len, inner, scale, x, y);
            var expected = new double[n * outer * inner];
            var tol = new double[expected.Length];
            for (int s = 0; s < n; s++)
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++)
                    {
                        double sum = 0, mag = 0;
                        for (int l = 0; l < len; l++) { double v = x.Data[x.At(s) + (o * len + l) * inner + i]; sum += v; mag += Math.Abs(v); }
                        int at = (s * outer + o) * inner + i;
                        expected[at] = sum * scale;
                        tol[at] = TestUtil.SumTol(mag * scale, len + 1);
                    }
            TestUtil.AssertClose(TestUtil.Gather(y, n, outer * inner), expected, tol, $"reduce scale {scale}");
            TestUtil.AssertUntouchedOutside(y, n, outer * inner);

            // Backward: scale * dy broadcast over the reduced axis (one multiply, then an add when accumulating).
            var dy = TestUtil.Sliced(rng, n, outer * inner, 2, 1);
            foreach (bool accumulate in new[] { false, true })
            {
                var dx = TestUtil.Sliced(rng, n, outer * len * inner, 0, 2);
                var dx0 = TestUtil.Gather(dx, n, outer * len * inner);
                ReduceKernel.Backward(n, outer, len, inner, scale, dy, dx, accumulate);
                var got = TestUtil.Gather(dx, n, outer * len * inner);
                for (int s = 0; s < n; s++)
                    for (int o = 0; o < outer; o++)
                        for (int l = 0; l < len; l++)
                            for (int i = 0; i < inner; i++)
                            {
                                int at = s * outer * len * inner + (o * len + l) * inner + i;
                                float v = scale * dy.Data[dy.At(s) + o * inner + i];
                                Assert.Equal(accumulate ? dx0[at] + v : v, got[at]);
                            }
                TestUtil.AssertUntouchedOutside(dx, n, outer * len * inner);
            }
        }
    }

    [Theory]
    [InlineData(1, 1, 5, 3)]
    [InlineData(3, 4, 2, 7)]
    [InlineData(2, 3, 20, 5)]
    [InlineData(2, 2, 17, 0)]
    public void ConcatAndSliceRunsAreExact(int n, int outer, int len, int at)
    {
        // A part of `len` per row placed at `at` in rows of `full`: concat writes it there, slice reads it back, and the
        // slice's gradient fills the rest of each row with zeros unless it accumulates.
        var rng = new Random(n * 7 + outer + len * 3 + at);
        int full = at + len + 4;
        var part = TestUtil.Sliced(rng, n, outer * len, 1, 2);
        var whole = TestUtil.Sliced(rng, n, outer * full, 2, 3);
        var w0 = TestUtil.Gather(whole, n, outer * full);
        AxisKernel.Copy(n, outer, len, part, len, 0, whole, full, at, false);
        var got = TestUtil.Gather(whole, n, outer * full);
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outer; o++)
                for (int c = 0; c < full; c++)
                {
                    int k = s * outer * full + o * full + c;
                    float expected = c >= at && c < at + len ? part.Data[part.At(s) + o * len + c - at] : w0[k];
                    Assert.Equal(expected, got[k]);
                }
        TestUtil.AssertUntouchedOutside(whole, n, outer * full);

        foreach (bool accumulate in new[] { false, true })
        {
            var back = TestUtil.Sliced(rng, n, outer * len, 0, 1);
            var b0 = TestUtil.Gather(back, n, outer * len);
            AxisKernel.Copy(n, outer, len, whole, full, at, back, len, 0, accumulate);
            var g = TestUtil.Gather(back, n, outer * len);
            for (int s = 0; s < n; s++)
                for (int o = 0; o < outer; o++)
                    for (int j = 0; j < len; j++)
                    {
                        int k = (s * outer + o) * len + j;
                        float v = whole.Data[whole.At(s) + o * full + at + j];
                        Assert.Equal(accumulate ? b0[k] + v : v, g[k]);
                    }
            TestUtil.AssertUntouchedOutside(back, n, outer * len);

            var dx = TestUtil.Sliced(rng, n, outer * full, 3, 2);
            var dx0 = TestUtil.Gather(dx, n, outer * full);
            AxisKernel.SliceBackward(n, outer, full, at, len, part, dx, accumulate);
            var d = TestUtil.Gather(dx, n, outer * full);
            for (int s = 0; s < n; s++)
                for (int o = 0; o < outer; o++)
                    for (int c = 0; c < full; c++)
                    {
                        int k = s * outer * full + o * full + c;
                        bool inside = c >= at && c < at + len;
                        float v = inside ? part.Data[part.At(s) + o * len + c - at] : 0f;
                        Assert.Equal(accumulate ? dx0[k] + v : v, d[k]);
                    }
            TestUtil.AssertUntouchedOutside(dx, n, outer * full);
        }
    }
}
