// LayerNorm forward, saved statistics, data and parameter gradients against double-precision references on
// sliced views (sentinels around every sample), odd row lengths that exercise both vector widths and the scalar
// tail, batch 1, with and without the affine parameters, accumulate on and off; and the parameter gradients are
// the same bits whatever the chunking of rows over threads would be (they are summed in a fixed order).
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class LayerNormKernelTests
{
    // Tolerances. A row's mean and variance are float sums of dim terms (TestUtil.SumTol's sqrt(dim) growth); the
    // normalised value inherits that error relative to its scale, times |gamma|. 32 sqrt(dim) u (1 + |x_hat|) covers
    // the mean's error over the row, the variance's relative error and the few roundings of the affine map with a
    // margin of ~4, and is ~1e-5 for dim 37: any wrong index or missing term is O(0.1).
    static double Tol(int dim, double xhat, double scale) => 32 * Math.Sqrt(dim) * TestUtil.U * (1 + Math.Abs(xhat)) * scale;

    [Theory]
    [InlineData(1, 1, 5, true, true)]
    [InlineData(3, 4, 37, true, true)]
    [InlineData(2, 3, 16, true, false)]
    [InlineData(5, 2, 8, false, false)]
    [InlineData(1, 7, 67, true, true)]
    public void ForwardBackwardMatchReference(int n, int rows, int dim, bool affine, bool bias)
    {
        var rng = new Random(n * 100 + rows * 10 + dim);
        int size = rows * dim;
        var x = TestUtil.Sliced(rng, n, size, 3, 5);
        for (int i = 0; i < x.Data.Length; i++) if (x.Data[i] != TestUtil.Sentinel) x.Data[i] = x.Data[i] * 2 + 0.5f;
        var p = TestUtil.Random(rng, 2 * dim + 4, 0.5f, 1.5f);
        int gOff = affine ? 1 : -1, bOff = affine && bias ? dim + 3 : -1;
        var y = TestUtil.Sliced(rng, n, size, 2, 3, fill: false);
        var stats = TestUtil.Sliced(rng, n, 2 * rows, 1, 2, fill: false);
        LayerNormKernel.ForwardTrain(n, rows, dim, x, affine ? p : null, gOff, bOff, 1e-5f, y, stats);

        var xs = TestUtil.Gather(x, n, size);
        double G(int j) => affine ? p[gOff + j] : 1;
        double B(int j) => bOff >= 0 ? p[bOff + j] : 0;
        var mean = new double[n * rows];
        var rstd = new double[n * rows];
        var yRef = new double[n * size]; var yTol = new double[n * size];
        for (int r = 0; r < n * rows; r++)
        {
            double m = 0, v = 0;
            for (int j = 0; j < dim; j++) m += xs[r * dim + j];
            m /= dim;
            for (int j = 0; j < dim; j++) v += (xs[r * dim + j] - m) * (xs[r * dim + j] - m);
            mean[r] = m;
            rstd[r] = 1 / Math.Sqrt(v / dim + 1e-5);
            for (int j = 0; j < dim; j++)
            {
                double xh = (xs[r * dim + j] - m) * rstd[r];
                yRef[r * dim + j] = xh * G(j) + B(j);
                yTol[r * dim + j] = Tol(dim, xh, Math.Abs(G(j))) + 4 * TestUtil.U * Math.Abs(B(j));
            }
        }
        TestUtil.AssertClose(TestUtil.Gather(y, n, size), yRef, yTol, $"y {n}x{rows}x{dim}");
        TestUtil.AssertUntouchedOutside(y, n, size);
        var st = TestUtil.Gather(stats, n, 2 * rows);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < rows; i++)
            {
                int r = b * rows + i;
                Assert.True(Math.Abs(st[b * 2 * rows + i] - mean[r]) <= Tol(dim, 0, 1) * 2.5, $"mean of row {r}");
                Assert.True(Math.Abs(st[b * 2 * rows + rows + i] - rstd[r]) <= Tol(dim, 0, rstd[r]) * 2, $"rstd of row {r}");
            }
        TestUtil.AssertUntouchedOutside(stats, n, 2 * rows);

        // Evaluation forward: the same values, no statistics.
        var ye = TestUtil.Sliced(rng, n, size, 0, 1, fill: false);
        LayerNormKernel.Forward(n, rows, dim, x, affine ? p : null, gOff, bOff, 1e-5f, ye);
        Assert.Equal(TestUtil.Gather(y, n, size), TestUtil.Gather(ye, n, size));

        // Backward: dx = rstd (g - mean(g) - x_hat mean(g x_hat)), g = dy gamma; dgamma = sum dy x_hat; dbeta = sum dy.
        var dy = TestUtil.Sliced(rng, n, size, 4, 1);
        var dys = TestUtil.Gather(dy, n, size);
        var dxRef = new double[n * size]; var dxTol = new double[n * size];
        var dgRef = new double[dim]; var dbRef = new double[dim]; var dgMag = new double[dim]; var dbMag = new double[dim];
        for (int r = 0; r < n * rows; r++)
        {
            double sg = 0, sgx = 0, ag = 0, agx = 0;
            for (int j = 0; j < dim; j++)
            {
                double xh = (xs[r * dim + j] - mean[r]) * rstd[r], g = dys[r * dim + j] * G(j);
                sg += g; sgx += g * xh; ag += Math.Abs(g); agx += Math.Abs(g * xh);
                dgRef[j] += dys[r * dim + j] * xh; dbRef[j] += dys[r * dim + j];
                dgMag[j] += Math.Abs(dys[r * dim + j]) * (1 + Math.Abs(xh)); dbMag[j] += Math.Abs(dys[r * dim + j]);
            }
            for (int j = 0; j < dim; j++)
            {
                double xh = (xs[r * dim + j] - mean[r]) * rstd[r], g = dys[r * dim + j] * G(j);
                dxRef[r * dim + j] = rstd[r] * (g - sg / dim - xh * sgx / dim);
                dxTol[r * dim + j] = Tol(dim, xh, rstd[r] * (Math.Abs(g) + ag / dim + agx / dim));
            }
        }
        foreach (bool accumulate in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, size, 2, 2);
            var dx0 = TestUtil.Gather(dx, n, size);
            LayerNormKernel.BackwardData(n, rows, dim, x, dy, stats, affine ? p : null, gOff, dx, accumulate);
            var expected = dxRef.Select((v, i) => accumulate ? v + dx0[i] : v).ToArray();
            var tol = dxTol.Select((t, i) => t + (accumulate ? 2 * TestUtil.U * Math.Abs(expected[i]) : 0)).ToArray();
            TestUtil.AssertClose(TestUtil.Gather(dx, n, size), expected, tol, $"dx accumulate={accumulate}");
            TestUtil.AssertUntouchedOutside(dx, n, size);
        }

        if (!affine) return;
        var grads = TestUtil.Random(rng, 2 * dim + 7);
        var g0 = (float[])grads.Clone();
        int dgOff = 2, dbOff = bias ? dim + 5 : -1;
        LayerNormKernel.BackwardParams(n, rows, dim, x, dy, stats, grads, dgOff, dbOff);
        for (int j = 0; j < dim; j++)
        {
            double tg = Tol(Math.Max(dim, n * rows), 0, dgMag[j]) + 2 * TestUtil.U * Math.Abs(g0[dgOff + j]);
            Assert.True(Math.Abs(grads[dgOff + j] - (g0[dgOff + j] + dgRef[j])) <= tg, $"dgamma[{j}]: {grads[dgOff + j]} vs {g0[dgOff + j] + dgRef[j]}");
            if (bias)
            {
                double tb = TestUtil.SumTol(dbMag[j], n * rows) + 2 * TestUtil.U * Math.Abs(g0[dbOff + j]);
                Assert.True(Math.Abs(grads[dbOff + j] - (g0[dbOff + j] + dbRef[j])) <= tb, $"dbeta[{j}]");
            }
        }
        // Nothing else in the gradient array moved.
        for (int i = 0; i < grads.Length; i++)
        {
            bool inG = i >= dgOff && i < dgOff + dim, inB = bias && i >= dbOff && i < dbOff + dim;
            if (!inG && !inB) Assert.Equal(g0[i], grads[i]);
        }
    }

    [Fact]
    public void ParameterGradientsAreReproducible()
    {
        // Many rows (several chunks, spread over the pool): two calls give the same bits.
        var rng = new Random(5);
        int n = 16, rows = 37, dim = 29;
        var x = TestUtil.Sliced(rng, n, rows * dim, 0, 3);
        var dy = TestUtil.Sliced(rng, n, rows * dim, 1, 0);
        var stats = TestUtil.Sliced(rng, n, 2 * rows, 0, 0, fill: false);
        var y = TestUtil.Sliced(rng, n, rows * dim, 0, 0, fill: false);
        LayerNormKernel.ForwardTrain(n, rows, dim, x, null, -1, -1, 1e-5f, y, stats);
        var a = new float[2 * dim];
        var b = new float[2 * dim];
        LayerNormKernel.BackwardParams(n, rows, dim, x, dy, stats, a, 0, dim);
        for (int i = 0; i < 5; i++)
        {
            Array.Clear(b);
            LayerNormKernel.BackwardParams(n, rows, dim, x, dy, stats, b, 0, dim);
            Assert.Equal(a, b);
        }
    }
}
