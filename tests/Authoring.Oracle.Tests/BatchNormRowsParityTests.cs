// BatchNorm1d over rows of features (BatchNormKernel's rows path, hw = 1) against TorchSharp's batch_norm in training
// mode: output, running statistics, and the autograd gradients dx, dgamma, dbeta for an upstream dy; row counts 2, 3,
// 257 and 1000 (several chunks), feature counts that are not multiples of the vector widths.
using Authoring.Runtime.Cpu;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;

namespace Authoring.Oracle.Tests;

public class BatchNormRowsParityTests
{
    const double U = 1.0 / (1 << 24);
    const float Momentum = 0.1f, Eps = 1e-5f;

    /// <summary>Relative error of either side's statistics: ours are double sums rounded once (u); torch may sum in
    /// float, for which 16 sqrt(rows) u bounds the error of a sum of `rows` terms (the runtime tests' SumTol) without
    /// reaching the worst case rows * u. Both sides together: twice that plus 4u.</summary>
    static double Rel(int rows) => 2 * 16 * Math.Sqrt(rows) * U + 4 * U;

    [Theory]
    [InlineData(2, 5, false)]
    [InlineData(3, 17, true)]
    [InlineData(257, 67, false)]
    [InlineData(257, 64, true)]
    [InlineData(1000, 13, true)]
    public void ForwardRunningStatisticsAndGradientsMatchTorch(int rows, int c, bool sigmoid)
    {
        var xs = Random(rows * c, 10 + rows + c, -1f, 3f);
        var gamma = Random(c, 20 + c, 0.5f, 1.5f);
        var beta = Random(c, 30 + c, -0.5f, 0.5f);
        var rm0 = Random(c, 40 + c, -0.5f, 0.5f);
        var rv0 = Random(c, 50 + c, 0.5f, 1.5f);
        var dys = Random(rows * c, 60 + rows, -1f, 1f);

        // Ours: parameters [gamma | beta | running mean | running var], gradients [dgamma | dbeta].
        var p = gamma.Concat(beta).Concat(rm0).Concat(rv0).ToArray();
        var save = new float[2 * c];
        var y = new float[rows * c];
        var dx = new float[rows * c];
        var g = new float[2 * c];
        var vx = new View(xs, 0, c);
        if (sigmoid)
        {
            Assert.True(BatchNormKernel.ForwardTrain<Sigmoid>(rows, c, 1, vx, p, 0, c, 2 * c, 3 * c, Momentum, Eps, save, 0, new View(y, 0, c)));
            BatchNormKernel.BackwardTrain<Sigmoid>(rows, c, 1, vx, new View(dys, 0, c), p, 0, c, save, 0, new View(dx, 0, c), false, g, 0, c);
        }
        else
        {
            Assert.True(BatchNormKernel.ForwardTrain<Identity>(rows, c, 1, vx, p, 0, c, 2 * c, 3 * c, Momentum, Eps, save, 0, new View(y, 0, c)));
            BatchNormKernel.BackwardTrain<Identity>(rows, c, 1, vx, new View(dys, 0, c), p, 0, c, save, 0, new View(dx, 0, c), false, g, 0, c);
        }

        using var scope = Scope();
        var tx = Leaf(xs, rows, c);
        var tg = Leaf(gamma, c);
        var tb = Leaf(beta, c);
        var trm = Constant(rm0, c);
        var trv = Constant(rv0, c);
        var ty = BatchNormTrain(tx, tg, tb, trm, trv, Momentum, Eps);
        if (sigmoid) ty = Sigmoid(ty);
        var yT = ToArray(ty);
        var grads = Gradients(ty, dys, tx, tg, tb);
        var rmT = ToArray(trm);
        var rvT = ToArray(trv);

        double rel = Rel(rows);
        double slope = sigmoid ? 0.25 : 1;
        for (int f = 0; f < c; f++)
        {
            double s = 0, a = 0;
            for (int r = 0; r < rows; r++) { s += xs[r * c + f]; a += Math.Abs(xs[r * c + f]); }
            double mean = s / rows, absMean = a / rows, q = 0;
            for (int r = 0; r < rows; r++) { double d = xs[r * c + f] - mean; q += d * d; }
            double inv = 1 / Math.Sqrt(q / rows + Eps), k = gamma[f] * inv;
            Assert.True(Math.Abs(p[2 * c + f] - rmT[f]) <= rel * (absMean + Math.Abs(rmT[f])), $"running mean[{f}]: ours {p[2 * c + f]}, torch {rmT[f]}");
            // The variance sums squares: its relative error is twice a sum's, plus the rounding of the update.
            Assert.True(Math.Abs(p[3 * c + f] - rvT[f]) <= 2 * rel * rvT[f], $"running var[{f}]: ours {p[3 * c + f]}, torch {rvT[f]}");

            double sumG = 0, sumGX = 0, magG = 0, magGX = 0;
            for (int r = 0; r < rows; r++)
            {
                int i = r * c + f;
                double xh = (xs[i] - mean) * inv, z = gamma[f] * xh + beta[f];
                // z from statistics off by rel (mean by rel absMean, invstd by rel), plus a few roundings on each side.
                double zTol = k * rel * (absMean + Math.Abs(xs[i] - mean)) + 16 * U * (Math.Abs(z) + k * (Math.Abs(xs[i]) + Math.Abs(mean)) + Math.Abs(beta[f]));
                Assert.True(Math.Abs(y[i] - yT[i]) <= slope * zTol + 16 * U * (Math.Abs(yT[i]) + 1), $"y[{r}, {f}]: ours {y[i]}, torch {yT[i]}");
                double sg = sigmoid ? 1 / (1 + Math.Exp(-z)) : 0, gv = dys[i] * (sigmoid ? sg * (1 - sg) : 1);
                sumG += gv; sumGX += gv * xh; magG += Math.Abs(gv); magGX += Math.Abs(gv * xh) + Math.Abs(gv) * rel;
            }
            // Each g is off by |dy| act'' zTol (act'' <= 0.1 for the sigmoid) plus rounding: within rel |g| (1 + |xhat|)
            // summed; the sums themselves by rel of their magnitudes.
            double sumGTol = 2 * rel * (magG + magGX), sumGXTol = 2 * rel * (magGX + magG);
            Assert.True(Math.Abs(g[c + f] - grads[2][f]) <= sumGTol, $"dbeta[{f}]: ours {g[c + f]}, torch {grads[2][f]}");
            Assert.True(Math.Abs(g[f] - grads[1][f]) <= sumGXTol, $"dgamma[{f}]: ours {g[f]}, torch {grads[1][f]}");
            for (int r = 0; r < rows; r++)
            {
                int i = r * c + f;
                double xh = (xs[i] - mean) * inv, z = gamma[f] * xh + beta[f];
                double sg = sigmoid ? 1 / (1 + Math.Exp(-z)) : 0, gv = dys[i] * (sigmoid ? sg * (1 - sg) : 1);
                double inner = Math.Abs(gv) + Math.Abs(sumG / rows) + Math.Abs(xh * sumGX / rows);
                double tol = k * (2 * rel * Math.Abs(gv) * (1 + Math.Abs(xh)) + sumGTol / rows + Math.Abs(xh) * sumGXTol / rows
                    + rel * (1 + Math.Abs(xh)) * Math.Abs(sumGX) / rows) + (rel + 16 * U) * k * inner;
                Assert.True(Math.Abs(dx[i] - grads[0][i]) <= tol, $"dx[{r}, {f}]: ours {dx[i]}, torch {grads[0][i]} (tolerance {tol:E2})");
            }
        }
    }
}
