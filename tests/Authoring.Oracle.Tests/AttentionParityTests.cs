// Our attention kernels against TorchSharp (TorchAttention: SDPA, and linear attention as a user writes
// it, cumsum for causal), forward and autograd's dq, dk, dv, N in {16, 257, 1024}, causal and not, every
// feature map, one to four heads. Tolerance: the naive double reference's float32 bound B per element
// (AttentionReference: 16 u K times the element's sum of absolute terms, K = sqrt(Dh) + sqrt(N) + ...),
// and both sides must be within B of the exact value, so they are within 2B of each other. Checking
// TorchSharp against the reference as well makes sure both implement the definitions we state.
using Authoring.Runtime.Cpu;
using Authoring.Tests.Shared;
using static Authoring.Oracle.Tests.TorchOracle;

namespace Authoring.Oracle.Tests;

public class AttentionParityTests
{
    public enum Kind { Softmax, Elu, Relu }

    /// <summary>(kind, batch, N, heads, head size).</summary>
    public static TheoryData<Kind, int, int, int, int> Cases()
    {
        var d = new TheoryData<Kind, int, int, int, int>();
        foreach (var kind in new[] { Kind.Softmax, Kind.Elu, Kind.Relu })
        {
            d.Add(kind, 2, 16, 3, 5);
            d.Add(kind, 1, 257, 2, 16);
            d.Add(kind, 1, 1024, 4, 16);
        }
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ForwardAndGradientsMatchTorch(Kind kind, int n, int seq, int heads, int dh)
    {
        foreach (bool causal in new[] { false, true }) Check(kind, n, new AttentionShape(seq, heads, dh), causal);
    }

    static void Check(Kind kind, int n, AttentionShape s, bool causal)
    {
        EnsureInitialized();
        using var scope = Scope();
        int len = n * s.SampleSize, seed = s.SeqLen + 10 * (int)kind + (causal ? 1 : 0);
        float qkRange = kind == Kind.Softmax ? 2f : 1f;
        float[] q = Random(len, seed, -qkRange, qkRange), k = Random(len, seed + 1, -qkRange, qkRange);
        float[] v = Random(len, seed + 2), dy = Random(len, seed + 3);

        var tq = Leaf(q, n, s.SeqLen, s.Dim);
        var tk = Leaf(k, n, s.SeqLen, s.Dim);
        var tv = Leaf(v, n, s.SeqLen, s.Dim);
        var map = kind == Kind.Elu ? TorchFeatureMap.EluPlusOne : TorchFeatureMap.Relu;
        var ty = kind == Kind.Softmax ? TorchAttention.Softmax(tq, tk, tv, s.Heads, causal) : TorchAttention.Linear(tq, tk, tv, s.Heads, causal, map);
        var torchY = ToArray(ty);
        var g = Gradients(ty, dy, tq, tk, tv);

        var ours = Ours(kind, n, s, causal, q, k, v, dy);

        double[] D(float[] a) => Array.ConvertAll(a, x => (double)x);
        var e = kind == Kind.Softmax
            ? AttentionReference.Softmax(n, s, causal, D(q), D(k), D(v), D(dy))
            : AttentionReference.Linear(n, s, causal, kind == Kind.Elu ? RefMap.EluPlusOne : RefMap.Relu, D(q), D(k), D(v), D(dy));
        string what = $"{kind} {(causal ? "causal" : "full")} n={n} {s}";
        var pairs = new (float[] Ours, float[] Torch, double[] Exact, double[] Tol, string Name)[]
        {
            (ours[0], torchY, e.Y, e.TolY, "y"), (ours[1], g[0], e.Dq, e.TolDq, "dq"),
            (ours[2], g[1], e.Dk, e.TolDk, "dk"), (ours[3], g[2], e.Dv, e.TolDv, "dv"),
        };
        foreach (var (o, t, exact, tol, name) in pairs)
        {
            Within(t, exact, tol, 1, $"{what} {name}: TorchSharp against the double reference");
            Within(o, Array.ConvertAll(t, x => (double)x), tol, 2, $"{what} {name}: ours against TorchSharp");
        }
    }

    static void Within(float[] got, double[] expected, double[] tol, double factor, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            if (!(Math.Abs(got[i] - expected[i]) <= factor * tol[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {got[i]:R} (|diff| {Math.Abs(got[i] - expected[i]):G3} > {factor * tol[i]:G3})");
    }

    /// <summary>y, dq, dk, dv from our CPU kernels on dense [n, N, D] arrays.</summary>
    static float[][] Ours(Kind kind, int n, AttentionShape s, bool causal, float[] q, float[] k, float[] v, float[] dy)
    {
        int size = s.SampleSize, len = n * size;
        View V(float[] a) => new(a, 0, size);
        float[] y = new float[len], dq = new float[len], dk = new float[len], dv = new float[len];
        if (kind == Kind.Softmax)
        {
            var lse = new float[SoftmaxAttention.SaveSize(n, s)];
            var work = new float[SoftmaxAttention.WorkspaceSize(n, s)];
            SoftmaxAttention.Forward(n, s, causal, V(q), V(k), V(v), V(y), lse, 0);
            SoftmaxAttention.Backward(n, s, causal, V(q), V(k), V(v), V(y), V(dy), lse, 0, work, 0, V(dq), V(dk), V(dv), false);
        }
        else
        {
            var work = new float[LinearAttention.WorkspaceSize(n, s, causal)];
            if (kind == Kind.Elu)
            {
                LinearAttention.Forward<EluPlusOne>(n, s, causal, V(q), V(k), V(v), V(y), work, 0);
                LinearAttention.Backward<EluPlusOne>(n, s, causal, V(q), V(k), V(v), V(y), V(dy), work, 0, V(dq), V(dk), V(dv), false);
            }
            else
            {
                LinearAttention.Forward<Relu>(n, s, causal, V(q), V(k), V(v), V(y), work, 0);
                LinearAttention.Backward<Relu>(n, s, causal, V(q), V(k), V(v), V(y), V(dy), work, 0, V(dq), V(dk), V(dv), false);
            }
        }
        return [y, dq, dk, dv];
    }
}
