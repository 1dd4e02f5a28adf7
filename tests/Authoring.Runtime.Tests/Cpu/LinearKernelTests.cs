// Fully connected forward/backward against double references on sliced views, every activation.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class LinearKernelTests
{
    public static TheoryData<string> Acts => new(TestUtil.Activations);

    [Theory]
    [MemberData(nameof(Acts))]
    public void ForwardMatchesReference(string act)
    {
        // The last three are tall (rows >= LinearKernel.TallRows): on AVX-512 the product and epilogue run in registers.
        foreach (var (n, inF, outF) in new[] { (1, 5, 3), (13, 37, 19), (64, 300, 70), (1100, 64, 192), (1030, 37, 80), (2000, 128, 48) })
            foreach (bool scaled in new[] { false, true })
            {
                var rng = new Random(n + inF + outF);
                var x = TestUtil.Sliced(rng, n, inF, 2, 3);
                var y = TestUtil.Sliced(rng, n, outF, 1, 4, fill: false);
                var w = TestUtil.Random(rng, inF * outF + 2);
                float[]? scale = scaled ? TestUtil.Random(rng, outF, 0.5f, 2f) : null;
                float[]? shift = scaled ? TestUtil.Random(rng, outF + 3) : null;
                TestUtil.CallGeneric(typeof(LinearKernel), nameof(LinearKernel.Forward), act, n, inF, outF, x, w, 2, scale, 0, shift, 3, y);

                var expected = new double[n * outF];
                var tol = new double[n * outF];
                for (int b = 0; b < n; b++)
                    for (int o = 0; o < outF; o++)
                    {
                        double s = 0, mag = 0;
                        for (int i = 0; i < inF; i++) { double t = (double)x.Data[x.At(b) + i] * w[2 + o * inF + i]; s += t; mag += Math.Abs(t); }
                        double sc = scale is null ? 1 : scale[o], z = sc * s + (shift is null ? 0 : shift[3 + o]);
                        expected[b * outF + o] = TestUtil.Act(act, z);
                        tol[b * outF + o] = TestUtil.MaxSlope * (sc * TestUtil.SumTol(mag, inF) + 2 * TestUtil.U * (Math.Abs(z) + sc * mag))
                            + TestUtil.ActTol(expected[b * outF + o]);
                    }
                TestUtil.AssertClose(TestUtil.Gather(y, n, outF), expected, tol, $"linear {n}x{inF}->{outF} {act}");
                TestUtil.AssertUntouchedOutside(y, n, outF);
            }
    }

    [Theory]
    [InlineData(1, 5, 3, false)]
    [InlineData(13, 37, 19, true)]
    [InlineData(64, 300, 70, false)]
    // Tall shapes (rows >= LinearKernel.TallRows): on AVX-512 the weight gradient streams rows through registers and
    // the data gradient runs the tall forward tiles on W (input features a multiple of 16; accumulate on and off);
    // 64-wide and narrower column blocks, short last blocks of output features.
    [InlineData(2000, 64, 192, false)]
    [InlineData(1500, 48, 13, true)]
    [InlineData(1100, 128, 64, false)]
    [InlineData(1030, 80, 7, true)]
    public void BackwardMatchesReference(int n, int inF, int outF, bool accumulate)
    {
        var rng = new Random(n * 7 + inF);
        var x = TestUtil.Sliced(rng, n, inF, 2, 3);
        var dy = TestUtil.Sliced(rng, n, outF, 4, 1);
        var dx = TestUtil.Sliced(rng, n, inF, 3, 2);
        var dx0 = TestUtil.Gather(dx, n, inF);
        var w = TestUtil.Random(rng, inF * outF + 1);
        var dw = TestUtil.Random(rng, inF * outF + 5);
        var dw0 = (float[])dw.Clone();
        LinearKernel.BackwardData(n, inF, outF, dy, w, 1, dx, accumulate);
        LinearKernel.BackwardWeights(n, inF, outF, x, dy, dw, 5);

        var eDx = new double[n * inF]; var tDx = new double[n * inF];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < inF; i++)
            {
                double s = accumulate ? dx0[b * inF + i] : 0, mag = Math.Abs(s);
                for (int o = 0; o < outF; o++) { double t = (double)dy.Data[dy.At(b) + o] * w[1 + o * inF + i]; s += t; mag += Math.Abs(t); }
                eDx[b * inF + i] = s; tDx[b * inF + i] = TestUtil.SumTol(mag, outF + 1);
            }
        TestUtil.AssertClose(TestUtil.Gather(dx, n, inF), eDx, tDx, "linear dx");
        TestUtil.AssertUntouchedOutside(dx, n, inF);

        var eDw = new double[dw.Length]; var tDw = new double[dw.Length];
        for (int i = 0; i < 5; i++) eDw[i] = dw0[i];
        for (int o = 0; o < outF; o++)
            for (int i = 0; i < inF; i++)
            {
                double s = dw0[5 + o * inF + i], mag = Math.Abs(s);
                for (int b = 0; b < n; b++) { double t = (double)dy.Data[dy.At(b) + o] * x.Data[x.At(b) + i]; s += t; mag += Math.Abs(t); }
                eDw[5 + o * inF + i] = s; tDw[5 + o * inF + i] = TestUtil.SumTol(mag, n + 1);
            }
        TestUtil.AssertClose(dw, eDw, tDw, "linear dw");
    }
}
