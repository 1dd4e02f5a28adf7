// BatchNorm training forward/backward with every fused activation, running-stat update as PyTorch,
// eval folding and the standalone affine, against double references.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class BatchNormKernelTests
{
    public static TheoryData<string> Acts => new(TestUtil.Activations);

    // Parameter block layout inside p: [pad 1 | gamma | beta | mean | var].
    const float Momentum = 0.1f, Eps = 1e-5f;

    sealed record Stats(double[] Mean, double[] Var, double[] InvStd, double[] AbsMean);

    static Stats Reference(int n, int c, int hw, View x)
    {
        var mean = new double[c]; var var = new double[c]; var inv = new double[c]; var abs = new double[c];
        int count = n * hw;
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0, a = 0;
            for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) { double v = x.Data[x.At(b) + ch * hw + i]; s += v; a += Math.Abs(v); }
            mean[ch] = s / count; abs[ch] = a / count;
            double q = 0;
            for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) { double d = x.Data[x.At(b) + ch * hw + i] - mean[ch]; q += d * d; }
            var[ch] = q / count; inv[ch] = 1 / Math.Sqrt(var[ch] + Eps);
        }
        return new Stats(mean, var, inv, abs);
    }

    static (View x, float[] p) Inputs(Random rng, int n, int c, int hw)
    {
        // An offset mean (0.7) exercises the two-pass variance.
        var x = TestUtil.Sliced(rng, n, c * hw, 3, 2);
        for (int b = 0; b < n; b++) for (int i = 0; i < c * hw; i++) x.Data[x.At(b) + i] = 2 * x.Data[x.At(b) + i] + 0.7f;
        var p = new float[1 + 4 * c];
        for (int i = 0; i < c; i++)
        {
            p[1 + i] = 0.5f + (float)rng.NextDouble();         // gamma
            p[1 + c + i] = (float)rng.NextDouble() - 0.5f;     // beta
            p[1 + 2 * c + i] = (float)rng.NextDouble() - 0.5f; // running mean
            p[1 + 3 * c + i] = 0.5f + (float)rng.NextDouble(); // running var
        }
        return (x, p);
    }

    /// <summary>Relative error of the statistics: float row sums over hw terms (16 sqrt(hw) u, see SumTol), rows summed in double.</summary>
    static double StatRel(int hw) => TestUtil.SumTol(1, hw) * 2;

    [Theory]
    [MemberData(nameof(Acts))]
    public void ForwardTrainMatchesPyTorchSemantics(string act)
    {
        foreach (var (n, c, hw) in new[] { (4, 3, 49), (16, 5, 1), (3, 2, 35) })
        {
            var rng = new Random(n + c + hw);
            var (x, p) = Inputs(rng, n, c, hw);
            var p0 = (float[])p.Clone();
            var y = TestUtil.Sliced(rng, n, c * hw, 1, 4, fill: false);
            var save = new float[2 * c + 2];
            TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.ForwardTrain), act,
                n, c, hw, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 2, y);
            var st = Reference(n, c, hw, x);
            double rel = StatRel(hw);
            int count = n * hw;
            for (int ch = 0; ch < c; ch++)
            {
                Assert.Equal(st.Mean[ch], save[2 + ch], rel * st.AbsMean[ch]);
                Assert.Equal(st.InvStd[ch], save[2 + c + ch], rel * st.InvStd[ch]);
                double rm = (1 - Momentum) * p0[1 + 2 * c + ch] + Momentum * st.Mean[ch];
                double rv = (1 - Momentum) * p0[1 + 3 * c + ch] + Momentum * st.Var[ch] * count / (count - 1);
                Assert.Equal(rm, p[1 + 2 * c + ch], rel * (Math.Abs(rm) + st.AbsMean[ch]) + 4 * TestUtil.U * Math.Abs(rm));
                Assert.Equal(rv, p[1 + 3 * c + ch], rel * rv * 2 + 4 * TestUtil.U * rv);
            }
            var e = new double[n * c * hw]; var t = new double[n * c * hw];
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < hw; i++)
                    {
                        double xv = x.Data[x.At(b) + ch * hw + i], g = p[1 + ch], be = p[1 + c + ch];
                        double xh = (xv - st.Mean[ch]) * st.InvStd[ch], z = g * xh + be;
                        int k = (b * c + ch) * hw + i;
                        e[k] = TestUtil.Act(act, z);
                        // Statistic errors through gamma, plus the rounding of z = a x + b with a = gamma invstd.
                        double zTol = g * (st.InvStd[ch] * rel * st.AbsMean[ch] + Math.Abs(xh) * rel)
                            + 8 * TestUtil.U * (Math.Abs(xv * g * st.InvStd[ch]) + Math.Abs(st.Mean[ch] * g * st.InvStd[ch]) + Math.Abs(be));
                        t[k] = TestUtil.MaxSlope * zTol + TestUtil.ActTol(e[k]);
                    }
            TestUtil.AssertClose(TestUtil.Gather(y, n, c * hw), e, t, $"bn forward {act} {n}x{c}x{hw}");
            TestUtil.AssertUntouchedOutside(y, n, c * hw);
        }
    }

    [Fact]
    public void ANonFiniteBatchLeavesEveryRunningStatisticOfTheLayerAndReturnsFalse()
    {
        // One bad value in one channel (NaN, an infinity, or values whose float row sum overflows) poisons that channel's
        // batch statistics; the running statistics of all channels stay bit for bit, and the call says so.
        foreach (var (n, c, hw) in new[] { (4, 3, 49), (2, 5, 1), (3, 17, 35) })
            foreach (string bad in new[] { "nan", "+inf", "-inf", "overflow" })
            {
                if (bad == "overflow" && hw == 1) continue; // rows are summed in float, batches in double: one value per row cannot overflow
                var rng = new Random(n * c + hw);
                var (x, p) = Inputs(rng, n, c, hw);
                int ch = c - 1; // the last channel: the check must look at every channel, not only the first
                switch (bad)
                {
                    case "nan": x.Data[x.At(n - 1) + ch * hw + hw / 2] = float.NaN; break;
                    case "+inf": x.Data[x.At(0) + ch * hw] = float.PositiveInfinity; break;
                    case "-inf": x.Data[x.At(0) + ch * hw + hw - 1] = float.NegativeInfinity; break;
                    default: for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) x.Data[x.At(b) + ch * hw + i] = 3e38f; break;
                }
                var p0 = (float[])p.Clone();
                var y = TestUtil.Sliced(rng, n, c * hw, 1, 4, fill: false);
                var save = new float[2 * c];
                bool updated = BatchNormKernel.ForwardTrain<Relu>(n, c, hw, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y);
                Assert.False(updated, $"{bad} {n}x{c}x{hw}");
                Assert.Equal(p0, p);
                // The healthy channels' batch statistics were still computed (backward uses them).
                var st = Reference(n, c, hw, x);
                for (int k = 0; k < ch; k++) Assert.Equal(st.Mean[k], save[k], StatRel(hw) * st.AbsMean[k]);

                // The same layer on a finite batch updates and says so.
                var (x2, _) = Inputs(rng, n, c, hw);
                Assert.True(BatchNormKernel.ForwardTrain<Relu>(n, c, hw, x2, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y));
                Assert.NotEqual(p0[1 + 2 * c], p[1 + 2 * c]);
            }
    }

    [Theory]
    [MemberData(nameof(Acts))]
    public void BackwardTrainMatchesReference(string act)
    {
        // Rows of 49, 196 (a part vector after whole ones, both widths), 12 (one 256-bit vector and a part), 7 (scalar) and 1.
        foreach (var (n, c, hw, acc) in new[] { (4, 3, 49, false), (16, 5, 1, true), (3, 2, 35, true), (2, 3, 196, true), (3, 2, 12, false), (2, 2, 7, true) })
        {
            var rng = new Random(n * c + hw);
            var (x, p) = Inputs(rng, n, c, hw);
            var save = new float[2 * c];
            var y = TestUtil.Sliced(rng, n, c * hw, 0, 0, fill: false);
            BatchNormKernel.ForwardTrain<Identity>(n, c, hw, x, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Momentum, Eps, save, 0, y);
            var dy = TestUtil.Sliced(rng, n, c * hw, 2, 3);
            var dx = TestUtil.Sliced(rng, n, c * hw, 1, 1);
            var dx0 = TestUtil.Gather(dx, n, c * hw);
            var grads = TestUtil.Random(rng, 2 * c + 1);
            var g0 = (float[])grads.Clone();
            TestUtil.CallGeneric(typeof(BatchNormKernel), nameof(BatchNormKernel.BackwardTrain), act,
                n, c, hw, x, dy, p, 1, 1 + c, save, 0, dx, acc, grads, 1, 1 + c);

            var st = Reference(n, c, hw, x);
            double rel = StatRel(hw);
            int count = n * hw;
            var e = new double[n * c * hw]; var t = new double[n * c * hw];
            for (int ch = 0; ch < c; ch++)
            {
                double gam = p[1 + ch], be = p[1 + c + ch], inv = st.InvStd[ch];
                double sumG = 0, sumGX = 0, magG = 0, magGX = 0, gErrSum = 0, gxErrSum = 0;
                var gv = new double[n * hw]; var xh = new double[n * hw]; var gErr = new double[n * hw];
                for (int b = 0; b < n; b++)
                    for (int i = 0; i < hw; i++)
                    {
                        int j = b * hw + i;
                        xh[j] = (x.Data[x.At(b) + ch * hw + i] - st.Mean[ch]) * inv;
                        double z = gam * xh[j] + be, d = dy.Data[dy.At(b) + ch * hw + i];
                        gv[j] = d * TestUtil.ActDerivative(act, z);
                        // act'' is at most 1 for every activation here, so g moves by at most |dy| times z's error.
                        double zTol = gam * (inv * rel * st.AbsMean[ch] + Math.Abs(xh[j]) * rel) + 8 * TestUtil.U * (Math.Abs(z) + Math.Abs(gam * xh[j]) + 1);
                        gErr[j] = Math.Abs(d) * (zTol + TestUtil.ActTol(1));
                        sumG += gv[j]; sumGX += gv[j] * xh[j]; magG += Math.Abs(gv[j]); magGX += Math.Abs(gv[j] * xh[j]);
                        gErrSum += gErr[j]; gxErrSum += gErr[j] * Math.Abs(xh[j]) + Math.Abs(gv[j]) * rel * (Math.Abs(xh[j]) + 1);
                    }
                double sumGTol = gErrSum + TestUtil.SumTol(magG, hw) * 2;
                double sumGXTol = gxErrSum + TestUtil.SumTol(magGX, hw) * 2;
                Assert.Equal(g0[1 + c + ch] + sumG, grads[1 + c + ch], sumGTol + 2 * TestUtil.U * Math.Abs(g0[1 + c + ch]));
                Assert.Equal(g0[1 + ch] + sumGX, grads[1 + ch], sumGXTol + 2 * TestUtil.U * Math.Abs(g0[1 + ch]));
                for (int b = 0; b < n; b++)
                    for (int i = 0; i < hw; i++)
                    {
                        int j = b * hw + i, k = (b * c + ch) * hw + i;
                        double prior = acc ? dx0[k] : 0;
                        double d = gam * inv * (gv[j] - sumG / count - xh[j] * sumGX / count);
                        e[k] = prior + d;
                        t[k] = gam * inv * (gErr[j] + sumGTol / count + Math.Abs(xh[j]) * sumGXTol / count + rel * (Math.Abs(xh[j]) + 1) * Math.Abs(sumGX) / count)
                            + rel * Math.Abs(d) + 8 * TestUtil.U * (Math.Abs(prior) + gam * inv * (Math.Abs(gv[j]) + Math.Abs(sumG / count) + Math.Abs(xh[j] * sumGX / count)));
                    }
            }
            TestUtil.AssertClose(TestUtil.Gather(dx, n, c * hw), e, t, $"bn backward {act} {n}x{c}x{hw} acc={acc}");
            TestUtil.AssertUntouchedOutside(dx, n, c * hw);
            Assert.Equal(g0[0], grads[0]);
        }
    }

    [Fact]
    public void FoldEvalAndAffine()
    {
        var rng = new Random(2);
        int n = 3, c = 4, hw = 37;
        var (x, p) = Inputs(rng, n, c, hw);
        var bias = TestUtil.Random(rng, c);
        var scale = new float[c]; var shift = new float[c + 1];
        BatchNormKernel.FoldEval(c, p, 1, 1 + c, 1 + 2 * c, 1 + 3 * c, Eps, bias, 0, scale, 0, shift, 1);
        for (int ch = 0; ch < c; ch++)
        {
            double sc = p[1 + ch] / Math.Sqrt(p[1 + 3 * c + ch] + (double)Eps);
            double sh = p[1 + c + ch] + (bias[ch] - p[1 + 2 * c + ch]) * sc;
            // Computed in double and rounded once.
            Assert.Equal(sc, scale[ch], TestUtil.U * Math.Abs(sc));
            Assert.Equal(sh, shift[1 + ch], TestUtil.U * Math.Abs(sh) + 1e-30);
        }
        var y = TestUtil.Sliced(rng, n, c * hw, 2, 2, fill: false);
        BatchNormKernel.Affine<Relu6>(n, c, hw, x, scale, 0, shift, 1, y);
        var e = new double[n * c * hw]; var t = new double[n * c * hw];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < hw; i++)
                {
                    double z = (double)scale[ch] * x.Data[x.At(b) + ch * hw + i] + shift[1 + ch];
                    int k = (b * c + ch) * hw + i;
                    e[k] = TestUtil.Act("Relu6", z);
                    t[k] = 2 * TestUtil.U * (Math.Abs(z) + Math.Abs(shift[1 + ch])); // one fused multiply-add, rounded once
                }
        TestUtil.AssertClose(TestUtil.Gather(y, n, c * hw), e, t, "affine");
        TestUtil.AssertUntouchedOutside(y, n, c * hw);
    }
}
