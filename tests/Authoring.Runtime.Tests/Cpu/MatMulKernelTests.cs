// Batched matrix products against a double-precision reference: every transposition pair, both the direct
// small-matrix path and the packed-GEMM path (one matrix per task, and one matrix spread over the pool), odd
// sizes around the vector widths and register strips, batch 1, accumulate on and off, sliced views.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class MatMulKernelTests
{
    public static TheoryData<int, int, int, int, int> Sizes => new()
    {
        // n, batch, m, cols, k
        { 1, 1, 1, 1, 1 },
        { 3, 2, 5, 7, 3 },       // small path, scalar columns
        { 2, 3, 6, 37, 9 },      // small path: four rows then two, 16 + 16 + 8 wide strips, then a tail
        { 1, 2, 4, 16, 4 },
        { 2, 1, 9, 24, 5 },      // small path: with Vector512, a 16 and an 8 wide strip (both ISAs run their 8-wide code)
        { 2, 1, 50, 53, 47 },    // GEMM path (>= GemmMinWork), fewer matrices than threads
        { 3, 3, 49, 49, 49 },    // GEMM path, one matrix per task
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesReferenceForEveryTransposition(int n, int batch, int m, int cols, int k)
    {
        foreach (bool tx in new[] { false, true })
            foreach (bool ty in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                    Check(new Random(n + batch * 3 + m * 7 + cols * 11 + k + (tx ? 1 : 0) + (ty ? 2 : 0)), n, batch, m, cols, k, tx, ty, accumulate);
    }

    static void Check(Random rng, int n, int batch, int m, int cols, int k, bool tx, bool ty, bool accumulate)
    {
        int xs = batch * m * k, ys = batch * k * cols, zs = batch * m * cols;
        var x = TestUtil.Sliced(rng, n, xs, 2, 3);
        var y = TestUtil.Sliced(rng, n, ys, 1, 5);
        var z = TestUtil.Sliced(rng, n, zs, 3, 2);
        var z0 = TestUtil.Gather(z, n, zs);
        MatMulKernel.Multiply(n, batch, m, cols, k, tx, ty, x, y, z, accumulate);

        var expected = new double[n * zs];
        var tol = new double[n * zs];
        for (int b = 0; b < n; b++)
            for (int h = 0; h < batch; h++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < cols; j++)
                    {
                        double s = 0, mag = 0;
                        for (int p = 0; p < k; p++)
                        {
                            double a = x.Data[x.At(b) + h * m * k + (tx ? p * m + i : i * k + p)];
                            double c = y.Data[y.At(b) + h * k * cols + (ty ? j * k + p : p * cols + j)];
                            s += a * c;
                            mag += Math.Abs(a * c);
                        }
                        int at = b * zs + h * m * cols + i * cols + j;
                        expected[at] = s + (accumulate ? z0[at] : 0);
                        tol[at] = TestUtil.SumTol(mag + (accumulate ? Math.Abs(z0[at]) : 0), k + 1);
                    }
        TestUtil.AssertClose(TestUtil.Gather(z, n, zs), expected, tol, $"matmul n{n} b{batch} {m}x{cols}x{k} tx={tx} ty={ty} acc={accumulate}");
        TestUtil.AssertUntouchedOutside(z, n, zs);
    }
}
