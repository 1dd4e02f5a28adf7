// The kernels of token and attention models on the accelerator (ILGPU's CPU accelerator here) against
// double-precision references: LayerNorm (forward, saved statistics, data and parameter gradients), softmax,
// batched MatMul with every transposition pair, transpose, sum/mean over an axis and the run copies of Concat and
// Slice. Tiny odd shapes; batches inside larger buffers with sentinels (DeviceBatch checks nothing else moved).
using static Authoring.Gpu.Tests.Reference;

namespace Authoring.Gpu.Tests;

[Collection(GpuCollection.Name)]
public sealed class TensorOpTests(GpuFixture fx)
{
    // Sums of at most ~30 float terms of magnitude <= 4, each kernel thread in order: float rounding stays near
    // 1e-6 absolute; normalisation multiplies errors by 1/std (~2 here) and gamma (< 1.5).
    const double Atol = 2e-5, Rtol = 1e-5;

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void LayerNormForwardAndBackward(bool affine, bool bias)
    {
        const int n = 2, rows = 3, dim = 5;
        var rng = new Random(affine ? bias ? 1 : 2 : 3);
        using var x = fx.Batch(rng, n, rows * dim, offset: 2, gap: 3, scale: 2);
        var g = Random(rng, dim, 1);
        for (int j = 0; j < dim; j++) g[j] += 1.5f;
        var bb = Random(rng, dim);
        using var gamma = fx.Array(g);
        using var beta = fx.Array(bb);
        using var y = fx.Batch(rng, n, rows * dim, offset: 1, gap: 2);
        using var stats = fx.Batch(rng, n, 2 * rows, offset: 0, gap: 1);
        var gv = affine ? gamma.View : default;
        var bv = affine && bias ? beta.View : default;
        fx.Kernels.LayerNormForwardTrain(n, rows, dim, x.View, gv, bv, 1e-5f, y.View, stats.View);

        double G(int j) => affine ? g[j] : 1;
        double B(int j) => affine && bias ? bb[j] : 0;
        var xs = x.Values;
        var yRef = new double[n * rows * dim];
        var statsRef = new double[n * 2 * rows];
        var xhat = new double[n * rows * dim];
        var rstd = new double[n * rows];
        for (int r = 0; r < n * rows; r++)
        {
            double m = 0, v = 0;
            for (int j = 0; j < dim; j++) m += xs[r * dim + j];
            m /= dim;
            for (int j = 0; j < dim; j++) v += (xs[r * dim + j] - m) * (xs[r * dim + j] - m);
            rstd[r] = 1 / Math.Sqrt(v / dim + 1e-5);
            statsRef[r / rows * 2 * rows + r % rows] = m;
            statsRef[r / rows * 2 * rows + rows + r % rows] = rstd[r];
            for (int j = 0; j < dim; j++)
            {
                xhat[r * dim + j] = (xs[r * dim + j] - m) * rstd[r];
                yRef[r * dim + j] = xhat[r * dim + j] * G(j) + B(j);
            }
        }
        Close(yRef, y.Read(), Atol, Rtol, "y");
        Close(statsRef, stats.Read(), Atol, Rtol, "stats");

        // Evaluation forward writes the same values.
        using var ye = fx.Batch(rng, n, rows * dim, offset: 3, gap: 1);
        fx.Kernels.LayerNormForward(n, rows, dim, x.View, gv, bv, 1e-5f, ye.View);
        Close(yRef, ye.Read(), Atol, Rtol, "y (eval)");

        using var dy = fx.Batch(rng, n, rows * dim, offset: 1, gap: 1);
        var dys = dy.Values;
        var dxRef = new double[n * rows * dim];
        var dg = new double[dim];
        var db = new double[dim];
        for (int r = 0; r < n * rows; r++)
        {
            double sg = 0, sgx = 0;
            for (int j = 0; j < dim; j++) { double gg = dys[r * dim + j] * G(j); sg += gg; sgx += gg * xhat[r * dim + j]; }
            for (int j = 0; j < dim; j++)
            {
                int i = r * dim + j;
                dxRef[i] = rstd[r] * (dys[i] * G(j) - sg / dim - xhat[i] * sgx / dim);
                dg[j] += dys[i] * xhat[i];
                db[j] += dys[i];
            }
        }
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, rows * dim, offset: 2, gap: 2);
            fx.Kernels.LayerNormBackwardData(n, rows, dim, x.View, dy.View, stats.View, gv, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
        if (!affine) return;
        var dg0 = Random(rng, dim);
        var db0 = Random(rng, dim);
        using var dGamma = fx.Array(dg0);
        using var dBeta = fx.Array(db0);
        fx.Kernels.LayerNormBackwardParams(n, rows, dim, x.View, dy.View, stats.View, dGamma.View, bias ? dBeta.View : default);
        Close(Plus(ToDouble(dg0), dg), dGamma.Read(), Atol, Rtol, "dGamma");
        Close(bias ? Plus(ToDouble(db0), db) : ToDouble(db0), dBeta.Read(), Atol, Rtol, "dBeta");
    }

    [Fact]
    public void SoftmaxForwardAndBackward()
    {
        const int n = 2, rows = 3, cols = 7;
        var rng = new Random(4);
        using var x = fx.Batch(rng, n, rows * cols, offset: 1, gap: 2, scale: 30);
        using var y = fx.Batch(rng, n, rows * cols, offset: 2, gap: 1);
        fx.Kernels.SoftmaxForward(n, rows, cols, x.View, y.View);
        var yRef = new double[n * rows * cols];
        for (int r = 0; r < n * rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, x.Values[r * cols + j]);
            for (int j = 0; j < cols; j++) sum += Math.Exp(x.Values[r * cols + j] - max);
            for (int j = 0; j < cols; j++) yRef[r * cols + j] = Math.Exp(x.Values[r * cols + j] - max) / sum;
        }
        var ys = y.Read();
        Close(yRef, ys, 1e-6, 1e-5, "y");
        using var dy = fx.Batch(rng, n, rows * cols, offset: 0, gap: 3);
        var dxRef = new double[n * rows * cols];
        for (int r = 0; r < n * rows; r++)
        {
            double dot = 0;
            for (int j = 0; j < cols; j++) dot += ys[r * cols + j] * dy.Values[r * cols + j];
            for (int j = 0; j < cols; j++) dxRef[r * cols + j] = ys[r * cols + j] * (dy.Values[r * cols + j] - dot);
        }
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, rows * cols, offset: 3, gap: 2);
            fx.Kernels.SoftmaxBackward(n, rows, cols, y.View, dy.View, dx.View, accumulate);
            Close(accumulate ? Plus(dxRef, dx.Values) : dxRef, dx.Read(), Atol, Rtol, $"dx (accumulate {accumulate})");
        }
    }

    [Fact]
    public void MatMulEveryTransposition()
    {
        const int n = 2, batch = 2, m = 3, cols = 5, k = 4;
        var rng = new Random(5);
        using var x = fx.Batch(rng, n, batch * m * k, offset: 1, gap: 2);
        using var yv = fx.Batch(rng, n, batch * k * cols, offset: 2, gap: 1);
        foreach (bool tx in new[] { false, true })
            foreach (bool ty in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                {
                    using var z = fx.Batch(rng, n, batch * m * cols, offset: 3, gap: 2);
                    fx.Kernels.MatMul(n, batch, m, cols, k, tx, ty, x.View, yv.View, z.View, accumulate);
                    var expected = new double[n * batch * m * cols];
                    for (int b = 0; b < n; b++)
                        for (int h = 0; h < batch; h++)
                            for (int i = 0; i < m; i++)
                                for (int j = 0; j < cols; j++)
                                {
                                    double s = 0;
                                    for (int p = 0; p < k; p++)
                                        s += x.Values[b * batch * m * k + h * m * k + (tx ? p * m + i : i * k + p)]
                                            * yv.Values[b * batch * k * cols + h * k * cols + (ty ? j * k + p : p * cols + j)];
                                    int at = b * batch * m * cols + h * m * cols + i * cols + j;
                                    expected[at] = s + (accumulate ? z.Values[at] : 0);
                                }
                    Close(expected, z.Read(), Atol, Rtol, $"z tx={tx} ty={ty} acc={accumulate}");
                }
    }

    [Fact]
    public void TransposeReduceAndRunCopies()
    {
        var rng = new Random(6);
        // Transpose of [outer 2, a 3, mid 2, b 4, inner 3].
        const int n = 2, o = 2, a = 3, mid = 2, b = 4, inner = 3, size = o * a * mid * b * inner;
        using var x = fx.Batch(rng, n, size, offset: 1, gap: 2);
        foreach (bool accumulate in new[] { false, true })
        {
            using var y = fx.Batch(rng, n, size, offset: 0, gap: 1);
            fx.Kernels.Transpose(n, o, a, mid, b, inner, x.View, y.View, accumulate);
            var expected = new double[n * size];
            for (int s = 0; s < n; s++)
                for (int oo = 0; oo < o; oo++)
                    for (int ja = 0; ja < a; ja++)
                        for (int m = 0; m < mid; m++)
                            for (int jb = 0; jb < b; jb++)
                                for (int e = 0; e < inner; e++)
                                {
                                    int at = s * size + (((oo * b + jb) * mid + m) * a + ja) * inner + e;
                                    expected[at] = x.Values[s * size + (((oo * a + ja) * mid + m) * b + jb) * inner + e] + (accumulate ? y.Values[at] : 0);
                                }
            Close(expected, y.Read(), 1e-6, 0, $"transpose (accumulate {accumulate})");
        }

        // Mean over the middle of [outer 3, len 4, inner 5], and back.
        const int ro = 3, len = 4, ri = 5;
        using var rx = fx.Batch(rng, n, ro * len * ri, offset: 2, gap: 1);
        using var ry = fx.Batch(rng, n, ro * ri, offset: 1, gap: 3);
        fx.Kernels.ReduceForward(n, ro, len, ri, 0.25f, rx.View, ry.View);
        var mean = new double[n * ro * ri];
        for (int s = 0; s < n; s++)
            for (int oo = 0; oo < ro; oo++)
                for (int i = 0; i < ri; i++)
                {
                    double sum = 0;
                    for (int l = 0; l < len; l++) sum += rx.Values[s * ro * len * ri + (oo * len + l) * ri + i];
                    mean[(s * ro + oo) * ri + i] = sum / len;
                }
        Close(mean, ry.Read(), Atol, Rtol, "mean");
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, ro * len * ri, offset: 0, gap: 2);
            fx.Kernels.ReduceBackward(n, ro, len, ri, 0.25f, ry.View, dx.View, accumulate);
            var ryv = ry.Read();
            var expected = new double[n * ro * len * ri];
            for (int i = 0; i < expected.Length; i++)
            {
                int s = i / (ro * len * ri), r = i % (ro * len * ri);
                expected[i] = 0.25 * ryv[s * ro * ri + r / (len * ri) * ri + r % ri] + (accumulate ? dx.Values[i] : 0);
            }
            Close(expected, dx.Read(), 1e-6, 1e-6, $"mean backward (accumulate {accumulate})");
        }

        // A run of 3 at offset 2 in rows of 7: copied in, copied out, and a slice's gradient with zeros around it.
        const int outer = 4, run = 3, at0 = 2, full = 7;
        using var part = fx.Batch(rng, n, outer * run, offset: 1, gap: 1);
        using var whole = fx.Batch(rng, n, outer * full, offset: 2, gap: 2);
        fx.Kernels.AxisCopy(n, outer, run, part.View, run, 0, whole.View, full, at0, false);
        var w = whole.Read();
        var wRef = (double[])whole.Values.Clone();
        for (int s = 0; s < n; s++)
            for (int oo = 0; oo < outer; oo++)
                for (int j = 0; j < run; j++) wRef[s * outer * full + oo * full + at0 + j] = part.Values[s * outer * run + oo * run + j];
        Close(wRef, w, 0, 0, "concat part");
        foreach (bool accumulate in new[] { false, true })
        {
            using var dx = fx.Batch(rng, n, outer * full, offset: 0, gap: 3);
            fx.Kernels.SliceBackward(n, outer, full, at0, run, part.View, dx.View, accumulate);
            var expected = new double[n * outer * full];
            for (int i = 0; i < expected.Length; i++)
            {
                int s = i / (outer * full), r = i % (outer * full), oo = r / full, c = r % full;
                double v = c >= at0 && c < at0 + run ? part.Values[s * outer * run + oo * run + c - at0] : 0;
                expected[i] = accumulate ? dx.Values[i] + v : v;
            }
            Close(expected, dx.Read(), 1e-6, 0, $"slice backward (accumulate {accumulate})");
        }
    }
}
