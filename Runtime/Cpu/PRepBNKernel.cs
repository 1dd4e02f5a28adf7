// SLAB's PRepBN mix (Generators/Ops/PRepBNMix.cs): y = lambda * ln + (1 - lambda) * (bn + alpha * x), with ln and
// bn the outputs of the LayerNorm and BatchNorm1d kernels. Training forward reads and updates the reference's
// counters (one float each in the parameter store) and keeps the lambda it used in the state array, so the
// backward uses the same lambda after the counters moved:
//   warm > 0: lambda = 1, warm -= 1;   else lambda = iter / total_step, iter = max(iter - 1, 0)   (r0 = 1)
// Backward: d ln = lambda dy, d bn = (1 - lambda) dy, dx = (1 - lambda) alpha dy, d alpha += (1 - lambda) sum(dy x).
// The element-wise passes are memory-bound; they spread over the pool by sample (from WorkerPool's threshold on),
// and the alpha reduction keeps one double sum per sample, added in sample order afterwards (deterministic).
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>PRepBN mix forward and backward (definitions in the file header).</summary>
public static unsafe class PRepBNKernel
{
    /// <summary>The lambda of one training step, updating the counters as the reference's LinearNorm.forward.</summary>
    public static float Step(ref float warm, ref float iter, float total)
    {
        if (warm > 0f)
        {
            warm -= 1f;
            return 1f;
        }
        float lambda = iter / total;
        if (iter > 0f) iter -= 1f;
        return lambda;
    }

    /// <summary>Training: y = lambda ln + (1 - lambda)(bn + alpha x); s[lambdaOff] = lambda; counters updated.</summary>
    public static void ForwardTrain(int n, int size, View ln, View bn, View x, float[] p, int alphaOff, int warmOff, int iterOff, int totalOff,
        float[] s, int lambdaOff, View y)
    {
        Check(n, size, ln, bn, x, y);
        KernelUtil.Check(p, alphaOff, 1, nameof(p));
        KernelUtil.Check(p, warmOff, 1, nameof(p));
        KernelUtil.Check(p, iterOff, 1, nameof(p));
        KernelUtil.Check(p, totalOff, 1, nameof(p));
        KernelUtil.Check(s, lambdaOff, 1, nameof(s));
        float lambda = Step(ref p[warmOff], ref p[iterOff], p[totalOff]);
        s[lambdaOff] = lambda;
        Mix(n, size, lambda, 1f - lambda, p[alphaOff], ln, bn, x, y);
    }

    /// <summary>Evaluation (RepBN): y = bn + alpha x.</summary>
    public static void ForwardEval(int n, int size, View bn, View x, float[] p, int alphaOff, View y)
    {
        Check(n, size, bn, bn, x, y);
        KernelUtil.Check(p, alphaOff, 1, nameof(p));
        Mix(n, size, 0f, 1f, p[alphaOff], bn, bn, x, y);
    }

    static void Check(int n, int size, View a, View b, View x, View y)
    {
        KernelUtil.Check(a, n, size, nameof(a));
        KernelUtil.Check(b, n, size, nameof(b));
        KernelUtil.Check(x, n, size, nameof(x));
        KernelUtil.Check(y, n, size, nameof(y));
    }

    static void Mix(int n, int size, float lambda, float mu, float alpha, View ln, View bn, View x, View y)
    {
        fixed (float* pl = ln.Data, pb = bn.Data, px = x.Data, py = y.Data)
        {
            var job = new MixJob
            {
                L = pl + ln.Offset, LStride = ln.BatchStride, B = pb + bn.Offset, BStride = bn.BatchStride, X = px + x.Offset, XStride = x.BatchStride,
                Y = py + y.Offset, YStride = y.BatchStride, Size = size, Lambda = lambda, Mu = mu, MuAlpha = mu * alpha,
            };
            WorkerPool.For(n, ref job, (long)n * size * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>One sample of y = lambda ln + mu bn + (mu alpha) x; the same float operations in every lane width.</summary>
    struct MixJob : IParallelJob
    {
        public float* L, B, X, Y;
        public int LStride, BStride, XStride, YStride, Size;
        public float Lambda, Mu, MuAlpha;

        public void Run(int b)
        {
            float* l = L + (long)b * LStride, u = B + (long)b * BStride, v = X + (long)b * XStride, o = Y + (long)b * YStride;
            int i = 0;
            if (Simd.Use512)
            {
                var vl = Vector512.Create(Lambda); var vm = Vector512.Create(Mu); var va = Vector512.Create(MuAlpha);
                for (; i <= Size - 16; i += 16)
                    (vl * Vector512.Load(l + i) + vm * Vector512.Load(u + i) + va * Vector512.Load(v + i)).Store(o + i);
            }
            {
                var vl = Vector256.Create(Lambda); var vm = Vector256.Create(Mu); var va = Vector256.Create(MuAlpha);
                for (; i <= Size - 8; i += 8)
                    (vl * Vector256.Load(l + i) + vm * Vector256.Load(u + i) + va * Vector256.Load(v + i)).Store(o + i);
            }
            for (; i < Size; i++) o[i] = Lambda * l[i] + Mu * u[i] + MuAlpha * v[i];
        }
    }

    /// <summary>d(input) (= or += when <paramref name="accumulate"/>) = c dy with c = lambda (which 0: the LayerNorm),
    /// 1 - lambda (1: the BatchNorm) or (1 - lambda) alpha (2: x); lambda is s[lambdaOff].</summary>
    public static void BackwardInput(int n, int size, int which, float[] p, int alphaOff, float[] s, int lambdaOff, View dy, View dst, bool accumulate)
    {
        KernelUtil.Check(dy, n, size, nameof(dy));
        KernelUtil.Check(dst, n, size, nameof(dst));
        KernelUtil.Check(p, alphaOff, 1, nameof(p));
        KernelUtil.Check(s, lambdaOff, 1, nameof(s));
        if (which is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(which), $"which must be 0, 1 or 2, got {which}.");
        float lambda = s[lambdaOff];
        float c = which == 0 ? lambda : which == 1 ? 1f - lambda : (1f - lambda) * p[alphaOff];
        fixed (float* pg = dy.Data, pd = dst.Data)
        {
            var job = new ScaleJob { G = pg + dy.Offset, GStride = dy.BatchStride, D = pd + dst.Offset, DStride = dst.BatchStride, Size = size, C = c, Accumulate = accumulate };
            WorkerPool.For(n, ref job, (long)n * size * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>One sample of d (= or +=) c g.</summary>
    struct ScaleJob : IParallelJob
    {
        public float* G, D;
        public int GStride, DStride, Size;
        public float C;
        public bool Accumulate;

        public void Run(int b)
        {
            float* g = G + (long)b * GStride, d = D + (long)b * DStride;
            int i = 0;
            if (Simd.Use512)
            {
                var vc = Vector512.Create(C);
                for (; i <= Size - 16; i += 16)
                {
                    var v = vc * Vector512.Load(g + i);
                    if (Accumulate) v += Vector512.Load(d + i);
                    v.Store(d + i);
                }
            }
            {
                var vc = Vector256.Create(C);
                for (; i <= Size - 8; i += 8)
                {
                    var v = vc * Vector256.Load(g + i);
                    if (Accumulate) v += Vector256.Load(d + i);
                    v.Store(d + i);
                }
            }
            for (; i < Size; i++) d[i] = Accumulate ? d[i] + C * g[i] : C * g[i];
        }
    }

    /// <summary>g[dAlphaOff] += (1 - lambda) sum over the batch of dy * x.</summary>
    public static void BackwardAlpha(int n, int size, View dy, View x, float[] s, int lambdaOff, float[] g, int dAlphaOff)
    {
        KernelUtil.Check(dy, n, size, nameof(dy));
        KernelUtil.Check(x, n, size, nameof(x));
        KernelUtil.Check(s, lambdaOff, 1, nameof(s));
        KernelUtil.Check(g, dAlphaOff, 1, nameof(g));
        var sums = t_sums is { } sc && sc.Length >= n ? sc : t_sums = new double[Math.Max(n, 256)];
        fixed (float* pg = dy.Data, px = x.Data)
        fixed (double* ps = sums)
        {
            var job = new DotJob { G = pg + dy.Offset, GStride = dy.BatchStride, X = px + x.Offset, XStride = x.BatchStride, Size = size, Sums = ps };
            WorkerPool.For(n, ref job, (long)n * size * WorkerPool.FlopsPerElement);
        }
        double total = 0;
        for (int b = 0; b < n; b++) total += sums[b];
        g[dAlphaOff] += (float)((1.0 - s[lambdaOff]) * total);
    }

    /// <summary>Per-thread scratch for <see cref="BackwardAlpha"/>'s per-sample sums; grown once, then reused.</summary>
    [ThreadStatic] static double[]? t_sums;

    /// <summary>Sums[b] = dy_b . x_b: eight float lanes, then double (the sums this kernel took before it ran in parallel).</summary>
    struct DotJob : IParallelJob
    {
        public float* G, X;
        public double* Sums;
        public int GStride, XStride, Size;

        public void Run(int b)
        {
            float* d = G + (long)b * GStride, v = X + (long)b * XStride;
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i <= Size - 8; i += 8) acc += Vector256.Load(d + i) * Vector256.Load(v + i);
            double sum = Vector256.Sum(acc);
            for (; i < Size; i++) sum += d[i] * v[i];
            Sums[b] = sum;
        }
    }
}
