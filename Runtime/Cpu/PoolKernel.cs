// Pooling, one (sample, channel) plane per task. Max pooling follows PyTorch exactly: padding is
// never selected, ties go to the first maximum in row-major window order, and NaN wins; the
// backward pass recomputes that choice from x instead of storing indices.
namespace Authoring.Runtime.Cpu;

/// <summary>Pooling.</summary>
public static unsafe class PoolKernel
{
    /// <summary>Max pooling (padding acts as negative infinity).</summary>
    public static void MaxForward(in Pool2dShape s, int n, View x, View y)
    {
        Validate(s, n, x, y, "y");
        if (n == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new PlaneJob { Kind = Op.MaxForward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride };
            WorkerPool.For(n * s.C, ref job);
        }
    }

    /// <summary>Routes dy to the first maximum of each window (recomputed from x, as PyTorch picks it).</summary>
    public static void MaxBackward(in Pool2dShape s, int n, View x, View dy, View dx, bool accumulate)
    {
        Validate(s, n, x, dy, "dy");
        KernelUtil.Check(dx, n, s.C * s.H * s.W, nameof(dx));
        if (n == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data)
        {
            var job = new PlaneJob
            {
                Kind = Op.MaxBackward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = pdy + dy.Offset, YStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate,
            };
            WorkerPool.For(n * s.C, ref job);
        }
    }

    /// <summary>Average pooling, zero padding counted in the divisor (PyTorch's count_include_pad = true).</summary>
    public static void AvgForward(in Pool2dShape s, int n, View x, View y)
    {
        Validate(s, n, x, y, "y");
        if (n == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new PlaneJob { Kind = Op.AvgForward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride };
            WorkerPool.For(n * s.C, ref job);
        }
    }

    /// <summary>Backward of <see cref="AvgForward"/>.</summary>
    public static void AvgBackward(in Pool2dShape s, int n, View dy, View dx, bool accumulate)
    {
        Validate(s, n, dx, dy, "dy");
        if (n == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new PlaneJob
            {
                Kind = Op.AvgBackward, S = s, Y = pdy + dy.Offset, YStride = dy.BatchStride, Dx = pdx + dx.Offset, DxStride = dx.BatchStride,
                Accumulate = accumulate,
            };
            WorkerPool.For(n * s.C, ref job);
        }
    }

    /// <summary>y[b, c] = mean over hw of x[b, c, :].</summary>
    public static void GlobalAvgForward(int n, int c, int hw, View x, View y)
    {
        KernelUtil.Check(x, n, c * hw, nameof(x));
        KernelUtil.Check(y, n, c, nameof(y));
        if (n == 0 || c == 0) return;
        if (hw <= 0) throw new ArgumentOutOfRangeException(nameof(hw));
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new GlobalJob { C = c, Hw = hw, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride };
            if ((long)n * c * hw < 16384) for (int b = 0; b < n; b++) job.Run(b);
            else WorkerPool.For(n, ref job);
        }
    }

    /// <summary>dx[b, c, :] (= or +=) dy[b, c] / hw.</summary>
    public static void GlobalAvgBackward(int n, int c, int hw, View dy, View dx, bool accumulate)
    {
        KernelUtil.Check(dy, n, c, nameof(dy));
        KernelUtil.Check(dx, n, c * hw, nameof(dx));
        if (n == 0 || c == 0) return;
        if (hw <= 0) throw new ArgumentOutOfRangeException(nameof(hw));
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new GlobalJob
            {
                Backward = true, C = c, Hw = hw, Y = pdy + dy.Offset, YStride = dy.BatchStride, X = pdx + dx.Offset, XStride = dx.BatchStride,
                Accumulate = accumulate,
            };
            if ((long)n * c * hw < 16384) for (int b = 0; b < n; b++) job.Run(b);
            else WorkerPool.For(n, ref job);
        }
    }

    static void Validate(in Pool2dShape s, int n, in View input, in View output, string outName)
    {
        if (s.Kh <= 0 || s.Kw <= 0 || s.StrideH <= 0 || s.StrideW <= 0 || s.PadH < 0 || s.PadW < 0 || s.Ho <= 0 || s.Wo <= 0
            || 2 * s.PadH > s.Kh || 2 * s.PadW > s.Kw)
            throw new ArgumentException($"Invalid pooling shape {s} (padding may be at most half the window, as in PyTorch).");
        KernelUtil.Check(input, n, s.C * s.H * s.W, "x");
        KernelUtil.Check(output, n, s.C * s.Ho * s.Wo, outName);
    }

    enum Op { MaxForward, MaxBackward, AvgForward, AvgBackward }

    struct PlaneJob : IParallelJob
    {
        public Op Kind;
        public Pool2dShape S;
        public float* X, Y, Dx;
        public int XStride, YStride, DxStride;
        public bool Accumulate;

        public void Run(int index)
        {
            ref readonly Pool2dShape s = ref S;
            int b = index / s.C, c = index % s.C, hw = s.H * s.W, ohw = s.Ho * s.Wo;
            float* x = X + (long)b * XStride + (long)c * hw;
            float* y = Y + (long)b * YStride + (long)c * ohw;
            float* dx = Dx + (long)b * DxStride + (long)c * hw;
            if ((Kind == Op.MaxBackward || Kind == Op.AvgBackward) && !Accumulate) new Span<float>(dx, hw).Clear();
            float invArea = 1f / (s.Kh * s.Kw);
            for (int oh = 0; oh < s.Ho; oh++)
            {
                int h0 = oh * s.StrideH - s.PadH;
                int hs = Math.Max(h0, 0), he = Math.Min(h0 + s.Kh, s.H);
                for (int ow = 0; ow < s.Wo; ow++)
                {
                    int w0 = ow * s.StrideW - s.PadW;
                    int ws = Math.Max(w0, 0), we = Math.Min(w0 + s.Kw, s.W);
                    int o = oh * s.Wo + ow;
                    switch (Kind)
                    {
                        case Op.MaxForward:
                        case Op.MaxBackward:
                        {
                            int best = hs * s.W + ws;
                            float max = float.NegativeInfinity;
                            for (int ih = hs; ih < he; ih++)
                                for (int iw = ws; iw < we; iw++)
                                {
                                    float v = x[ih * s.W + iw];
                                    if (v > max || float.IsNaN(v)) { max = v; best = ih * s.W + iw; }
                                }
                            if (Kind == Op.MaxForward) y[o] = max;
                            else dx[best] += y[o];
                            break;
                        }
                        case Op.AvgForward:
                        {
                            float sum = 0f;
                            for (int ih = hs; ih < he; ih++)
                                for (int iw = ws; iw < we; iw++) sum += x[ih * s.W + iw];
                            y[o] = sum * invArea;
                            break;
                        }
                        default:
                        {
                            float g = y[o] * invArea;
                            for (int ih = hs; ih < he; ih++)
                                for (int iw = ws; iw < we; iw++) dx[ih * s.W + iw] += g;
                            break;
                        }
                    }
                }
            }
        }
    }

    struct GlobalJob : IParallelJob
    {
        public bool Backward, Accumulate;
        public float* X, Y;
        public int C, Hw, XStride, YStride;

        public void Run(int b)
        {
            float* x = X + (long)b * XStride, y = Y + (long)b * YStride;
            float inv = 1f / Hw;
            for (int c = 0; c < C; c++)
            {
                var row = new Span<float>(x + (long)c * Hw, Hw);
                if (!Backward) { y[c] = System.Numerics.Tensors.TensorPrimitives.Sum((ReadOnlySpan<float>)row) * inv; continue; }
                float g = y[c] * inv;
                if (Accumulate) System.Numerics.Tensors.TensorPrimitives.Add(row, g, row);
                else row.Fill(g);
            }
        }
    }
}
