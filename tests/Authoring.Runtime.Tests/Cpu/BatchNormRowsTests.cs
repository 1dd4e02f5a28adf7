// BatchNorm over rows of features (hw = 1, BatchNormKernel.Rows.cs): training forward, running statistics, backward
// and the evaluation affine, against double references with the rows path's own (tighter) bounds, and against the
// channel path on the same values laid out channel-major ((1, C, rows): the channel path's only layout now that
// hw = 1 takes the rows path). Row counts 2, 3, 257 and 1000 (several chunks, a short last one), feature counts that
// are not multiples of 16 or 8; run on both vector widths by scripts/test.sh (DOTNET_EnableAVX512=0 for the 256-bit).
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class BatchNormRowsTests
{
    const float Momentum = 0.1f, Eps = 1e-5f;
    const double U = TestUtil.U;

    /// <summary>Relative error of the rows path's statistics before their rounding to float: double sums of at most a
    /// few thousand float terms and Chan's merge, about rows * 2^-53; 1e-12 bounds it for every shape here.</summary>
    const double DoubleRel = 1e-12;

    public static TheoryData<string> Acts => new(TestUtil.Activations);

    static readonly (int Rows, int C)[] Shapes = [(2, 5), (3, 1), (3, 17), (257, 67), (257, 5), (1000, 64), (1000, 13), (40, 130)];

    sealed record Stats(double[] Mean, double[] Var, double[] InvStd, double[] AbsMean);

    /// <summary>Two-pass double statistics of the rows layout x[r * stride + f].</summary>
    static Stats Reference(int rows, int c, View x)
    {
        var mean = new double[c]; var var = new double[c]; var inv = new double[c]; var abs = new double[c];
        for (int f = 0; f < c; f++)
        {
            double s = 0, a = 0;
            for (int r = 0; r < rows; r++) { double v = x.Data[x.At(r) + f]; s += v; a += Math.Abs(v); }
            mean[f] = s / rows; abs[f] = a / rows;
            double q = 0;
            for (int r = 0; r < rows; r++) { double d = x.Data[x.At(r) + f] - mean[f]; q += d * d; }
            var[f] = q / rows; inv[f] = 1 / Math.Sqrt(var[f] + Eps);
        }
        return new Stats(mean, var, inv, abs);
    }

    /// <summary>Rows of features with an offset mean per feature (two-pass variance matters), in a strided buffer;
    /// parameters [pad 1 | gamma | beta | running mean | running var].</summary>
    static (View x, float[] p) Inputs(Random rng, int rows, int c)
    {
        var x = TestUtil.Sliced(rng, rows, c, 3, 2);
        for (int r = 0; r < rows; r++) for (int f = 0; f < c; f++) x.Data[x.At(r) + f] = 2 * x.Data[x.At(r) + f] + 0.7f + 0.1f * (f % 7);
        var p = new float[1 + 4 * c];
        for (int i = 0; i < c; i++)
        {
            p[1 + i] = 0.5f + (float)rng.NextDouble();
            p[1 + c + i] = (float)rng.NextDouble() - 0.5f;
            p[1 + 2 * c + i] = (float)rng.NextDouble() - 0.5f;
            p[1 + 3 * c + i] = 0.5f + (float)rng.NextDouble();
        }
        return (x, p);
    }

    /// <summary>The same values channel-major: one sample of (C, rows), the channel path's layout.</summary>
    static View ChannelMajor(View x, int rows, int c)
    {
        var d = new float[c * rows];
        for (int r = 0; r < rows; r++) for (int f = 0; f < c; f++) d[f * rows + r] = x.Data[x.At(r) + f];
        return new View(d, 0, c * rows);
    }

    static float[] BackToRows(View v, int rows, int c)
    {
        var d = new float[rows * c];
        for (int r = 0; r < rows; r++) for (int f = 0; f < c; f++) d[r * c + f] = v.Data[v.At(0) + f * rows + r];
        return d;
    }

    /// <summary>Expected y and its bound, for statistics of relative error <paramref name="rel"/> (before the rounding to
    /// float) and the affine a = fl(gamma invstd), b = fl(beta - fl(mean a)), z = fma(x, a, b): a is off by
    /// (rel + 2u) |A| (A = gamma invstd), b by u |beta| + (rel + 4u) |mean A| + rel |A| absMean, z by a further u |z|.</summary>
    static (double[] E, double[] T) ForwardBound(string act, int rows, int c, View x, float[] p, Stats st, double rel)
    {
        var e = new double[rows * c]; var t = new double[rows * c];
        for (int r = 0; r < rows; r++)
            for (int f = 0; f < c; f++)
            {
                double xv = x.Data[x.At(r) + f], g = p[1 + f], be = p[1 + c + f], a = g * st.InvStd[f];
                double z = a * (xv - st.Mean[f]) + be;
                e[r * c + f] = TestUtil.Act(act, z);
                double zTol = (rel + 2 * U) * Math.Abs(a * xv) + U * Math.Abs(be) + (rel + 4 * U) * Math.Abs(st.Mean[f] * a)
                    + rel * a * st.AbsMean[f] + U * Math.Abs(z);
                t[r * c + f] = TestUtil.MaxSlope * zTol + TestUtil.ActTol(e[r * c + f]);
            }
        return (e, t);
    }

    [Theory]
    [MemberData(nameof(Acts))]
    public void ForwardTrainIsWithinTheRowsPathsBoundsAndAgreesWithTheChannelPath(string act)
    {
        foreach (var (rows, c) in Shapes)
        {
            var rng = new Random(rows * 31 + c);
            var (x, p) = Inputs(rng, rows, c);
            var p0 = (float[])p.Clone();
            var pc = (float[])p.Clone();
            var y = TestUtil.Sliced(rng, rows, c, 1, 4, fill: false);
            var save = new float[2 * c + 2];
            TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.ForwardTrain), act,
                rows, c, 1, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 2, y);
            var st = Reference(rows, c, x);
            string what = $"rows {act} {rows}x{c}";
            for (int f = 0; f < c; f++)
            {
                // One rounding to float of a value good to DoubleRel.
                Assert.True(Math.Abs(st.Mean[f] - save[2 + f]) <= U * Math.Abs(st.Mean[f]) + DoubleRel * st.AbsMean[f], $"{what} mean[{f}]");
                Assert.True(Math.Abs(st.InvStd[f] - save[2 + c + f]) <= (U + DoubleRel) * st.InvStd[f], $"{what} invstd[{f}]");
                double rm = (1.0 - Momentum) * p0[1 + 2 * c + f] + Momentum * st.Mean[f];
                double rv = (1.0 - Momentum) * p0[1 + 3 * c + f] + Momentum * st.Var[f] * rows / (rows - 1);
                // Computed in double from the float mean (off by u |mean|), rounded once.
                Assert.True(Math.Abs(rm - p[1 + 2 * c + f]) <= U * Math.Abs(rm) + Momentum * (U * Math.Abs(st.Mean[f]) + DoubleRel * st.AbsMean[f]) + 1e-30, $"{what} running mean[{f}]");
                Assert.True(Math.Abs(rv - p[1 + 3 * c + f]) <= (U + DoubleRel) * rv, $"{what} running var[{f}]");
            }
            var (e, t) = ForwardBound(act, rows, c, x, p0, st, DoubleRel + U);
            var got = TestUtil.Gather(y, rows, c);
            TestUtil.AssertClose(got, e, t, what);
            TestUtil.AssertUntouchedOutside(y, rows, c);

            // The channel path on the same values: its statistics sum float rows of length `rows` (the existing
            // BatchNormKernelTests' bound 2 SumTol(1, rows)), so the two agree within the sum of both bounds.
            var xc = ChannelMajor(x, rows, c);
            var yc = new View(new float[c * rows], 0, c * rows);
            var savec = new float[2 * c];
            TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.ForwardTrain), act,
                1, c, rows, xc, pc, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, savec, 0, yc);
            double relC = TestUtil.SumTol(1, rows) * 2;
            var (_, tc) = ForwardBound(act, rows, c, x, p0, st, relC);
            var chan = BackToRows(yc, rows, c);
            for (int i = 0; i < rows * c; i++)
                Assert.True(Math.Abs(got[i] - chan[i]) <= t[i] + tc[i], $"{what}: [{i}] rows {got[i]}, channel {chan[i]}");
            for (int f = 0; f < c; f++)
            {
                Assert.True(Math.Abs(save[2 + f] - savec[f]) <= (U + DoubleRel + relC) * st.AbsMean[f] + U * Math.Abs(st.Mean[f]), $"{what} mean vs channel [{f}]");
                Assert.True(Math.Abs(save[2 + c + f] - savec[c + f]) <= (2 * U + DoubleRel + relC) * st.InvStd[f], $"{what} invstd vs channel [{f}]");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Acts))]
    public void BackwardTrainIsWithinTheRowsPathsBoundsAndAgreesWithTheChannelPath(string act)
    {
        foreach (var (rows, c) in Shapes)
            foreach (bool acc in new[] { false, true })
            {
                var rng = new Random(rows * 7 + c + (acc ? 1 : 0));
                var (x, p) = Inputs(rng, rows, c);
                var save = new float[2 * c];
                var y = TestUtil.Sliced(rng, rows, c, 0, 0, fill: false);
                BatchNormKernel.ForwardTrain<Identity>(rows, c, 1, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y);
                var dy = TestUtil.Sliced(rng, rows, c, 2, 3);
                var dx = TestUtil.Sliced(rng, rows, c, 1, 1);
                var dx0 = TestUtil.Gather(dx, rows, c);
                var grads = TestUtil.Random(rng, 2 * c + 1);
                var g0 = (float[])grads.Clone();
                TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.BackwardTrain), act,
                    rows, c, 1, x, dy, p, 1, 1 + c, save, 0, dx, acc, grads, 1, 1 + c);
                string what = $"rows backward {act} {rows}x{c} acc={acc}";
                var st = Reference(rows, c, x);
                var (e, t, eg, tg) = BackwardBound(act, rows, c, x, dy, p, st, dx0, acc, g0, DoubleRel + U, U);
                var got = TestUtil.Gather(dx, rows, c);
                TestUtil.AssertClose(got, e, t, what);
                TestUtil.AssertUntouchedOutside(dx, rows, c);
                TestUtil.AssertClose(grads, eg, tg, what + " dgamma/dbeta");

                // The channel path on the same values (its saved statistics, its float row sums: 2 SumTol(., rows)).
                var xc = ChannelMajor(x, rows, c);
                var savec = new float[2 * c];
                var pc = (float[])p.Clone();
                BatchNormKernel.ForwardTrain<Identity>(1, c, rows, xc, pc, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, savec, 0, new View(new float[c * rows], 0, c * rows));
                var dyc = ChannelMajor(dy, rows, c);
                var dxc = ChannelMajor(new View(dx0, 0, c), rows, c);
                var gc = (float[])g0.Clone();
                TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.BackwardTrain), act,
                    1, c, rows, xc, dyc, p, 1, 1 + c, savec, 0, dxc, acc, gc, 1, 1 + c);
                double relC = TestUtil.SumTol(1, rows) * 2;
                var (_, tC, _, tgC) = BackwardBound(act, rows, c, x, dy, p, st, dx0, acc, g0, relC, relC);
                var chan = BackToRows(dxc, rows, c);
                for (int i = 0; i < rows * c; i++)
                    Assert.True(Math.Abs(got[i] - chan[i]) <= t[i] + tC[i], $"{what}: dx[{i}] rows {got[i]}, channel {chan[i]}");
                for (int i = 0; i < grads.Length; i++)
                    Assert.True(Math.Abs(grads[i] - gc[i]) <= tg[i] + tgC[i], $"{what}: grads[{i}] rows {grads[i]}, channel {gc[i]}");
            }
    }

    /// <summary>Expected dx and parameter gradients with bounds, for statistics of relative error <paramref name="rel"/>
    /// and sums of relative error <paramref name="sumRel"/> (the rows path: double sums rounded once to float, u; the
    /// channel path: float row sums, 2 SumTol). Same derivation as BatchNormKernelTests.BackwardTrainMatchesReference.</summary>
    static (double[] E, double[] T, double[] EG, double[] TG) BackwardBound(string act, int rows, int c, View x, View dy, float[] p, Stats st,
        float[] dx0, bool acc, float[] g0, double rel, double sumRel)
    {
        var e = new double[rows * c]; var t = new double[rows * c];
        var eg = g0.Select(v => (double)v).ToArray(); var tg = new double[g0.Length];
        for (int f = 0; f < c; f++)
        {
            double gam = p[1 + f], be = p[1 + c + f], inv = st.InvStd[f];
            double sumG = 0, sumGX = 0, magG = 0, magGX = 0, gErrSum = 0, gxErrSum = 0;
            var gv = new double[rows]; var xh = new double[rows]; var gErr = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                xh[r] = (x.Data[x.At(r) + f] - st.Mean[f]) * inv;
                double z = gam * xh[r] + be, d = dy.Data[dy.At(r) + f];
                gv[r] = d * TestUtil.ActDerivative(act, z);
                // xhat in float: off by rel (|xhat| + |mean| invstd) + 2u |xhat|; act'' <= 1 for every activation here.
                double zTol = gam * (inv * rel * st.AbsMean[f] + Math.Abs(xh[r]) * rel) + 8 * U * (Math.Abs(z) + Math.Abs(gam * xh[r]) + 1);
                gErr[r] = Math.Abs(d) * (zTol + TestUtil.ActTol(1));
                sumG += gv[r]; sumGX += gv[r] * xh[r]; magG += Math.Abs(gv[r]); magGX += Math.Abs(gv[r] * xh[r]);
                gErrSum += gErr[r]; gxErrSum += gErr[r] * Math.Abs(xh[r]) + Math.Abs(gv[r]) * rel * (Math.Abs(xh[r]) + 1);
            }
            double sumGTol = gErrSum + sumRel * magG, sumGXTol = gxErrSum + sumRel * magGX;
            eg[1 + c + f] += sumG; tg[1 + c + f] = sumGTol + 2 * U * (Math.Abs(g0[1 + c + f]) + Math.Abs(sumG));
            eg[1 + f] += sumGX; tg[1 + f] = sumGXTol + 2 * U * (Math.Abs(g0[1 + f]) + Math.Abs(sumGX));
            for (int r = 0; r < rows; r++)
            {
                int k = r * c + f;
                double prior = acc ? dx0[k] : 0;
                double d = gam * inv * (gv[r] - sumG / rows - xh[r] * sumGX / rows);
                e[k] = prior + d;
                t[k] = gam * inv * (gErr[r] + sumGTol / rows + Math.Abs(xh[r]) * sumGXTol / rows + rel * (Math.Abs(xh[r]) + 1) * Math.Abs(sumGX) / rows)
                    + rel * Math.Abs(d) + 8 * U * (Math.Abs(prior) + gam * inv * (Math.Abs(gv[r]) + Math.Abs(sumG / rows) + Math.Abs(xh[r] * sumGX / rows)));
            }
        }
        return (e, t, eg, tg);
    }

    [Fact]
    public void AffineOverRowsIncludingOneRow()
    {
        foreach (var (rows, c) in new[] { (1, 5), (1, 64), (3, 17), (257, 67) })
        {
            var rng = new Random(rows + c);
            var x = TestUtil.Sliced(rng, rows, c, 2, 3);
            var scale = TestUtil.Random(rng, c + 1); var shift = TestUtil.Random(rng, c + 2);
            var y = TestUtil.Sliced(rng, rows, c, 1, 2, fill: false);
            BatchNormKernel.Affine<Relu6>(rows, c, 1, x, scale, 1, shift, 2, y);
            var e = new double[rows * c]; var t = new double[rows * c];
            for (int r = 0; r < rows; r++)
                for (int f = 0; f < c; f++)
                {
                    double z = (double)scale[1 + f] * x.Data[x.At(r) + f] + shift[2 + f];
                    e[r * c + f] = TestUtil.Act("Relu6", z);
                    t[r * c + f] = 2 * U * (Math.Abs(z) + Math.Abs(shift[2 + f])); // one fused multiply-add, rounded once
                }
            TestUtil.AssertClose(TestUtil.Gather(y, rows, c), e, t, $"affine rows {rows}x{c}");
            TestUtil.AssertUntouchedOutside(y, rows, c);
        }
    }

    [Fact]
    public void TrainingOnOneRowIsRefused()
    {
        var rng = new Random(5);
        var (x, p) = Inputs(rng, 1, 7);
        var y = TestUtil.Sliced(rng, 1, 7, 0, 0, fill: false);
        Assert.Throws<ArgumentException>(() => BatchNormKernel.ForwardTrain<Identity>(1, 7, 1, x, p, 1, 8, 15, 22, Momentum, Eps, new float[14], 0, y));
    }

    [Fact]
    public void ANonFiniteValueInALaterChunkLeavesTheRunningStatisticsAndReturnsFalse()
    {
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            int rows = 1000, c = 67;
            var rng = new Random(9);
            var (x, p) = Inputs(rng, rows, c);
            x.Data[x.At(rows - 2) + c - 1] = bad;
            var p0 = (float[])p.Clone();
            var save = new float[2 * c];
            var y = TestUtil.Sliced(rng, rows, c, 0, 0, fill: false);
            Assert.False(BatchNormKernel.ForwardTrain<Relu>(rows, c, 1, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y));
            Assert.Equal(p0, p);
            Assert.False(float.IsFinite(save[c - 1]) && float.IsFinite(save[2 * c - 1]));
            var st = Reference(rows, c, x);
            for (int f = 0; f < c - 1; f++) Assert.True(Math.Abs(st.Mean[f] - save[f]) <= U * Math.Abs(st.Mean[f]) + DoubleRel * st.AbsMean[f]);
        }
    }

    /// <summary>Runs one training forward and backward from inside a pool job, where the kernels run inline.</summary>
    struct Nested : IParallelJob
    {
        public Action Body;
        public void Run(int index) => Body();
    }

    [Fact]
    public void ResultsDoNotDependOnHowTheChunksAreScheduled()
    {
        // The chunks and their merge order depend on the shape only: the pool's parallel run and an inline run (a call
        // made from inside a job) give bit-identical statistics, outputs and gradients.
        int rows = 1000, c = 67;
        float[] Run(bool nested)
        {
            var rng = new Random(3);
            var (x, p) = Inputs(rng, rows, c);
            var save = new float[2 * c];
            var y = new View(new float[rows * c], 0, c);
            var dy = TestUtil.Sliced(rng, rows, c, 0, 0);
            var dx = new View(new float[rows * c], 0, c);
            var g = new float[1 + 2 * c];
            void Body()
            {
                BatchNormKernel.ForwardTrain<Relu>(rows, c, 1, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y);
                BatchNormKernel.BackwardTrain<Relu>(rows, c, 1, x, dy, p, 1, 1 + c, save, 0, dx, false, g, 1, 1 + c);
            }
            if (nested)
            {
                var job = new Nested { Body = Body };
                WorkerPool.For(1, ref job);
            }
            else Body();
            return [.. p, .. save, .. y.Data, .. dx.Data, .. g];
        }
        Assert.Equal(Run(false), Run(true));
    }
}
