// PRepBN mix kernels against double-precision references on sliced views (sentinels around every sample), sizes
// that exercise the vector loop and the scalar tail, batch 1, accumulate on and off; the counters follow the
// reference's LinearNorm.forward step by step (warm-up, then iter / total_step down to 0, where it stays).
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class PRepBNKernelTests
{
    // Each output element is three products summed (a few roundings of values of magnitude <= |ln| + |bn| + |alpha x|):
    // 8 u of that magnitude is a margin of ~2; a wrong coefficient or index is O(0.1).
    static double Tol(double mag) => 8 * TestUtil.U * mag + 1e-30;

    [Fact]
    public void CountersFollowTheReference()
    {
        float warm = 2, iter = 3, total = 3;
        var lambdas = new List<float>();
        for (int i = 0; i < 7; i++) lambdas.Add(PRepBNKernel.Step(ref warm, ref iter, total));
        Assert.Equal(new[] { 1f, 1f, 1f, 2f / 3, 1f / 3, 0f, 0f }, lambdas);
        Assert.Equal((0f, 0f), (warm, iter));
    }

    [Theory]
    [InlineData(1, 5, 2f)]
    [InlineData(3, 37, 1f)]
    [InlineData(2, 16, 0f)]
    [InlineData(4, 67, 3f)]
    public void ForwardAndBackwardMatchReference(int n, int size, float iter)
    {
        var rng = new Random(n * 1000 + size);
        var ln = TestUtil.Sliced(rng, n, size, 1, 2);
        var bn = TestUtil.Sliced(rng, n, size, 2, 3);
        var x = TestUtil.Sliced(rng, n, size, 3, 1);
        var dy = TestUtil.Sliced(rng, n, size, 0, 2);
        // p: alpha at 1, warm at 2, iter at 3, total at 4 (around them, values the kernels must not read).
        var p = new float[] { 9, 0.75f, 0, iter, 4, 9 };
        var s = new float[] { 9, 9, 9 };
        var y = TestUtil.Sliced(rng, n, size, 2, 2, fill: false);
        PRepBNKernel.ForwardTrain(n, size, ln, bn, x, p, 1, 2, 3, 4, s, 1, y);
        double lam = iter / 4.0, alpha = 0.75;
        Assert.Equal((float)lam, s[1]);
        Assert.Equal(Math.Max(iter - 1, 0), p[3]);
        Assert.Equal((9f, 9f), (s[0], s[2]));

        var l = TestUtil.Gather(ln, n, size); var u = TestUtil.Gather(bn, n, size); var v = TestUtil.Gather(x, n, size);
        var g = TestUtil.Gather(dy, n, size);
        var yRef = new double[n * size]; var tol = new double[n * size];
        for (int i = 0; i < yRef.Length; i++)
        {
            yRef[i] = lam * l[i] + (1 - lam) * (u[i] + alpha * v[i]);
            tol[i] = Tol(Math.Abs(l[i]) + Math.Abs(u[i]) + Math.Abs(v[i]));
        }
        TestUtil.AssertClose(TestUtil.Gather(y, n, size), yRef, tol, "y");
        TestUtil.AssertUntouchedOutside(y, n, size);

        // Evaluation: RepBN only, whatever lambda.
        var ye = TestUtil.Sliced(rng, n, size, 1, 1, fill: false);
        PRepBNKernel.ForwardEval(n, size, bn, x, p, 1, ye);
        for (int i = 0; i < yRef.Length; i++) yRef[i] = u[i] + alpha * v[i];
        TestUtil.AssertClose(TestUtil.Gather(ye, n, size), yRef, tol, "eval y");
        TestUtil.AssertUntouchedOutside(ye, n, size);

        double[] coef = { lam, 1 - lam, (1 - lam) * alpha };
        foreach (bool accumulate in new[] { false, true })
            for (int which = 0; which < 3; which++)
            {
                var d = TestUtil.Sliced(rng, n, size, 1, 3, fill: accumulate);
                var before = TestUtil.Gather(d, n, size);
                PRepBNKernel.BackwardInput(n, size, which, p, 1, s, 1, dy, d, accumulate);
                for (int i = 0; i < yRef.Length; i++)
                {
                    yRef[i] = coef[which] * g[i] + (accumulate ? before[i] : 0);
                    tol[i] = Tol(Math.Abs(g[i]) + Math.Abs(before[i]));
                }
                TestUtil.AssertClose(TestUtil.Gather(d, n, size), yRef, tol, $"d input {which} (accumulate {accumulate})");
                TestUtil.AssertUntouchedOutside(d, n, size);
            }

        var grads = new float[] { 0, 0.5f, 0 };
        PRepBNKernel.BackwardAlpha(n, size, dy, x, s, 1, grads, 1);
        double dot = 0, mag = 0;
        for (int i = 0; i < g.Length; i++) { dot += g[i] * (double)v[i]; mag += Math.Abs(g[i] * (double)v[i]); }
        Assert.True(Math.Abs(grads[1] - (0.5 + (1 - lam) * dot)) <= TestUtil.SumTol(mag, g.Length) + 2 * TestUtil.U,
            $"d alpha {grads[1]}, expected {0.5 + (1 - lam) * dot}");
        Assert.Equal((0f, 0f), (grads[0], grads[2]));
    }
}
