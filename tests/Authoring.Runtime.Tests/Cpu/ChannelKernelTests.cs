// Bias gradient and batch copy on sliced views.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class ChannelKernelTests
{
    [Theory]
    [InlineData(1, 3, 1)]
    [InlineData(5, 7, 33)]
    [InlineData(64, 16, 196)]
    [InlineData(300, 37, 1)]
    [InlineData(6272, 64, 1)]
    public void BiasGradSumsOverBatchAndPositions(int n, int c, int hw)
    {
        var rng = new Random(n + c + hw);
        var dy = TestUtil.Sliced(rng, n, c * hw, 3, 5);
        var db = TestUtil.Random(rng, c + 2);
        var db0 = (float[])db.Clone();
        ChannelKernel.BiasGrad(n, c, hw, dy, db, 2);
        var e = new double[db.Length]; var t = new double[db.Length];
        e[0] = db0[0]; e[1] = db0[1];
        for (int ch = 0; ch < c; ch++)
        {
            double s = db0[2 + ch], mag = Math.Abs(s);
            for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) { double v = dy.Data[dy.At(b) + ch * hw + i]; s += v; mag += Math.Abs(v); }
            // Each row is summed in float, rows in double: bounded by the float bound over hw terms.
            e[2 + ch] = s; t[2 + ch] = TestUtil.SumTol(mag, hw + 1);
        }
        TestUtil.AssertClose(db, e, t, "bias grad");
    }

    /// <summary>Rows of features (hw = 1): each channel's double sum in batch order, rounded once and added in float, the
    /// same on the vector blocks of 16 channels and the scalar tail, so the result is exact to the bit.</summary>
    [Theory]
    [InlineData(7, 16)]
    [InlineData(300, 37)]
    [InlineData(1025, 64)]
    public void BiasGradOverRowsIsTheOrderedDoubleSum(int n, int c)
    {
        var rng = new Random(n * 7 + c);
        var dy = TestUtil.Sliced(rng, n, c, 3, 5);
        var db = TestUtil.Random(rng, c);
        var expected = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int b = 0; b < n; b++) s += dy.Data[dy.At(b) + ch];
            expected[ch] = db[ch] + (float)s;
        }
        ChannelKernel.BiasGrad(n, c, 1, dy, db, 0);
        Assert.Equal(expected, db);
    }

    [Theory]
    [InlineData(3, 17, false)]
    [InlineData(3, 17, true)]
    [InlineData(40, 1000, false)]
    [InlineData(40, 1000, true)]
    public void CopyWritesOrAddsEachSample(int n, int size, bool accumulate)
    {
        var rng = new Random(size);
        var src = TestUtil.Sliced(rng, n, size, 1, 2);
        var dst = TestUtil.Sliced(rng, n, size, 4, 3);
        var d0 = TestUtil.Gather(dst, n, size);
        var s = TestUtil.Gather(src, n, size);
        ChannelKernel.Copy(n, size, src, dst, accumulate);
        var got = TestUtil.Gather(dst, n, size);
        // A copy is exact; an add rounds once.
        for (int i = 0; i < got.Length; i++) Assert.Equal(accumulate ? d0[i] + s[i] : s[i], got[i]);
        TestUtil.AssertUntouchedOutside(dst, n, size);
    }
}
