// Training-side element-wise pieces of binary networks over NCHW floats (BatchNorm1d-like (N, F)
// tensors are hw = 1): the binarising sign with a surrogate gradient, ReActNet's RSign (sign after a
// learnt per-channel bias) and RPReLU (PReLU between two learnt per-channel biases), forward and
// backward with parameter gradients.
//
// Definitions, as ReActNet's reference code (liuzechun/ReActNet, LearnableBias adds its bias):
//   Sign / RSign:  u = x + bias[c] (bias absent: 0),  y = u < 0 ? -1 : +1      (sign(0) = +1, Larq's convention)
//                  dx = dy * g(u) with g an ISignGradient;  dbias[c] += sum dx
//   RPReLU:        u = x + b0[c],  y = (u > 0 ? u : a[c] u) + b1[c]              (move1.bias, prelu.weight, move2.bias)
//                  du = dy * (u > 0 ? 1 : a[c]);  dx = du;  db0 += sum du;  da += sum dy * (u > 0 ? 0 : u);  db1 += sum dy
// so the packed input of the next binary layer is bit = x < -bias[c] (BitPack's threshold = -bias).
//
// Parameter gradients reduce one channel per task (rows of the batch in order, float vector partials
// per row added in double), so results do not depend on scheduling; without them, one task per row.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

/// <summary>Sign / RSign and RPReLU forward and backward (definitions in the file header).</summary>
public static unsafe class BinaryActivationKernel
{
    /// <summary>y = sign(x + bias[c]) in {-1, +1} (sign(0) = +1); a null <paramref name="bias"/> is plain Sign.</summary>
    public static void SignForward(int n, int c, int hw, View x, float[]? bias, int biasOff, View y)
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(y, n, c * hw, nameof(y));
        if (bias is not null) KernelUtil.Check(bias, biasOff, c, nameof(bias));
        if (n == 0 || c == 0 || hw == 0) return;
        fixed (float* px = x.Data, py = y.Data, pb = bias)
        {
            var job = new SignForwardJob
            {
                C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Bias = pb == null ? null : pb + biasOff,
            };
            RunRows(n * c, (long)n * c * hw, ref job);
        }
    }

    /// <summary>dx (= or += when <paramref name="accumulate"/>) = dy * g(x + bias[c]); dBias[c] += sum over batch and
    /// positions of dy * g (skipped when <paramref name="dBias"/> is null; a null <paramref name="bias"/> is 0).</summary>
    public static void SignBackward<TGrad>(int n, int c, int hw, TGrad grad, View x, float[]? bias, int biasOff, View dy,
        View dx, bool accumulate, float[]? dBias, int dBiasOff) where TGrad : struct, ISignGradient
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(dy, n, c * hw, nameof(dy));
        KernelUtil.Check(dx, n, c * hw, nameof(dx));
        if (bias is not null) KernelUtil.Check(bias, biasOff, c, nameof(bias));
        if (dBias is not null) KernelUtil.Check(dBias, dBiasOff, c, nameof(dBias));
        if (n == 0 || c == 0 || hw == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, pb = bias, pg = dBias)
        {
            var job = new SignBackwardJob<TGrad>
            {
                Grad = grad, N = n, C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate, Bias = pb == null ? null : pb + biasOff,
                DBias = pg == null ? null : pg + dBiasOff,
            };
            if (pg != null) RunChannels(c, (long)n * c * hw, ref job);
            else RunRows(n * c, (long)n * c * hw, ref job);
        }
    }

    /// <summary>y = prelu(x + p[b0Off + c], p[slopeOff + c]) + p[b1Off + c] (ReActNet's RPReLU).</summary>
    public static void RPReluForward(int n, int c, int hw, View x, float[] p, int b0Off, int slopeOff, int b1Off, View y)
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(y, n, c * hw, nameof(y));
        CheckRPRelu(c, p, b0Off, slopeOff, b1Off, nameof(p));
        if (n == 0 || c == 0 || hw == 0) return;
        fixed (float* px = x.Data, py = y.Data, pp = p)
        {
            var job = new RPReluForwardJob
            {
                C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                B0 = pp + b0Off, Slope = pp + slopeOff, B1 = pp + b1Off,
            };
            RunRows(n * c, (long)n * c * hw, ref job);
        }
    }

    /// <summary>RPReLU backward: dx (= or +=); g[dB0Off + c], g[dSlopeOff + c], g[dB1Off + c] += the parameter gradients
    /// (all three skipped when <paramref name="g"/> is null). The pre-activation is recomputed from x.</summary>
    public static void RPReluBackward(int n, int c, int hw, View x, View dy, float[] p, int b0Off, int slopeOff, int b1Off,
        View dx, bool accumulate, float[]? g, int dB0Off, int dSlopeOff, int dB1Off)
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(dy, n, c * hw, nameof(dy));
        KernelUtil.Check(dx, n, c * hw, nameof(dx));
        CheckRPRelu(c, p, b0Off, slopeOff, b1Off, nameof(p));
        if (g is not null) CheckRPRelu(c, g, dB0Off, dSlopeOff, dB1Off, nameof(g));
        if (n == 0 || c == 0 || hw == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, pp = p, pg = g)
        {
            var job = new RPReluBackwardJob
            {
                N = n, C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate,
                B0 = pp + b0Off, Slope = pp + slopeOff,
                DB0 = pg == null ? null : pg + dB0Off, DSlope = pg == null ? null : pg + dSlopeOff, DB1 = pg == null ? null : pg + dB1Off,
            };
            if (pg != null) RunChannels(c, (long)n * c * hw, ref job);
            else RunRows(n * c, (long)n * c * hw, ref job);
        }
    }

    static void CheckRPRelu(int c, float[] p, int b0, int slope, int b1, string name)
    {
        KernelUtil.Check(p, b0, c, name);
        KernelUtil.Check(p, slope, c, name);
        KernelUtil.Check(p, b1, c, name);
    }

    /// <summary>Jobs whose index is a row (sample, channel) or a channel, as the caller chooses.</summary>
    interface IRowJob : IParallelJob
    {
        /// <summary>Runs row (b, ch).</summary>
        void Row(int b, int ch);
        /// <summary>True when Run(i) takes channel i (all its rows), false when it takes row i.</summary>
        bool ByChannel { get; set; }
    }

    static void RunRows<TJob>(int rows, long elements, ref TJob job) where TJob : struct, IRowJob
    {
        job.ByChannel = false;
        if (elements < 32768) for (int i = 0; i < rows; i++) job.Run(i);
        else WorkerPool.For(rows, ref job);
    }

    static void RunChannels<TJob>(int channels, long elements, ref TJob job) where TJob : struct, IRowJob
    {
        job.ByChannel = true;
        if (elements < 32768) for (int i = 0; i < channels; i++) job.Run(i);
        else WorkerPool.For(channels, ref job);
    }

    struct SignForwardJob : IRowJob
    {
        public float* X, Y, Bias;
        public int C, Hw, XStride, YStride;
        public bool ByChannel { readonly get; set; }

        public void Run(int i) => Row(i / C, i % C);

        public readonly void Row(int b, int ch)
        {
            float* x = X + (long)b * XStride + (long)ch * Hw, y = Y + (long)b * YStride + (long)ch * Hw;
            float bias = Bias == null ? 0f : Bias[ch];
            var vb = Vector256.Create(bias);
            int i = 0;
            for (; i <= Hw - 8; i += 8)
                Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Load(x + i) + vb, Vector256<float>.Zero),
                    Vector256.Create(-1f), Vector256<float>.One).Store(y + i);
            for (; i < Hw; i++) y[i] = x[i] + bias < 0f ? -1f : 1f;
        }
    }

    struct SignBackwardJob<TGrad> : IRowJob where TGrad : struct, ISignGradient
    {
        public TGrad Grad;
        public float* X, Dy, Dx, Bias, DBias;
        public int N, C, Hw, XStride, DyStride, DxStride;
        public bool Accumulate;
        public bool ByChannel { readonly get; set; }

        public void Run(int i)
        {
            if (!ByChannel) { Row(i / C, i % C); return; }
            double sum = 0;
            for (int b = 0; b < N; b++) sum += RowSum(b, i);
            DBias[i] += (float)sum;
        }

        public void Row(int b, int ch) => RowSum(b, ch);

        /// <summary>Writes the row of dx and returns its sum.</summary>
        double RowSum(int b, int ch)
        {
            long at = (long)ch * Hw;
            float* x = X + (long)b * XStride + at, dy = Dy + (long)b * DyStride + at, dx = Dx + (long)b * DxStride + at;
            float bias = Bias == null ? 0f : Bias[ch];
            var vb = Vector256.Create(bias);
            var acc = Vector256<float>.Zero;
            int i = 0;
            for (; i <= Hw - 8; i += 8)
            {
                var v = Vector256.Load(dy + i) * Grad.Derivative(Vector256.Load(x + i) + vb);
                acc += v;
                if (Accumulate) v += Vector256.Load(dx + i);
                v.Store(dx + i);
            }
            double sum = Vector256.Sum(acc);
            for (; i < Hw; i++)
            {
                float v = dy[i] * Grad.Derivative(x[i] + bias);
                sum += v;
                dx[i] = Accumulate ? dx[i] + v : v;
            }
            return sum;
        }
    }

    struct RPReluForwardJob : IRowJob
    {
        public float* X, Y, B0, Slope, B1;
        public int C, Hw, XStride, YStride;
        public bool ByChannel { readonly get; set; }

        public void Run(int i) => Row(i / C, i % C);

        public readonly void Row(int b, int ch)
        {
            float* x = X + (long)b * XStride + (long)ch * Hw, y = Y + (long)b * YStride + (long)ch * Hw;
            float b0 = B0[ch], a = Slope[ch], b1 = B1[ch];
            var v0 = Vector256.Create(b0); var va = Vector256.Create(a); var v1 = Vector256.Create(b1);
            int i = 0;
            for (; i <= Hw - 8; i += 8)
            {
                var u = Vector256.Load(x + i) + v0;
                (Vector256.ConditionalSelect(Vector256.GreaterThan(u, Vector256<float>.Zero), u, u * va) + v1).Store(y + i);
            }
            for (; i < Hw; i++)
            {
                float u = x[i] + b0;
                y[i] = (u > 0f ? u : a * u) + b1;
            }
        }
    }

    struct RPReluBackwardJob : IRowJob
    {
        public float* X, Dy, Dx, B0, Slope, DB0, DSlope, DB1;
        public int N, C, Hw, XStride, DyStride, DxStride;
        public bool Accumulate;
        public bool ByChannel { readonly get; set; }

        public void Run(int i)
        {
            if (!ByChannel) { Row(i / C, i % C); return; }
            double du = 0, da = 0, dy = 0;
            for (int b = 0; b < N; b++)
            {
                var (a, s, t) = RowSums(b, i);
                du += a; da += s; dy += t;
            }
            DB0[i] += (float)du;
            DSlope[i] += (float)da;
            DB1[i] += (float)dy;
        }

        public void Row(int b, int ch) => RowSums(b, ch);

        /// <summary>Writes the row of dx; returns the row's sums of du, dy * min(u, 0) (u &lt;= 0 part) and dy.</summary>
        readonly (double du, double da, double dy) RowSums(int b, int ch)
        {
            long at = (long)ch * Hw;
            float* x = X + (long)b * XStride + at, dy = Dy + (long)b * DyStride + at, dx = Dx + (long)b * DxStride + at;
            float b0 = B0[ch], a = Slope[ch];
            var v0 = Vector256.Create(b0); var va = Vector256.Create(a);
            Vector256<float> sdu = default, sda = default, sdy = default;
            int i = 0;
            for (; i <= Hw - 8; i += 8)
            {
                var u = Vector256.Load(x + i) + v0;
                var g = Vector256.Load(dy + i);
                var pos = Vector256.GreaterThan(u, Vector256<float>.Zero);
                var d = Vector256.ConditionalSelect(pos, g, g * va);
                sdu += d;
                sda += Vector256.ConditionalSelect(pos, Vector256<float>.Zero, g * u);
                sdy += g;
                if (Accumulate) d += Vector256.Load(dx + i);
                d.Store(dx + i);
            }
            double tdu = Vector256.Sum(sdu), tda = Vector256.Sum(sda), tdy = Vector256.Sum(sdy);
            for (; i < Hw; i++)
            {
                float u = x[i] + b0, g = dy[i];
                float d = u > 0f ? g : g * a;
                tdu += d;
                if (!(u > 0f)) tda += g * u;
                tdy += g;
                dx[i] = Accumulate ? dx[i] + d : d;
            }
            return (tdu, tda, tdy);
        }
    }
}
