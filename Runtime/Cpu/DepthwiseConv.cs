// Direct depthwise convolution (one filter per channel). Each input plane is copied into a
// zero-padded plane whose columns are split by phase (column mod stride), so that for every tap the
// inputs of consecutive output columns are consecutive floats: stride 2 and dilation vectorise like
// stride 1, and no bounds tests remain in the inner loops.
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu;

internal static unsafe class DepthwiseConv
{
    [ThreadStatic] static float[]? planeScratch;

    /// <summary>The phase-split padded plane: row r (padded coordinates), phase f, column q holds xpad[r, q * sw + f].</summary>
    readonly struct Plane
    {
        public readonly int Rows, Phases, Width;
        public Plane(in Conv2dShape s)
        {
            Rows = s.H + 2 * s.PadH;
            Phases = s.StrideW;
            // Every tap reads columns up to Wo - 1 + (Kw - 1) * dw / sw; the input may reach further.
            int need = Math.Max(s.Wo + (s.Kw - 1) * s.DilW / s.StrideW, (s.W + 2 * s.PadW + s.StrideW - 1) / s.StrideW);
            Width = need;
        }
        public int Size => Rows * Phases * Width;
        public long Index(int row, int tapCol) => ((long)row * Phases + tapCol % Phases) * Width + tapCol / Phases;
    }

    static void Fill(in Conv2dShape s, in Plane p, float* x, float* plane)
    {
        new Span<float>(plane, p.Size).Clear();
        int sw = s.StrideW;
        for (int ih = 0; ih < s.H; ih++)
        {
            float* src = x + ih * s.W;
            long rowBase = (long)(ih + s.PadH) * p.Phases * p.Width;
            if (sw == 1)
            {
                new ReadOnlySpan<float>(src, s.W).CopyTo(new Span<float>(plane + rowBase + s.PadW, s.W));
                continue;
            }
            for (int iw = 0; iw < s.W; iw++)
            {
                int c = iw + s.PadW;
                plane[rowBase + (long)(c % sw) * p.Width + c / sw] = src[iw];
            }
        }
    }

    public static void Forward<TAct>(in Conv2dShape s, int n, View x, float[] w, int wOff,
        float[]? scale, int scaleOff, float[]? shift, int shiftOff, View y) where TAct : struct, IActivation
    {
        fixed (float* px = x.Data, pw = w, py = y.Data, psc = scale, psh = shift)
        {
            var job = new ForwardJob<TAct>
            {
                S = s, X = px + x.Offset, XStride = x.BatchStride, W = pw + wOff, Y = py + y.Offset, YStride = y.BatchStride,
                Scale = psc == null ? null : psc + scaleOff, Shift = psh == null ? null : psh + shiftOff,
            };
            WorkerPool.For(n * s.Cin, ref job);
        }
    }

    public static void BackwardData(in Conv2dShape s, int n, View dy, float[] w, int wOff, View dx, bool accumulate)
    {
        fixed (float* pdy = dy.Data, pw = w, pdx = dx.Data)
        {
            var job = new BackwardDataJob
            {
                S = s, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, W = pw + wOff, Dx = pdx + dx.Offset,
                DxStride = dx.BatchStride, Accumulate = accumulate,
            };
            WorkerPool.For(n * s.Cin, ref job);
        }
    }

    public static void BackwardWeights(in Conv2dShape s, int n, View x, View dy, float[] dw, int dwOff)
    {
        fixed (float* px = x.Data, pdy = dy.Data, pdw = dw)
        {
            var job = new BackwardWeightsJob
            {
                S = s, N = n, X = px + x.Offset, XStride = x.BatchStride, Dy = pdy + dy.Offset, DyStride = dy.BatchStride, Dw = pdw + dwOff,
            };
            // One channel per index: each channel's weights are summed over the batch in order by one thread.
            WorkerPool.For(s.Cin, ref job);
        }
    }

    struct ForwardJob<TAct> : IParallelJob where TAct : struct, IActivation
    {
        public Conv2dShape S;
        public float* X, W, Y, Scale, Shift;
        public int XStride, YStride;

        public void Run(int index)
        {
            ref readonly Conv2dShape s = ref S;
            int b = index / s.Cin, c = index % s.Cin;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            Fill(s, p, X + (long)b * XStride + (long)c * s.H * s.W, plane);
            float* wc = W + (long)c * s.Kh * s.Kw;
            float* y = Y + (long)b * YStride + (long)c * s.Ho * s.Wo;
            float sc = Scale == null ? 1f : Scale[c], sh = Shift == null ? 0f : Shift[c];
            int wo = s.Wo;
            for (int oh = 0; oh < s.Ho; oh++)
            {
                float* yr = y + oh * wo;
                int ow = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var vs = Vector512.Create(sc); var vt = Vector512.Create(sh);
                    for (; ow <= wo - 16; ow += 16)
                    {
                        var acc = Vector512<float>.Zero;
                        for (int kh = 0; kh < s.Kh; kh++)
                        {
                            int row = oh * s.StrideH + kh * s.DilH;
                            for (int kw = 0; kw < s.Kw; kw++)
                                acc = Vector512.FusedMultiplyAdd(Vector512.Create(wc[kh * s.Kw + kw]),
                                    Vector512.Load(plane + p.Index(row, kw * s.DilW) + ow), acc);
                        }
                        default(TAct).Apply(Vector512.FusedMultiplyAdd(acc, vs, vt)).Store(yr + ow);
                    }
                }
                {
                    var vs = Vector256.Create(sc); var vt = Vector256.Create(sh);
                    for (; ow <= wo - 8; ow += 8)
                    {
                        var acc = Vector256<float>.Zero;
                        for (int kh = 0; kh < s.Kh; kh++)
                        {
                            int row = oh * s.StrideH + kh * s.DilH;
                            for (int kw = 0; kw < s.Kw; kw++)
                                acc = Vector256.FusedMultiplyAdd(Vector256.Create(wc[kh * s.Kw + kw]),
                                    Vector256.Load(plane + p.Index(row, kw * s.DilW) + ow), acc);
                        }
                        default(TAct).Apply(Vector256.FusedMultiplyAdd(acc, vs, vt)).Store(yr + ow);
                    }
                }
                for (; ow < wo; ow++)
                {
                    float acc = 0f;
                    for (int kh = 0; kh < s.Kh; kh++)
                    {
                        int row = oh * s.StrideH + kh * s.DilH;
                        for (int kw = 0; kw < s.Kw; kw++)
                            acc = MathF.FusedMultiplyAdd(wc[kh * s.Kw + kw], plane[p.Index(row, kw * s.DilW) + ow], acc);
                    }
                    yr[ow] = default(TAct).Apply(MathF.FusedMultiplyAdd(acc, sc, sh));
                }
            }
        }
    }

    struct BackwardDataJob : IParallelJob
    {
        public Conv2dShape S;
        public float* Dy, W, Dx;
        public int DyStride, DxStride;
        public bool Accumulate;

        public void Run(int index)
        {
            ref readonly Conv2dShape s = ref S;
            int b = index / s.Cin, c = index % s.Cin;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            new Span<float>(plane, p.Size).Clear();
            float* wc = W + (long)c * s.Kh * s.Kw;
            float* dy = Dy + (long)b * DyStride + (long)c * s.Ho * s.Wo;
            int wo = s.Wo;
            // Scatter: every tap adds w * dy[oh, :] into a contiguous run of the phase-split plane.
            for (int oh = 0; oh < s.Ho; oh++)
            {
                float* dr = dy + oh * wo;
                for (int kh = 0; kh < s.Kh; kh++)
                {
                    int row = oh * s.StrideH + kh * s.DilH;
                    for (int kw = 0; kw < s.Kw; kw++)
                    {
                        float* d = plane + p.Index(row, kw * s.DilW);
                        float wv = wc[kh * s.Kw + kw];
                        int ow = 0;
                        if (Vector512.IsHardwareAccelerated)
                        {
                            var vw = Vector512.Create(wv);
                            for (; ow <= wo - 16; ow += 16)
                                Vector512.FusedMultiplyAdd(vw, Vector512.Load(dr + ow), Vector512.Load(d + ow)).Store(d + ow);
                        }
                        {
                            var vw = Vector256.Create(wv);
                            for (; ow <= wo - 8; ow += 8)
                                Vector256.FusedMultiplyAdd(vw, Vector256.Load(dr + ow), Vector256.Load(d + ow)).Store(d + ow);
                        }
                        for (; ow < wo; ow++) d[ow] = MathF.FusedMultiplyAdd(wv, dr[ow], d[ow]);
                    }
                }
            }
            float* dx = Dx + (long)b * DxStride + (long)c * s.H * s.W;
            int sw = s.StrideW;
            for (int ih = 0; ih < s.H; ih++)
            {
                float* dst = dx + ih * s.W;
                long rowBase = (long)(ih + s.PadH) * p.Phases * p.Width;
                if (sw == 1)
                {
                    KernelUtil.CopyOrAdd(plane + rowBase + s.PadW, dst, s.W, Accumulate);
                    continue;
                }
                for (int iw = 0; iw < s.W; iw++)
                {
                    int col = iw + s.PadW;
                    float v = plane[rowBase + (long)(col % sw) * p.Width + col / sw];
                    dst[iw] = Accumulate ? dst[iw] + v : v;
                }
            }
        }
    }

    struct BackwardWeightsJob : IParallelJob
    {
        public Conv2dShape S;
        public float* X, Dy, Dw;
        public int XStride, DyStride, N;

        public void Run(int c)
        {
            ref readonly Conv2dShape s = ref S;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            int kk = s.Kh * s.Kw, wo = s.Wo;
            // Per-tap sums in double across samples; within a sample, float vector lanes over <= Ho*Wo terms.
            Span<double> sums = kk <= 256 ? stackalloc double[kk] : new double[kk];
            sums.Clear();
            for (int b = 0; b < N; b++)
            {
                Fill(s, p, X + (long)b * XStride + (long)c * s.H * s.W, plane);
                float* dy = Dy + (long)b * DyStride + (long)c * s.Ho * wo;
                for (int kh = 0; kh < s.Kh; kh++)
                {
                    for (int kw = 0; kw < s.Kw; kw++)
                    {
                        float tail = 0f;
                        var acc512 = Vector512<float>.Zero;
                        var acc256 = Vector256<float>.Zero;
                        for (int oh = 0; oh < s.Ho; oh++)
                        {
                            float* xr = plane + p.Index(oh * s.StrideH + kh * s.DilH, kw * s.DilW);
                            float* dr = dy + oh * wo;
                            int ow = 0;
                            if (Vector512.IsHardwareAccelerated)
                                for (; ow <= wo - 16; ow += 16)
                                    acc512 = Vector512.FusedMultiplyAdd(Vector512.Load(dr + ow), Vector512.Load(xr + ow), acc512);
                            for (; ow <= wo - 8; ow += 8)
                                acc256 = Vector256.FusedMultiplyAdd(Vector256.Load(dr + ow), Vector256.Load(xr + ow), acc256);
                            for (; ow < wo; ow++) tail = MathF.FusedMultiplyAdd(dr[ow], xr[ow], tail);
                        }
                        sums[kh * s.Kw + kw] += (double)Vector512.Sum(acc512) + Vector256.Sum(acc256) + tail;
                    }
                }
            }
            float* dw = Dw + (long)c * kk;
            for (int t = 0; t < kk; t++) dw[t] += (float)sums[t];
        }
    }
}
