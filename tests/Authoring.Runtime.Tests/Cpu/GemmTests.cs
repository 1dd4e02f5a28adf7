// SGEMM against a double-precision reference: all four transpose cases, alpha/beta, offsets and
// leading dimensions larger than the rows, and sizes that cross every blocking boundary
// (MR x NR = 12 x 32 with AVX-512, 6 x 16 with 256-bit vectors; KC = 256, MC = 120, NC = 2048, B read in
// place up to k = 64) and the parallel threshold. scripts/test.sh runs them under both vector widths.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class GemmTests
{
    public static TheoryData<int, int, int> Sizes => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 8, 32, 16 }, { 33, 65, 300 }, { 130, 40, 17 }, { 17, 2100, 9 }, { 64, 784, 72 }, { 150, 97, 530 },
        // One past each boundary: MR + 1 rows over two KC slices and a tail, MC + 1 rows, the in-place B path
        // at its largest depth with a ragged last panel and one past it, two NC column blocks at k = 33.
        { 13, 33, 513 }, { 121, 31, 257 }, { 25, 47, 64 }, { 241, 100, 65 }, { 1, 2049, 33 },
    };

    /// <summary>The parallel split (blocks over the pool) and the serial path (a call from inside a job)
    /// run the same tiles in the same order per element: results are bit-identical.</summary>
    [Theory]
    [InlineData(false, false, 256, 300, 257)]
    [InlineData(true, true, 250, 190, 300)]
    public void ParallelAndSerialAgreeBitwise(bool ta, bool tb, int m, int n, int k)
    {
        var rng = new Random(11);
        var a = TestUtil.Random(rng, m * k);
        var b = TestUtil.Random(rng, k * n);
        var parallel = new float[m * n];
        Gemm.Multiply(ta, tb, m, n, k, 1f, a, 0, ta ? m : k, b, 0, tb ? k : n, 0f, parallel, 0, n);
        var job = new SerialGemm { TA = ta, TB = tb, M = m, N = n, K = k, A = a, B = b, C = new float[m * n] };
        WorkerPool.For(1, ref job); // one index runs inline, marked as inside a job: the GEMM takes its serial path
        Assert.Equal(parallel, job.C);
    }

    struct SerialGemm : IParallelJob
    {
        public bool TA, TB;
        public int M, N, K;
        public float[] A, B, C;

        public void Run(int index)
        {
            Assert.True(WorkerPool.InsideJob);
            Gemm.Multiply(TA, TB, M, N, K, 1f, A, 0, TA ? M : K, B, 0, TB ? K : N, 0f, C, 0, N);
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesReferenceForAllTransposes(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                Check(rng, ta, tb, m, n, k, 1f, 0f);
    }

    [Theory]
    [InlineData(0.5f, 1f)]
    [InlineData(-1.5f, 0.25f)]
    [InlineData(0f, 0.5f)]
    [InlineData(2f, -1f)]
    public void AppliesAlphaAndBeta(float alpha, float beta)
    {
        var rng = new Random(7);
        Check(rng, false, true, 37, 70, 260, alpha, beta);
        Check(rng, true, false, 9, 33, 3, alpha, beta);
    }

    [Fact]
    public void BetaZeroIgnoresWhateverCHeld()
    {
        // BLAS semantics: with beta = 0, C is write-only, so NaN in it must not leak into the result.
        var rng = new Random(3);
        int m = 19, n = 45, k = 11;
        var a = TestUtil.Random(rng, m * k);
        var b = TestUtil.Random(rng, k * n);
        var c = new float[m * n];
        Array.Fill(c, float.NaN);
        Gemm.Multiply(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        Assert.DoesNotContain(c, float.IsNaN);
    }

    [Fact]
    public void ZeroDepthScalesC()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Multiply(false, false, 2, 2, 0, 1f, [], 0, 1, [], 0, 2, 0.5f, c, 0, 2);
        Assert.Equal(new float[] { 0.5f, 1, 1.5f, 2 }, c);
    }

    static void Check(Random rng, bool ta, bool tb, int m, int n, int k, float alpha, float beta)
    {
        // Padded leading dimensions and offsets: the kernel must stay inside its rows.
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + 3, ldb = bCols + 5, ldc = n + 2, aOff = 4, bOff = 1, cOff = 6;
        var a = TestUtil.Random(rng, aOff + aRows * lda);
        var b = TestUtil.Random(rng, bOff + bRows * ldb);
        var c = TestUtil.Random(rng, cOff + m * ldc);
        var c0 = (float[])c.Clone();
        Gemm.Multiply(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);

        var expected = new double[c.Length];
        var tol = new double[c.Length];
        for (int i = 0; i < c.Length; i++) expected[i] = c0[i];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                    mag += Math.Abs(av * bv);
                }
                int idx = cOff + i * ldc + j;
                double cv = beta == 0 ? 0 : beta * (double)c0[idx];
                expected[idx] = alpha * s + cv;
                // alpha is folded into A while packing (one extra rounding per term), beta C adds one more.
                tol[idx] = TestUtil.SumTol(Math.Abs(alpha) * mag, k + 2) + 2 * TestUtil.U * Math.Abs(cv);
            }
        TestUtil.AssertClose(c, expected, tol, $"gemm ta={ta} tb={tb} {m}x{n}x{k} alpha={alpha} beta={beta}");
    }
}
