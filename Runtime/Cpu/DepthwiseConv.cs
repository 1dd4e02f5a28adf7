// Direct depthwise convolution (one filter per channel). Each input plane is copied into a
// zero-padded plane whose columns are split by phase (column mod stride), so that for every tap the
// inputs of consecutive output columns are consecutive floats: stride 2 and dilation vectorise like
// stride 1, and no bounds tests remain in the inner loops.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

internal static unsafe class DepthwiseConv
{
    [ThreadStatic] static float[]? planeScratch;
    [ThreadStatic] static float[]? dyScratch;

    /// <summary>Vector width of the inner loops. 8 lanes everywhere: the rows here are short (7..56
    /// outputs), so wider vectors would mostly compute padding.</summary>
    const int V = 8;

    /// <summary>The phase-split padded plane: row r (padded coordinates), phase f, column q holds xpad[r, q * sw + f].
    /// Lines are wide enough that whole vectors past the last output column stay inside their own line.</summary>
    readonly struct Plane
    {
        public readonly int Rows, Phases, Width, VecWo;
        public Plane(in Conv2dShape s)
        {
            Rows = s.H + 2 * s.PadH;
            Phases = s.StrideW;
            VecWo = (s.Wo + V - 1) / V * V;
            Width = Math.Max(VecWo + (s.Kw - 1) * s.DilW / s.StrideW, (s.W + 2 * s.PadW + s.StrideW - 1) / s.StrideW);
        }
        public int Size => Rows * Phases * Width;
        public int RowStride => Phases * Width;

        /// <summary>Offsets of each tap's first input relative to the line of output row 0.</summary>
        public void TapOffsets(in Conv2dShape s, Span<int> offsets)
        {
            for (int kh = 0; kh < s.Kh; kh++)
                for (int kw = 0; kw < s.Kw; kw++)
                {
                    int t = kw * s.DilW;
                    offsets[kh * s.Kw + kw] = (kh * s.DilH * Phases + t % Phases) * Width + t / Phases;
                }
        }
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
            // Walk phase and column incrementally: a division per element would cost more than the copy.
            int phase = s.PadW % sw, q = s.PadW / sw;
            int iw = 0;
            if (sw == 2 && Avx2.IsSupported)
            {
                // Even and odd inputs of 16 at a time, split with a shuffle and a lane permute.
                float* evenDst = plane + rowBase + (long)phase * p.Width + q;
                float* oddDst = plane + rowBase + (long)(1 - phase) * p.Width + (s.PadW + 1) / 2;
                for (; iw + 16 <= s.W; iw += 16)
                {
                    var a = Vector256.Load(src + iw);
                    var b = Vector256.Load(src + iw + 8);
                    var ev = Avx2.Permute4x64(Avx.Shuffle(a, b, 0x88).AsDouble(), 0xD8).AsSingle();
                    var od = Avx2.Permute4x64(Avx.Shuffle(a, b, 0xDD).AsDouble(), 0xD8).AsSingle();
                    ev.Store(evenDst + iw / 2);
                    od.Store(oddDst + iw / 2);
                }
                q += iw / 2;
            }
            for (; iw < s.W; iw++)
            {
                plane[rowBase + (long)phase * p.Width + q] = src[iw];
                if (++phase == sw) { phase = 0; q++; }
            }
        }
    }

    /// <summary>About eight tasks per thread: enough to balance shared cores, few enough that claiming
    /// work (an atomic on a shared counter) costs nothing next to a group of planes.</summary>
    static void Split(int planes, out int perTask, out int total, out int tasks)
    {
        total = planes;
        perTask = Math.Max(1, planes / (8 * WorkerPool.ThreadCount));
        tasks = (planes + perTask - 1) / perTask;
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
            Split(n * s.Cin, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job);
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
            Split(n * s.Cin, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job);
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

        public int PerTask, Total;

        public void Run(int task)
        {
            int end = Math.Min(Total, (task + 1) * PerTask);
            for (int i = task * PerTask; i < end; i++) RunPlane(i);
        }

        void RunPlane(int index)
        {
            ref readonly Conv2dShape s = ref S;
            int b = index / s.Cin, c = index % s.Cin;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            Fill(s, p, X + (long)b * XStride + (long)c * s.H * s.W, plane);
            int kk = s.Kh * s.Kw;
            int* offs = stackalloc int[kk];
            p.TapOffsets(s, new Span<int>(offs, kk));
            float* wc = W + (long)c * kk;
            float* y = Y + (long)b * YStride + (long)c * s.Ho * s.Wo;
            float sc = Scale == null ? 1f : Scale[c], sh = Shift == null ? 0f : Shift[c];
            var vs = Vector256.Create(sc); var vt = Vector256.Create(sh);
            int wo = s.Wo, full = wo / V * V;
            float* tail = stackalloc float[V];
            for (int oh = 0; oh < s.Ho; oh++)
            {
                float* line = plane + (long)oh * s.StrideH * p.RowStride;
                float* yr = y + oh * wo;
                for (int ow = 0; ow < p.VecWo; ow += V)
                {
                    float* src = line + ow;
                    var acc = Vector256<float>.Zero;
                    for (int t = 0; t < kk; t++)
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(wc[t]), Vector256.Load(src + offs[t]), acc);
                    var r = default(TAct).Apply(Vector256.FusedMultiplyAdd(acc, vs, vt));
                    if (ow < full) r.Store(yr + ow);
                    else { r.Store(tail); for (int j = 0; j < wo - ow; j++) yr[ow + j] = tail[j]; }
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

        public int PerTask, Total;

        public void Run(int task)
        {
            int end = Math.Min(Total, (task + 1) * PerTask);
            for (int i = task * PerTask; i < end; i++) RunPlane(i);
        }

        void RunPlane(int index)
        {
            ref readonly Conv2dShape s = ref S;
            int b = index / s.Cin, c = index % s.Cin;
            var p = new Plane(s);
            float* plane = Scratch.Aligned(Scratch.Get(ref planeScratch, p.Size));
            new Span<float>(plane, p.Size).Clear();
            int kk = s.Kh * s.Kw;
            int* offs = stackalloc int[kk];
            p.TapOffsets(s, new Span<int>(offs, kk));
            float* wc = W + (long)c * kk;
            float* dy = Dy + (long)b * DyStride + (long)c * s.Ho * s.Wo;
            int wo = s.Wo;
            // dy rows padded with zeros to whole vectors: the extra lanes add 0 into slack columns.
            float* row = stackalloc float[p.VecWo];
            for (int j = wo; j < p.VecWo; j++) row[j] = 0f;
            for (int oh = 0; oh < s.Ho; oh++)
            {
                new ReadOnlySpan<float>(dy + oh * wo, wo).CopyTo(new Span<float>(row, wo));
                float* line = plane + (long)oh * s.StrideH * p.RowStride;
                for (int t = 0; t < kk; t++)
                {
                    float* d = line + offs[t];
                    var vw = Vector256.Create(wc[t]);
                    for (int ow = 0; ow < p.VecWo; ow += V)
                        Vector256.FusedMultiplyAdd(vw, Vector256.Load(row + ow), Vector256.Load(d + ow)).Store(d + ow);
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
                int phase = s.PadW % sw, q = s.PadW / sw;
                for (int iw = 0; iw < s.W; iw++)
                {
                    float v = plane[rowBase + (long)phase * p.Width + q];
                    dst[iw] = Accumulate ? dst[iw] + v : v;
                    if (++phase == sw) { phase = 0; q++; }
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
            int* offs = stackalloc int[kk];
            p.TapOffsets(s, new Span<int>(offs, kk));
            // Per-tap sums in double across samples; within a sample, float vector lanes over Ho*Wo terms.
            Span<double> sums = stackalloc double[kk];
            sums.Clear();
            // dy copied with zero-padded rows, so whole vectors need no tail (extra lanes multiply 0).
            int ho = s.Ho;
            float* dyp = Scratch.Aligned(Scratch.Get(ref dyScratch, ho * p.VecWo));
            for (int b = 0; b < N; b++)
            {
                Fill(s, p, X + (long)b * XStride + (long)c * s.H * s.W, plane);
                float* dy = Dy + (long)b * DyStride + (long)c * ho * wo;
                for (int oh = 0; oh < ho; oh++)
                {
                    new ReadOnlySpan<float>(dy + oh * wo, wo).CopyTo(new Span<float>(dyp + oh * p.VecWo, wo));
                    for (int j = wo; j < p.VecWo; j++) dyp[oh * p.VecWo + j] = 0f;
                }
                long lineStep = (long)s.StrideH * p.RowStride;
                for (int t = 0; t < kk; t++)
                {
                    // Two accumulators on alternate rows halve the FMA latency chain.
                    var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
                    float* src = plane + offs[t];
                    int oh = 0;
                    for (; oh + 1 < ho; oh += 2)
                    {
                        float* x0 = src + oh * lineStep, x1 = x0 + lineStep;
                        float* d0 = dyp + oh * p.VecWo, d1 = d0 + p.VecWo;
                        for (int ow = 0; ow < p.VecWo; ow += V)
                        {
                            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(d0 + ow), Vector256.Load(x0 + ow), a0);
                            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(d1 + ow), Vector256.Load(x1 + ow), a1);
                        }
                    }
                    if (oh < ho)
                    {
                        float* x0 = src + oh * lineStep;
                        float* d0 = dyp + oh * p.VecWo;
                        for (int ow = 0; ow < p.VecWo; ow += V)
                            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(d0 + ow), Vector256.Load(x0 + ow), a0);
                    }
                    sums[t] += Vector256.Sum(a0 + a1);
                }
            }
            float* dw = Dw + (long)c * kk;
            for (int t = 0; t < kk; t++) dw[t] += (float)sums[t];
        }
    }
}
