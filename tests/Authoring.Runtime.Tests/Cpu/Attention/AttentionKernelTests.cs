// Softmax and linear attention kernels (forward, dq, dk, dv) against the naive double reference, on
// sliced views (offsets and gaps holding sentinels), causal and not, every feature map, N in
// {1, 16, 257, 1024}, one to three heads, odd head sizes. Tolerances: AttentionReference's bound
// (16 u K times each element's sum of absolute terms; see its header). Also: += accumulation, bitwise
// repeatability, finite differences of the reference itself, and zero allocation when warm.
using Authoring.Runtime.Cpu;
using Authoring.Tests.Shared;

namespace Authoring.Runtime.Tests.Cpu;

public class AttentionKernelTests
{
    public enum Kind { Softmax, Elu, Relu }

    /// <summary>(batch, N, heads, head size): N = 1, a block/chunk edge (16 < 64), tails past blocks (257), many blocks (1024).</summary>
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 2, 1, 1, 5 },
        { 1, 1, 3, 8 },
        { 2, 16, 2, 3 },
        { 3, 16, 1, 64 },
        { 2, 257, 3, 13 },
        { 1, 257, 2, 16 },
        { 1, 1024, 2, 64 },
        { 1, 1024, 1, 33 },
    };

    [Theory, MemberData(nameof(Shapes))]
    public void SoftmaxMatchesReference(int n, int seq, int heads, int dh) => Both(Kind.Softmax, n, new AttentionShape(seq, heads, dh));

    [Theory, MemberData(nameof(Shapes))]
    public void LinearEluMatchesReference(int n, int seq, int heads, int dh) => Both(Kind.Elu, n, new AttentionShape(seq, heads, dh));

    [Theory, MemberData(nameof(Shapes))]
    public void LinearReluMatchesReference(int n, int seq, int heads, int dh) => Both(Kind.Relu, n, new AttentionShape(seq, heads, dh));

    static void Both(Kind kind, int n, AttentionShape s)
    {
        Check(kind, n, s, causal: false, accumulate: false);
        Check(kind, n, s, causal: true, accumulate: s.SeqLen == 257);
    }

    /// <summary>Every kernel output, gathered dense [n, N, D], after forward and backward.</summary>
    internal sealed record Outputs(float[] Y, float[] Dq, float[] Dk, float[] Dv);

    /// <summary>Inputs of one case: views with gaps, plus the same samples dense in double.</summary>
    internal sealed class Case
    {
        public Case(Kind kind, int n, AttentionShape s, int seed)
        {
            var rng = new Random(seed);
            int size = s.SampleSize;
            // Softmax: scores up to ~|2|.|2|.sqrt(Dh)/sqrt(Dh) make peaked rows; linear: the maps' interesting range.
            float qkScale = kind == Kind.Softmax ? 2f : 1f;
            Q = Scaled(TestUtil.Sliced(rng, n, size, 3, 5), n, size, qkScale);
            K = Scaled(TestUtil.Sliced(rng, n, size, 1, 2), n, size, qkScale);
            V = TestUtil.Sliced(rng, n, size, 2, 7);
            Dy = TestUtil.Sliced(rng, n, size, 0, 3);
        }

        public View Q, K, V, Dy;

        static View Scaled(View v, int n, int size, float f)
        {
            for (int b = 0; b < n; b++) for (int i = 0; i < size; i++) v.Data[v.At(b) + i] *= f;
            return v;
        }
    }

    internal static double[] Dense(View v, int n, int size) => Array.ConvertAll(TestUtil.Gather(v, n, size), x => (double)x);

    /// <summary>Runs forward and backward of <paramref name="kind"/> on the CPU kernels.</summary>
    internal static Outputs Run(Kind kind, int n, AttentionShape s, bool causal, Case c, float[]? prior = null)
    {
        int size = s.SampleSize;
        var rng = new Random(7);
        var y = TestUtil.Sliced(rng, n, size, 4, 1, fill: false);
        var dq = TestUtil.Sliced(rng, n, size, 1, 3, fill: false);
        var dk = TestUtil.Sliced(rng, n, size, 2, 1, fill: false);
        var dv = TestUtil.Sliced(rng, n, size, 0, 2, fill: false);
        bool accumulate = prior is not null;
        if (accumulate)
            foreach (var g in new[] { dq, dk, dv })
                for (int b = 0; b < n; b++) Array.Copy(prior!, b * size, g.Data, g.At(b), size);
        if (kind == Kind.Softmax)
        {
            var lse = new float[SoftmaxAttention.SaveSize(n, s) + 5];
            var work = new float[SoftmaxAttention.WorkspaceSize(n, s) + 3];
            SoftmaxAttention.Forward(n, s, causal, c.Q, c.K, c.V, y, lse, 5);
            SoftmaxAttention.Backward(n, s, causal, c.Q, c.K, c.V, y, c.Dy, lse, 5, work, 3, dq, dk, dv, accumulate);
        }
        else
        {
            var work = new float[LinearAttention.WorkspaceSize(n, s, causal) + 2];
            if (kind == Kind.Elu)
            {
                LinearAttention.Forward<EluPlusOne>(n, s, causal, c.Q, c.K, c.V, y, work, 2);
                LinearAttention.Backward<EluPlusOne>(n, s, causal, c.Q, c.K, c.V, y, c.Dy, work, 2, dq, dk, dv, accumulate);
            }
            else
            {
                LinearAttention.Forward<Relu>(n, s, causal, c.Q, c.K, c.V, y, work, 2);
                LinearAttention.Backward<Relu>(n, s, causal, c.Q, c.K, c.V, y, c.Dy, work, 2, dq, dk, dv, accumulate);
            }
        }
        foreach (var g in new[] { y, dq, dk, dv }) TestUtil.AssertUntouchedOutside(g, n, size);
        return new Outputs(TestUtil.Gather(y, n, size), TestUtil.Gather(dq, n, size), TestUtil.Gather(dk, n, size), TestUtil.Gather(dv, n, size));
    }

    internal static AttentionExpected Expected(Kind kind, int n, AttentionShape s, bool causal, Case c)
    {
        int size = s.SampleSize;
        double[] q = Dense(c.Q, n, size), k = Dense(c.K, n, size), v = Dense(c.V, n, size), dy = Dense(c.Dy, n, size);
        return kind == Kind.Softmax
            ? AttentionReference.Softmax(n, s, causal, q, k, v, dy)
            : AttentionReference.Linear(n, s, causal, kind == Kind.Elu ? RefMap.EluPlusOne : RefMap.Relu, q, k, v, dy);
    }

    static void Check(Kind kind, int n, AttentionShape s, bool causal, bool accumulate)
    {
        var c = new Case(kind, n, s, s.SeqLen * 31 + s.Heads * 7 + s.HeadSize + (causal ? 1 : 0));
        var e = Expected(kind, n, s, causal, c);
        float[]? prior = accumulate ? TestUtil.Random(new Random(3), n * s.SampleSize) : null;
        var o = Run(kind, n, s, causal, c, prior);
        string what = $"{kind} {(causal ? "causal" : "full")} n={n} {s}";
        TestUtil.AssertClose(o.Y, e.Y, e.TolY, what + " y");
        TestUtil.AssertClose(o.Dq, Plus(e.Dq, prior), PlusRounding(e.TolDq, e.Dq, prior), what + " dq");
        TestUtil.AssertClose(o.Dk, Plus(e.Dk, prior), PlusRounding(e.TolDk, e.Dk, prior), what + " dk");
        TestUtil.AssertClose(o.Dv, Plus(e.Dv, prior), PlusRounding(e.TolDv, e.Dv, prior), what + " dv");
    }

    static double[] Plus(double[] x, float[]? prior)
    {
        if (prior is null) return x;
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = x[i] + prior[i];
        return r;
    }

    /// <summary>Accumulating adds one float rounding of the sum: u |prior + gradient| on top of the gradient's bound.</summary>
    static double[] PlusRounding(double[] tol, double[] x, float[]? prior)
    {
        if (prior is null) return tol;
        var r = new double[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = tol[i] + TestUtil.U * Math.Abs(x[i] + prior[i]);
        return r;
    }

    [Theory]
    [InlineData(Kind.Softmax)]
    [InlineData(Kind.Elu)]
    [InlineData(Kind.Relu)]
    public void RepeatedCallsAreBitwiseEqual(Kind kind)
    {
        var s = new AttentionShape(300, 2, 24);
        foreach (bool causal in new[] { false, true })
        {
            var c = new Case(kind, 2, s, 11);
            var first = Run(kind, 2, s, causal, c);
            var second = Run(kind, 2, s, causal, c);
            Assert.Equal(first.Y, second.Y);
            Assert.Equal(first.Dq, second.Dq);
            Assert.Equal(first.Dk, second.Dk);
            Assert.Equal(first.Dv, second.Dv);
        }
    }

    /// <summary>The reference's analytic gradients against central differences of its own forward, in double, on
    /// tiny shapes: h = 1e-5 leaves a truncation error ~h^2 |y'''| ~ 1e-10 and a rounding error ~1e-16/h ~ 1e-11,
    /// so 1e-7 (relative to the gradient's size, plus 1e-9) separates a wrong formula from numerics.</summary>
    [Theory]
    [InlineData(Kind.Softmax, false)]
    [InlineData(Kind.Softmax, true)]
    [InlineData(Kind.Elu, false)]
    [InlineData(Kind.Elu, true)]
    [InlineData(Kind.Relu, false)]
    [InlineData(Kind.Relu, true)]
    public void ReferenceGradientsMatchFiniteDifferences(Kind kind, bool causal)
    {
        var s = new AttentionShape(5, 2, 3);
        int n = 2, len = n * s.SampleSize;
        var rng = new Random(5);
        double[] R() { var a = new double[len]; for (int i = 0; i < len; i++) a[i] = rng.NextDouble() * 2 - 1; return a; }
        double[] q = R(), k = R(), v = R(), dy = R();
        var map = kind == Kind.Elu ? RefMap.EluPlusOne : RefMap.Relu;
        bool softmax = kind == Kind.Softmax;
        var e = softmax ? AttentionReference.Softmax(n, s, causal, q, k, v, dy) : AttentionReference.Linear(n, s, causal, map, q, k, v, dy);
        const double h = 1e-5;
        foreach (var (x, grad, name) in new[] { (q, e.Dq, "dq"), (k, e.Dk, "dk"), (v, e.Dv, "dv") })
            for (int i = 0; i < len; i++)
            {
                double keep = x[i];
                x[i] = keep + h;
                double up = AttentionReference.Loss(softmax, n, s, causal, map, q, k, v, dy);
                x[i] = keep - h;
                double down = AttentionReference.Loss(softmax, n, s, causal, map, q, k, v, dy);
                x[i] = keep;
                double fd = (up - down) / (2 * h);
                Assert.True(Math.Abs(fd - grad[i]) <= 1e-7 * Math.Abs(grad[i]) + 1e-9,
                    $"{kind} {(causal ? "causal" : "full")} {name}[{i}]: analytic {grad[i]:R}, finite difference {fd:R}");
            }
    }

    /// <summary>Denominators near eps: phi(q) = (1e-6, 0) against phi(k) = (1, 0) makes every a_ij = 1e-6, so
    /// y_i = m/(m+1) times the mean value over the m keys seen: eps enters at full weight (1e-5 would halve it).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SmallDenominatorsUseTheReferencesEpsilon(bool causal)
    {
        var s = new AttentionShape(6, 1, 2);
        var c = new Case(Kind.Relu, 1, s, 1);
        for (int i = 0; i < 6; i++)
        {
            c.Q.Data[c.Q.At(0) + 2 * i] = 1e-6f; c.Q.Data[c.Q.At(0) + 2 * i + 1] = -1f;
            c.K.Data[c.K.At(0) + 2 * i] = 1f; c.K.Data[c.K.At(0) + 2 * i + 1] = -0.5f;
        }
        var e = Expected(Kind.Relu, 1, s, causal, c);
        var o = Run(Kind.Relu, 1, s, causal, c);
        TestUtil.AssertClose(o.Y, e.Y, e.TolY, "y");
        TestUtil.AssertClose(o.Dq, e.Dq, e.TolDq, "dq");
        TestUtil.AssertClose(o.Dk, e.Dk, e.TolDk, "dk");
        TestUtil.AssertClose(o.Dv, e.Dv, e.TolDv, "dv");
    }

    [Fact]
    public void RejectsViewsTooSmall()
    {
        var s = new AttentionShape(10, 2, 4);
        var ok = new View(new float[2 * s.SampleSize], 0, s.SampleSize);
        var small = new View(new float[2 * s.SampleSize - 1], 0, s.SampleSize);
        var lse = new float[SoftmaxAttention.SaveSize(2, s)];
        Assert.Throws<ArgumentException>(() => SoftmaxAttention.Forward(2, s, false, ok, small, ok, ok, lse, 0));
        Assert.Throws<ArgumentException>(() => SoftmaxAttention.Forward(2, s, false, ok, ok, ok, ok, lse, 1));
        var work = new float[LinearAttention.WorkspaceSize(2, s, true) - 1];
        Assert.Throws<ArgumentException>(() => LinearAttention.Forward<Relu>(2, s, true, ok, ok, ok, ok, work, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearAttention.Forward<Relu>(2, new AttentionShape(0, 1, 4), true, ok, ok, ok, ok, work, 0));
    }
}

[Collection(nameof(AllocationCollection))]
public class AttentionAllocationTests
{
    [Fact]
    public void WarmAttentionKernelsAllocateNothing()
    {
        var rng = new Random(2);
        var s = new AttentionShape(200, 2, 32);
        int n = 2, size = s.SampleSize;
        View V() => TestUtil.Sliced(rng, n, size, 0, 0);
        View q = V(), k = V(), v = V(), y = V(), dy = V(), dq = V(), dk = V(), dv = V();
        var lse = new float[SoftmaxAttention.SaveSize(n, s)];
        var work = new float[Math.Max(SoftmaxAttention.WorkspaceSize(n, s), Math.Max(LinearAttention.WorkspaceSize(n, s, true), LinearAttention.WorkspaceSize(n, s, false)))];
        void Step()
        {
            for (int c = 0; c < 2; c++)
            {
                bool causal = c == 1;
                SoftmaxAttention.Forward(n, s, causal, q, k, v, y, lse, 0);
                SoftmaxAttention.Backward(n, s, causal, q, k, v, y, dy, lse, 0, work, 0, dq, dk, dv, false);
                LinearAttention.Forward<EluPlusOne>(n, s, causal, q, k, v, y, work, 0);
                LinearAttention.Backward<EluPlusOne>(n, s, causal, q, k, v, y, dy, work, 0, dq, dk, dv, true);
                LinearAttention.Forward<Relu>(n, s, causal, q, k, v, y, work, 0);
                LinearAttention.Backward<Relu>(n, s, causal, q, k, v, y, dy, work, 0, dq, dk, dv, false);
            }
        }
        // Warm-up: per-thread scratch grows to size on each worker (a worker may miss the first calls).
        for (int i = 0; i < 5; i++) Step();
        long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
        for (int i = 0; i < 3; i++) Step();
        long after = WorkerPool.AllocatedBytesOfPoolAndCaller();
        Assert.Equal(0, after - before);
    }
}
