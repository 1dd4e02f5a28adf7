// Naive double-precision attention, written from the definitions and independent of the kernels'
// algorithms: every output is an explicit masked sum over all (query, key) pairs, O(N^2), with no
// tiling, no online softmax, no chunk states. Shared (linked) by the Runtime, Gpu and Oracle test projects.
//
// Besides values it returns an error bound per element for a float32 computation of the same thing:
//     tol = 16 u K mag
// where mag is the element's sum of absolute terms (each product and each normaliser taken in
// absolute value: the size a float's relative rounding applies to) and K counts how rounding grows on
// the way: sqrt(Dh) for the dot products (a random walk of roundings; the worst case, Dh, is far
// looser and never reached), sqrt(L) for sums over L tokens, 4 for the few single roundings (divide,
// exp, feature map). Softmax adds the score's own error amplified by exp: an absolute error e in a
// scaled score changes its probability by a factor e^e, so K gains sqrt(Dh) A (A the largest
// scale * sum_d |q_d k_d| of the row) and |lse| (the rounding of log-sum-exp itself). 16 is the
// margin TestUtil.SumTol uses: well inside worst case, comfortably above what rounding does.
using Authoring.Runtime.Cpu;

namespace Authoring.Tests.Shared;

/// <summary>The feature maps the reference knows, by definition.</summary>
public enum RefMap
{
    /// <summary>elu(x) + 1.</summary>
    EluPlusOne,
    /// <summary>max(x, 0).</summary>
    Relu,
}

/// <summary>Forward value and the three gradients of a loss sum(y * dy), with a float32 error bound for each element.</summary>
public sealed record AttentionExpected(double[] Y, double[] Dq, double[] Dk, double[] Dv,
    double[] TolY, double[] TolDq, double[] TolDk, double[] TolDv);

public static class AttentionReference
{
    /// <summary>Unit roundoff of float32.</summary>
    public const double U = 1.0 / (1 << 24);

    /// <summary>The kernels' epsilon in the linear attention's denominator (fast-transformers, SLAB).</summary>
    public const double Eps = 1e-6;

    public static double Phi(RefMap map, double x) => map == RefMap.Relu ? Math.Max(x, 0) : (x > 0 ? x + 1 : Math.Exp(x));

    public static double PhiPrime(RefMap map, double x) => map == RefMap.Relu ? (x > 0 ? 1 : 0) : (x > 0 ? 1 : Math.Exp(x));

    /// <summary>Softmax attention (scaled dot product, scale 1/sqrt(Dh)). Arrays are [n, N, D], D = heads * Dh, heads interleaved.</summary>
    public static AttentionExpected Softmax(int n, AttentionShape s, bool causal, double[] q, double[] k, double[] v, double[] dy)
    {
        int len = n * s.SampleSize, seq = s.SeqLen, dh = s.HeadSize, d = s.Dim;
        var r = New(len);
        double scale = 1.0 / Math.Sqrt(dh);
        var p = new double[seq * seq];
        var dp = new double[seq * seq];
        var dpAbs = new double[seq * seq];
        var bigD = new double[seq];
        var bigDAbs = new double[seq];
        for (int b = 0; b < n; b++)
            for (int h = 0; h < s.Heads; h++)
            {
                int baseIdx = b * s.SampleSize + h * dh;
                double Q(int i, int c) => q[baseIdx + i * d + c];
                double K(int j, int c) => k[baseIdx + j * d + c];
                double V(int j, int c) => v[baseIdx + j * d + c];
                double G(int i, int c) => dy[baseIdx + i * d + c];
                double kappa = 0;
                Array.Clear(p);
                for (int i = 0; i < seq; i++)
                {
                    int last = causal ? i : seq - 1;
                    double max = double.NegativeInfinity, a = 0;
                    for (int j = 0; j <= last; j++)
                    {
                        double dot = 0, abs = 0;
                        for (int c = 0; c < dh; c++) { dot += Q(i, c) * K(j, c); abs += Math.Abs(Q(i, c) * K(j, c)); }
                        p[i * seq + j] = dot * scale;
                        max = Math.Max(max, dot * scale);
                        a = Math.Max(a, abs * scale);
                    }
                    double sum = 0;
                    for (int j = 0; j <= last; j++) sum += Math.Exp(p[i * seq + j] - max);
                    for (int j = 0; j <= last; j++) p[i * seq + j] = Math.Exp(p[i * seq + j] - max) / sum;
                    double lse = max + Math.Log(sum);
                    kappa = Math.Max(kappa, Math.Sqrt(dh) * a + Math.Abs(lse) + Math.Sqrt(last + 1) + Math.Sqrt(dh) + 4);
                }
                for (int i = 0; i < seq; i++)
                {
                    int last = causal ? i : seq - 1;
                    double dsum = 0, dabs = 0;
                    for (int j = 0; j <= last; j++)
                    {
                        double t = 0, ta = 0;
                        for (int c = 0; c < dh; c++) { t += G(i, c) * V(j, c); ta += Math.Abs(G(i, c) * V(j, c)); }
                        dp[i * seq + j] = t;
                        dpAbs[i * seq + j] = ta;
                        dsum += p[i * seq + j] * t;
                        dabs += p[i * seq + j] * ta;
                    }
                    bigD[i] = dsum;
                    bigDAbs[i] = dabs;
                }
                double f = 16 * U * kappa;
                for (int i = 0; i < seq; i++)
                    for (int c = 0; c < dh; c++)
                    {
                        int at = baseIdx + i * d + c;
                        double y = 0, ym = 0, gq = 0, gqm = 0;
                        for (int j = 0; j < seq; j++)
                        {
                            double pij = p[i * seq + j];
                            if (pij == 0) continue;
                            y += pij * V(j, c);
                            ym += pij * Math.Abs(V(j, c));
                            gq += pij * (dp[i * seq + j] - bigD[i]) * K(j, c);
                            gqm += pij * (dpAbs[i * seq + j] + bigDAbs[i]) * Math.Abs(K(j, c));
                        }
                        r.Y[at] = y; r.TolY[at] = f * ym + 1e-30;
                        r.Dq[at] = gq * scale; r.TolDq[at] = f * gqm * scale + 1e-30;
                    }
                for (int j = 0; j < seq; j++)
                    for (int c = 0; c < dh; c++)
                    {
                        int at = baseIdx + j * d + c;
                        double gk = 0, gkm = 0, gv = 0, gvm = 0;
                        for (int i = 0; i < seq; i++)
                        {
                            double pij = p[i * seq + j];
                            if (pij == 0) continue;
                            gv += pij * G(i, c);
                            gvm += pij * Math.Abs(G(i, c));
                            gk += pij * (dp[i * seq + j] - bigD[i]) * Q(i, c);
                            gkm += pij * (dpAbs[i * seq + j] + bigDAbs[i]) * Math.Abs(Q(i, c));
                        }
                        r.Dk[at] = gk * scale; r.TolDk[at] = f * gkm * scale + 1e-30;
                        r.Dv[at] = gv; r.TolDv[at] = f * gvm + 1e-30;
                    }
            }
        return r;
    }

    /// <summary>Linear attention: y_i = sum_j a_ij v_j / (sum_j a_ij + eps), a_ij = phi(q_i) . phi(k_j), j over all
    /// tokens or (causal) j &lt;= i. Gradients by the chain rule through a_ij, written out per pair.</summary>
    public static AttentionExpected Linear(int n, AttentionShape s, bool causal, RefMap map, double[] q, double[] k, double[] v, double[] dy)
    {
        int len = n * s.SampleSize, seq = s.SeqLen, dh = s.HeadSize, d = s.Dim;
        var r = New(len);
        var a = new double[seq * seq];
        var den = new double[seq];
        var da = new double[seq * seq];
        var daAbs = new double[seq * seq];
        double f = 16 * U * (Math.Sqrt(dh) + Math.Sqrt(seq) + 4);
        for (int b = 0; b < n; b++)
            for (int h = 0; h < s.Heads; h++)
            {
                int baseIdx = b * s.SampleSize + h * dh;
                var phiQ = new double[seq * dh];
                var phiK = new double[seq * dh];
                for (int i = 0; i < seq; i++)
                    for (int c = 0; c < dh; c++)
                    {
                        phiQ[i * dh + c] = Phi(map, q[baseIdx + i * d + c]);
                        phiK[i * dh + c] = Phi(map, k[baseIdx + i * d + c]);
                    }
                double Pq(int i, int c) => phiQ[i * dh + c];
                double Pk(int j, int c) => phiK[j * dh + c];
                double V(int j, int c) => v[baseIdx + j * d + c];
                double G(int i, int c) => dy[baseIdx + i * d + c];
                Array.Clear(a);
                for (int i = 0; i < seq; i++)
                {
                    int last = causal ? i : seq - 1;
                    double sum = 0;
                    for (int j = 0; j <= last; j++)
                    {
                        double t = 0;
                        for (int c = 0; c < dh; c++) t += Pq(i, c) * Pk(j, c);
                        a[i * seq + j] = t;
                        sum += t;
                    }
                    den[i] = sum + Eps;
                    double asum = sum;
                    for (int c = 0; c < dh; c++)
                    {
                        double num = 0, mag = 0;
                        for (int j = 0; j <= last; j++) { num += a[i * seq + j] * V(j, c); mag += a[i * seq + j] * Math.Abs(V(j, c)); }
                        int at = baseIdx + i * d + c;
                        r.Y[at] = num / den[i];
                        r.TolY[at] = f * (mag + Math.Abs(num / den[i]) * asum) / den[i] + 1e-30;
                    }
                }
                // da_ij = (dy_i . v_j) / den_i - (dy_i . y_i) / den_i
                for (int i = 0; i < seq; i++)
                {
                    int last = causal ? i : seq - 1;
                    double gy = 0, gyAbs = 0;
                    for (int c = 0; c < dh; c++)
                    {
                        double yc = r.Y[baseIdx + i * d + c];
                        gy += G(i, c) * yc;
                        gyAbs += Math.Abs(G(i, c) * yc);
                    }
                    for (int j = 0; j <= last; j++)
                    {
                        double gv = 0, gvAbs = 0;
                        for (int c = 0; c < dh; c++) { gv += G(i, c) * V(j, c); gvAbs += Math.Abs(G(i, c) * V(j, c)); }
                        da[i * seq + j] = (gv - gy) / den[i];
                        daAbs[i * seq + j] = (gvAbs + gyAbs) / den[i];
                    }
                }
                for (int i = 0; i < seq; i++)
                {
                    int last = causal ? i : seq - 1;
                    for (int c = 0; c < dh; c++)
                    {
                        double g = 0, m = 0;
                        for (int j = 0; j <= last; j++) { g += da[i * seq + j] * Pk(j, c); m += daAbs[i * seq + j] * Pk(j, c); }
                        int at = baseIdx + i * d + c;
                        double pp = PhiPrime(map, q[at]);
                        r.Dq[at] = g * pp;
                        r.TolDq[at] = f * m * pp + 1e-30;
                    }
                }
                for (int j = 0; j < seq; j++)
                {
                    int first = causal ? j : 0;
                    for (int c = 0; c < dh; c++)
                    {
                        double gk = 0, mk = 0, gv = 0, mv = 0;
                        for (int i = first; i < seq; i++)
                        {
                            gk += da[i * seq + j] * Pq(i, c);
                            mk += daAbs[i * seq + j] * Pq(i, c);
                            gv += a[i * seq + j] * G(i, c) / den[i];
                            mv += a[i * seq + j] * Math.Abs(G(i, c)) / den[i];
                        }
                        int at = baseIdx + j * d + c;
                        double pp = PhiPrime(map, k[at]);
                        r.Dk[at] = gk * pp;
                        r.TolDk[at] = f * mk * pp + 1e-30;
                        r.Dv[at] = gv;
                        r.TolDv[at] = f * mv + 1e-30;
                    }
                }
            }
        return r;
    }

    /// <summary>sum(y * dy) of the reference's forward: the loss whose gradients the references return.</summary>
    public static double Loss(bool softmax, int n, AttentionShape s, bool causal, RefMap map, double[] q, double[] k, double[] v, double[] dy)
    {
        var y = softmax ? Softmax(n, s, causal, q, k, v, dy).Y : Linear(n, s, causal, map, q, k, v, dy).Y;
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += y[i] * dy[i];
        return sum;
    }

    static AttentionExpected New(int len) => new(new double[len], new double[len], new double[len], new double[len],
        new double[len], new double[len], new double[len], new double[len]);
}
