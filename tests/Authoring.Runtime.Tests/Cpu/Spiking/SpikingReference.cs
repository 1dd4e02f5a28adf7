// Independent references for the spiking kernels, written from SpikingJelly's definitions without the
// kernel's lane abstraction: a float32 step loop in PyTorch's operation order (spikes and membranes
// must match it bit for bit), and the gradients by forward-mode differentiation in double: a tangent
// pushed from each input through every later step, with the surrogate derivative in place of the
// step's. Reverse mode (the kernel) and forward mode share no code and no order of operations.
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Runtime.Tests.Cpu.Spiking;

/// <summary>One configuration of a neuron layer under test.</summary>
public sealed record NeuronCase(string Name, NeuronDynamics D, float W = 0f)
{
    public override string ToString() => Name;
}

internal static class SpikingReference
{
    public static readonly string[] Surrogates = ["Sigmoid", "ATan", "Rect", "PiecewiseQuadratic"];

    /// <summary>SpikingJelly's default alpha of each surrogate; their window edges (0.5, 1) are exact in float and double.</summary>
    public static float Alpha(string sg) => sg switch { "Sigmoid" => 4f, "ATan" => 2f, _ => 1f };

    /// <summary>g'(x) in double, from SpikingJelly's surrogate formulas.</summary>
    public static double SurrogateGrad(string sg, double alpha, double x) => sg switch
    {
        "Sigmoid" => alpha * Sig(alpha * x) * (1 - Sig(alpha * x)),
        "ATan" => alpha / 2 / (1 + Math.Pow(Math.PI / 2 * alpha * x, 2)),
        "Rect" => Math.Abs(x) < 0.5 / alpha ? alpha : 0,
        "PiecewiseQuadratic" => Math.Abs(x) <= 1 / alpha ? alpha - alpha * alpha * Math.Abs(x) : 0,
        _ => throw new ArgumentException(sg),
    };

    static double Sig(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>Every neuron, reset and detach combination the kernels distinguish.</summary>
    public static IEnumerable<NeuronCase> Cases()
    {
        foreach (bool detach in new[] { false, true })
        {
            string dn = detach ? ", detach" : "";
            yield return new($"IF hard{dn}", NeuronDynamics.If(detachReset: detach));
            yield return new($"IF soft{dn}", NeuronDynamics.If(vReset: null, detachReset: detach));
            yield return new($"LIF tau 2 hard{dn}", NeuronDynamics.Lif(2f, detachReset: detach));
            yield return new($"LIF tau 3 soft{dn}", NeuronDynamics.Lif(3f, vReset: null, detachReset: detach));
            yield return new($"LIF tau 1.7 no decay_input, v_th 0.8, v_reset -0.2{dn}", NeuronDynamics.Lif(1.7f, decayInput: false, vThreshold: 0.8f, vReset: -0.2f, detachReset: detach));
            yield return new($"PLIF w 0.3 hard{dn}", NeuronDynamics.ParametricLif(detachReset: detach), 0.3f);
            yield return new($"PLIF init_tau 2 no decay_input soft{dn}", NeuronDynamics.ParametricLif(decayInput: false, vReset: null, detachReset: detach), NeuronDynamics.InitialW(2f));
            yield return new($"PLIF w -0.7 v_reset 0.1{dn}", NeuronDynamics.ParametricLif(vThreshold: 1.2f, vReset: 0.1f, detachReset: detach), -0.7f);
        }
    }

    /// <summary>Input range that makes every neuron fire now and then, even at T = 1, and brings h near the threshold
    /// often: scaled by 1 / (dh/dx) so that one input alone can cross v_threshold.</summary>
    public static (float lo, float hi) InputRange(NeuronCase c)
    {
        var d = c.D;
        double dhdx = d.Model == NeuronModel.If || !d.DecayInput ? 1 : d.Model == NeuronModel.Lif ? 1.0 / d.Tau : 1 / (1 + Math.Exp(-c.W));
        double scale = Math.Abs(d.VThreshold) / dhdx;
        return ((float)(-0.6 * scale), (float)(1.3 * scale));
    }

    /// <summary>h[t] in PyTorch's operation order (functional.neuron.lif_charge / plif_step), float32.</summary>
    public static float Charge(NeuronDynamics d, float k, float v, float x)
    {
        float vr = d.VReset ?? 0f;
        return d.Model switch
        {
            NeuronModel.If => v + x,
            NeuronModel.Lif => d.DecayInput ? v + (x - (v - vr)) / d.Tau : v - (v - vr) / d.Tau + x,
            _ => d.DecayInput ? v + (x - (v - vr)) * k : v - (v - vr) * k + x,
        };
    }

    /// <summary>voltage_reset in PyTorch's arithmetic form.</summary>
    public static float Reset(NeuronDynamics d, float h, float s) =>
        d.VReset is { } vr ? s * vr + (1f - s) * h : h - s * d.VThreshold;

    /// <summary>The step loop in float32: spikes, v after reset, and h, dense [n, T, F].</summary>
    public static (float[] s, float[] v, float[] h) Forward(NeuronDynamics d, float w, int n, int T, int F, float[] x)
    {
        float k = 1f / (1f + MathF.Exp(-w));
        var s = new float[n * T * F];
        var v = new float[n * T * F];
        var h = new float[n * T * F];
        for (int b = 0; b < n; b++)
            for (int f = 0; f < F; f++)
            {
                float vm = d.VInit;
                for (int t = 0; t < T; t++)
                {
                    int i = (b * T + t) * F + f;
                    float ht = Charge(d, k, vm, x[i]);
                    float st = ht - d.VThreshold >= 0f ? 1f : 0f;
                    vm = Reset(d, ht, st);
                    s[i] = st; v[i] = vm; h[i] = ht;
                }
            }
        return (s, v, h);
    }

    /// <summary>Absolute error bound of a surrogate gradient evaluated in float32: a few u * alpha. The sigmoid's
    /// alpha e / (1 + e)^2 and ATan's quotient stay within a few ulp (plus the vector exp's ~1 ulp) of values at most
    /// alpha, the triangle's alpha - alpha^2 |x| cancels near its edges (absolute error ~u alpha), Rect is exact.</summary>
    public static double SurrogateError(string sg) => 4 * TestUtil.U * Alpha(sg);

    /// <summary>dL/dx for L = sum(ds * s) and dL/dw (PLIF), by forward-mode tangents in double through the float
    /// trajectory h; with each result an error bound for a float32 evaluation: 8 (T + 4) u times the path magnitude
    /// (the sum of |products| along every path: a few roundings per step, relative) plus the spread of the surrogate's
    /// own float error (<see cref="SurrogateError"/>) along the same paths.</summary>
    public static (double[] dx, double[] dxTol, double dw, double dwTol) Gradients(NeuronDynamics d, float w, string sg, int n, int T, int F,
        float[] x, float[] h, float[] s, float[] ds)
    {
        var (dx, dxMag, dw, dwMag) = Tangents(d, w, sg, 0, n, T, F, x, h, s, ds);
        var (_, dxMagE, _, dwMagE) = Tangents(d, w, sg, SurrogateError(sg), n, T, F, x, h, s, ds);
        double rel = 8 * (T + 4) * TestUtil.U;
        var tol = new double[dx.Length];
        for (int i = 0; i < tol.Length; i++) tol[i] = rel * dxMag[i] + (dxMagE[i] - dxMag[i]);
        // dw also sums n T F terms in float.
        return (dx, tol, dw, (rel + TestUtil.SumTol(1, n * T * F)) * dwMag + (dwMagE - dwMag));
    }

    /// <summary>The tangents, and magnitudes with |g'| + <paramref name="gErr"/> in place of |g'|.</summary>
    static (double[] dx, double[] dxMag, double dw, double dwMag) Tangents(NeuronDynamics d, float w, string sg, double gErr, int n, int T, int F,
        float[] x, float[] h, float[] s, float[] ds)
    {
        double alpha = Alpha(sg);
        double k = 1 / (1 + Math.Exp(-(double)w));
        float kf = 1f / (1f + MathF.Exp(-w));
        double vr = d.VReset ?? 0.0, vth = d.VThreshold;
        double dhdv = d.Model switch { NeuronModel.If => 1, NeuronModel.Lif => 1 - 1.0 / d.Tau, _ => 1 - kf };
        double dhdx = d.Model switch { NeuronModel.If => 1, NeuronModel.Lif => d.DecayInput ? 1.0 / d.Tau : 1, _ => d.DecayInput ? kf : 1 };
        var dx = new double[n * T * F];
        var dxMag = new double[n * T * F];
        double dk = 0, dkMag = 0;
        int I(int b, int t, int f) => (b * T + t) * F + f;
        // Tangent of v after step t and its magnitude, then steps t+1.. onward; returns dL and its magnitude.
        (double, double) Push(int b, int f, int t0, double vdot, double vmag, bool kTangent)
        {
            double dl = 0, mag = 0;
            for (int t = t0; t < T; t++)
            {
                int i = I(b, t, f);
                double hdot = dhdv * vdot, hmag = Math.Abs(dhdv) * vmag;
                if (kTangent)
                {
                    double vprev = t == 0 ? d.VInit : Reset(d, h[i - F], s[i - F]);
                    double dhdk = d.DecayInput ? x[i] - (vprev - vr) : -(vprev - vr);
                    hdot += dhdk;
                    hmag += Math.Abs(dhdk);
                }
                double g = SurrogateGrad(sg, alpha, (double)(h[i] - d.VThreshold));
                double sdot = g * hdot, smag = (Math.Abs(g) + gErr) * hmag;
                dl += ds[i] * sdot; mag += Math.Abs(ds[i]) * smag;
                if (d.VReset.HasValue)
                {
                    double keep = 1 - s[i], spikePath = d.DetachReset ? 0 : (vr - h[i]);
                    vdot = keep * hdot + spikePath * sdot;
                    vmag = Math.Abs(keep) * hmag + Math.Abs(spikePath) * smag;
                }
                else
                {
                    double spikePath = d.DetachReset ? 0 : -vth;
                    vdot = hdot + spikePath * sdot;
                    vmag = hmag + Math.Abs(spikePath) * smag;
                }
            }
            return (dl, mag);
        }
        for (int b = 0; b < n; b++)
            for (int f = 0; f < F; f++)
            {
                for (int t0 = 0; t0 < T; t0++)
                {
                    // A unit tangent on x[t0] enters h[t0] with dh/dx and runs through every later step.
                    var (dl, mag) = PushFromH(b, f, t0);
                    dx[I(b, t0, f)] = dl;
                    dxMag[I(b, t0, f)] = mag;
                }
                if (d.Model == NeuronModel.ParametricLif)
                {
                    var (dl, mag) = Push(b, f, 0, 0, 0, kTangent: true);
                    dk += dl; dkMag += mag;
                }
            }
        return (dx, dxMag, dk * k * (1 - k), dkMag * k * (1 - k));

        (double, double) PushFromH(int b, int f, int t0)
        {
            int i = I(b, t0, f);
            double hdot = dhdx, hmag = Math.Abs(dhdx);
            double g = SurrogateGrad(sg, alpha, (double)(h[i] - d.VThreshold));
            double sdot = g * hdot, smag = (Math.Abs(g) + gErr) * hmag;
            double dl = ds[i] * sdot, mag = Math.Abs(ds[i]) * smag;
            double vdot, vmag;
            if (d.VReset.HasValue)
            {
                double keep = 1 - s[i], spikePath = d.DetachReset ? 0 : (vr - h[i]);
                vdot = keep * hdot + spikePath * sdot;
                vmag = Math.Abs(keep) * hmag + Math.Abs(spikePath) * smag;
            }
            else
            {
                double spikePath = d.DetachReset ? 0 : -vth;
                vdot = hdot + spikePath * sdot;
                vmag = hmag + Math.Abs(spikePath) * smag;
            }
            var (rest, restMag) = Push(b, f, t0 + 1, vdot, vmag, kTangent: false);
            return (dl + rest, mag + restMag);
        }
    }
}
