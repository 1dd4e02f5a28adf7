// Softmax over the last axis, forward and backward, against double-precision references on sliced views:
// row lengths below, at and past both vector widths (scalar tails), large logits (the maximum must be
// subtracted), batch 1, accumulate on and off.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class SoftmaxKernelTests
{
    // Each output is exp(x - max) (a few ulp: the vector exp and one subtraction) divided by a float sum of cols
    // terms (SumTol's sqrt(cols) growth): (16 + 16 sqrt(cols)) u of the value bounds both with a margin.
    static double Tol(int cols, double v) => (16 + 16 * Math.Sqrt(cols)) * TestUtil.U * Math.Abs(v);

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 2, 5)]
    [InlineData(2, 3, 8)]
    [InlineData(1, 4, 16)]
    [InlineData(4, 3, 37)]
    [InlineData(2, 2, 100)]
    public void ForwardBackwardMatchReference(int n, int rows, int cols)
    {
        var rng = new Random(n * 31 + rows * 7 + cols);
        int size = rows * cols;
        var x = TestUtil.Sliced(rng, n, size, 2, 3);
        // Logits up to 60 in magnitude: exp without the maximum subtracted would overflow a float at 89.
        for (int i = 0; i < x.Data.Length; i++) if (x.Data[i] != TestUtil.Sentinel) x.Data[i] *= 60;
        var y = TestUtil.Sliced(rng, n, size, 1, 2, fill: false);
        SoftmaxKernel.Forward(n, rows, cols, x, y);
        var xs = TestUtil.Gather(x, n, size);
        var yRef = new double[n * size];
        for (int r = 0; r < n * rows; r++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, xs[r * cols + j]);
            for (int j = 0; j < cols; j++) sum += Math.Exp(xs[r * cols + j] - max);
            for (int j = 0; j < cols; j++) yRef[r * cols + j] = Math.Exp(xs[r * cols + j] - max) / sum;
        }
        TestUtil.AssertClose(TestUtil.Gather(y, n, size), yRef, yRef.Select(v => Tol(cols, v) + 1e-30).ToArray(), $"softmax {n}x{rows}x{cols}");
        TestUtil.AssertUntouchedOutside(y, n, size);

        // Backward from the stored output: dx = y (dy - sum(dy y)).
        var dy = TestUtil.Sliced(rng, n, size, 3, 1);
        var ys = TestUtil.Gather(y, n, size);
        var dys = TestUtil.Gather(dy, n, size);
        var dxRef = new double[n * size]; var dxTol = new double[n * size];
        for (int r = 0; r < n * rows; r++)
        {
            double dot = 0, mag = 0;
            for (int j = 0; j < cols; j++) { dot += (double)ys[r * cols + j] * dys[r * cols + j]; mag += Math.Abs((double)ys[r * cols + j] * dys[r * cols + j]); }
            for (int j = 0; j < cols; j++)
            {
                int i = r * cols + j;
                dxRef[i] = ys[i] * (dys[i] - dot);
                dxTol[i] = Tol(cols, ys[i] * (Math.Abs(dys[i]) + mag)) + 1e-30;
            }
        }
        foreach (bool accumulate in new[] { false, true })
        {
            var dx = TestUtil.Sliced(rng, n, size, 0, 4);
            var dx0 = TestUtil.Gather(dx, n, size);
            SoftmaxKernel.Backward(n, rows, cols, y, dy, dx, accumulate);
            var expected = dxRef.Select((v, i) => accumulate ? v + dx0[i] : v).ToArray();
            var tol = dxTol.Select((t, i) => t + (accumulate ? 2 * TestUtil.U * Math.Abs(expected[i]) : 0)).ToArray();
            TestUtil.AssertClose(TestUtil.Gather(dx, n, size), expected, tol, $"dx accumulate={accumulate}");
            TestUtil.AssertUntouchedOutside(dx, n, size);
        }
    }
}
