// Nearest resize against a direct reference: PyTorch's float source-index rule (including sizes where
// it differs from exact arithmetic), up and down, = and += into sliced views.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class UpsampleKernelTests
{
    // C, H, W, Ho, Wo
    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 3, 3, 3, 7, 7 },      // GhostNetV2's 7x7 stage: a 2x2-average-pooled 3x3 back to 7x7, not an exact 2x
        new[] { 2, 4, 5, 8, 10 },     // exact 2x: every other output row is a copy of the one before
        new[] { 2, 7, 7, 3, 3 },      // downsampling: most inputs get no gradient
        new[] { 1, 5, 6, 5, 6 },      // identity
        new[] { 2, 3, 9, 10, 2 },     // up in H, down in W
        new[] { 3, 1, 1, 4, 5 },      // from 1x1: every output reads the one pixel
        new[] { 1, 26, 6, 22, 74 },   // float rule differs from exact arithmetic in both axes (row 11, column 37)
        new[] { 2, 6, 40, 13, 97 },   // wide rows, odd factors
    };

    static UpsampleShape Shape(int[] a) => new(a[0], a[1], a[2], a[3], a[4]);

    /// <summary>PyTorch's rule as its kernels write it: scale = (float)in / out, floorf(dst * scale), clamped.</summary>
    static int TorchSource(int dst, int inLen, int outLen) => Math.Min((int)MathF.Floor(dst * ((float)inLen / outLen)), inLen - 1);

    [Fact]
    public void SourceFollowsPyTorchsFloatArithmeticNotExactArithmetic()
    {
        // Exact arithmetic would pick floor(11 * 26 / 22) = 13, floor(37 * 6 / 74) = 3, floor(41 * 2 / 82) = 1;
        // the float scale rounds below the integer, and torch picks the one below (checked against
        // F.interpolate in Authoring.Oracle.Tests).
        Assert.Equal(12, UpsampleShape.Source(11, 26, 22));
        Assert.Equal(2, UpsampleShape.Source(37, 6, 74));
        Assert.Equal(0, UpsampleShape.Source(41, 2, 82));
        for (int i = 1; i <= 40; i++)
            for (int o = 1; o <= 40; o++)
                for (int d = 0; d < o; d++)
                    Assert.Equal(TorchSource(d, i, o), UpsampleShape.Source(d, i, o));
    }

    [Fact]
    public void ReadersAreExactlyTheOutputsThatReadEachInput()
    {
        // The ILGPU backward gathers through Readers; it must invert Source exactly, float quirks included.
        var sizes = Enumerable.Range(1, 48).Concat(new[] { 74, 82, 97, 123 }).ToArray();
        foreach (int i in sizes)
            foreach (int o in sizes)
            {
                var expected = new List<int>[i];
                for (int s = 0; s < i; s++) expected[s] = new List<int>();
                for (int d = 0; d < o; d++) expected[UpsampleShape.Source(d, i, o)].Add(d);
                for (int s = 0; s < i; s++)
                {
                    UpsampleShape.Readers(s, i, o, out int lo, out int hi);
                    Assert.True(Enumerable.Range(lo, hi - lo).SequenceEqual(expected[s]),
                        $"in {i}, out {o}, input {s}: readers [{lo}, {hi}), expected {string.Join(",", expected[s])}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardCopiesTheSourcePixel(int[] shape)
    {
        var s = Shape(shape);
        foreach (int n in new[] { 1, 3 })
        {
            var rng = new Random(n + shape.Sum());
            var x = TestUtil.Sliced(rng, n, s.InSize, 3, 5);
            var y = TestUtil.Sliced(rng, n, s.OutSize, 2, 4, fill: false);
            UpsampleKernel.NearestForward(s, n, x, y);
            var got = TestUtil.Gather(y, n, s.OutSize);
            var xs = TestUtil.Gather(x, n, s.InSize);
            for (int b = 0; b < n; b++)
                for (int c = 0; c < s.C; c++)
                    for (int oy = 0; oy < s.Ho; oy++)
                        for (int ox = 0; ox < s.Wo; ox++)
                        {
                            float expected = xs[b * s.InSize + (c * s.H + TorchSource(oy, s.H, s.Ho)) * s.W + TorchSource(ox, s.W, s.Wo)];
                            // A copy: exact.
                            Assert.Equal(expected, got[b * s.OutSize + (c * s.Ho + oy) * s.Wo + ox]);
                        }
            TestUtil.AssertUntouchedOutside(y, n, s.OutSize);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardSumsTheGradientOfEveryReader(int[] shape)
    {
        var s = Shape(shape);
        const int n = 3;
        var rng = new Random(7 + shape.Sum());
        var dy = TestUtil.Sliced(rng, n, s.OutSize, 1, 2);
        var g = TestUtil.Gather(dy, n, s.OutSize);
        var sum = new double[n * s.InSize];
        var mag = new double[n * s.InSize];
        var count = new int[n * s.InSize];
        for (int b = 0; b < n; b++)
            for (int c = 0; c < s.C; c++)
                for (int oy = 0; oy < s.Ho; oy++)
                    for (int ox = 0; ox < s.Wo; ox++)
                    {
                        int i = b * s.InSize + (c * s.H + TorchSource(oy, s.H, s.Ho)) * s.W + TorchSource(ox, s.W, s.Wo);
                        double v = g[b * s.OutSize + (c * s.Ho + oy) * s.Wo + ox];
                        sum[i] += v; mag[i] += Math.Abs(v); count[i]++;
                    }
        foreach (bool accumulate in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, s.InSize, 4, 3);
            var dx0 = TestUtil.Gather(dx, n, s.InSize);
            UpsampleKernel.NearestBackward(s, n, dy, dx, accumulate);
            var expected = new double[sum.Length];
            var tol = new double[sum.Length];
            for (int i = 0; i < sum.Length; i++)
            {
                double prior = accumulate ? dx0[i] : 0;
                expected[i] = sum[i] + prior;
                tol[i] = TestUtil.SumTol(mag[i] + Math.Abs(prior), count[i] + 1);
            }
            TestUtil.AssertClose(TestUtil.Gather(dx, n, s.InSize), expected, tol, $"backward {s} accumulate={accumulate}");
            TestUtil.AssertUntouchedOutside(dx, n, s.InSize);
        }
    }

    [Fact]
    public void RejectsEmptySizesAndShortViews()
    {
        var x = new View(new float[16], 0, 16);
        Assert.Throws<ArgumentException>(() => UpsampleKernel.NearestForward(new UpsampleShape(1, 4, 4, 0, 8), 1, x, x));
        var small = new View(new float[10], 0, 10);
        Assert.Throws<ArgumentException>(() => UpsampleKernel.NearestForward(new UpsampleShape(1, 2, 2, 4, 4), 1, x, small));
        Assert.Throws<ArgumentException>(() => UpsampleKernel.NearestBackward(new UpsampleShape(1, 2, 2, 4, 4), 1, small, x, false));
    }
}
