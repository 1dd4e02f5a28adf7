// Pooling, one (sample, channel) plane per task. Max pooling follows PyTorch exactly: padding is
// never selected, ties go to the first maximum in row-major window order, and NaN wins; the
// backward pass recomputes that choice from x instead of storing indices.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
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
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>Max pooling of x' = act_in(input.Scale[c] x + input.Shift[c]) (a producer's training BatchNorm and
    /// activation, <see cref="ChannelAffine"/>), computed as it is read, so x' is never stored; the same values as
    /// applying <see cref="BatchNormKernel.Affine{TAct}"/> first, then <see cref="MaxForward"/>.</summary>
    public static void MaxForward<TIn>(in Pool2dShape s, int n, View x, in ChannelAffine input, View y) where TIn : struct, IActivation
    {
        Validate(s, n, x, y, "y");
        CheckAffine(input, s.C);
        if (n == 0) return;
        fixed (float* px = x.Data, py = y.Data, pa = input.Scale, pb = input.Shift)
        {
            var job = new PlaneJob<TIn>
            {
                Kind = Op.MaxForward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride,
                Scale = pa + input.ScaleOffset, Shift = pb + input.ShiftOffset,
            };
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>Backward of <see cref="MaxForward{TIn}"/>: the first maximum of x' (recomputed from x) gets dy.</summary>
    public static void MaxBackward<TIn>(in Pool2dShape s, int n, View x, in ChannelAffine input, View dy, View dx, bool accumulate)
        where TIn : struct, IActivation
    {
        Validate(s, n, x, dy, "dy");
        CheckAffine(input, s.C);
        KernelUtil.Check(dx, n, s.C * s.H * s.W, nameof(dx));
        if (n == 0) return;
        fixed (float* px = x.Data, pdy = dy.Data, pdx = dx.Data, pa = input.Scale, pb = input.Shift)
        {
            var job = new PlaneJob<TIn>
            {
                Kind = Op.MaxBackward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = pdy + dy.Offset, YStride = dy.BatchStride,
                Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate,
                Scale = pa + input.ScaleOffset, Shift = pb + input.ShiftOffset,
            };
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
        }
    }

    static void CheckAffine(in ChannelAffine a, int channels)
    {
        if (a.IsNone) throw new ArgumentException("The input prologue needs a scale and a shift (use MaxForward / MaxBackward without one).");
        KernelUtil.Check(a.Scale, a.ScaleOffset, channels, "input scale");
        KernelUtil.Check(a.Shift, a.ShiftOffset, channels, "input shift");
    }

    /// <summary>Average pooling, zero padding counted in the divisor (PyTorch's count_include_pad = true).</summary>
    public static void AvgForward(in Pool2dShape s, int n, View x, View y)
    {
        Validate(s, n, x, y, "y");
        if (n == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new PlaneJob { Kind = Op.AvgForward, S = s, X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride };
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
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
            WorkerPool.For(n * s.C, ref job, (long)n * s.C * s.H * s.W * WorkerPool.FlopsPerElement);
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
            WorkerPool.For(n, ref job, (long)n * c * hw * WorkerPool.FlopsPerElement);
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
            WorkerPool.For(n, ref job, (long)n * c * hw * WorkerPool.FlopsPerElement);
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

    /// <summary>How a max-pooling plane reads x: as stored, or through a per-channel affine and activation. Generic
    /// struct arguments, so the stored case compiles to plain loads.</summary>
    interface ILoad
    {
        Vector256<float> V(Vector256<float> v);
        float S(float v);
    }

    struct Stored : ILoad
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public Vector256<float> V(Vector256<float> v) => v;
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public float S(float v) => v;
    }

    /// <summary>act(a x + b), the operations of <see cref="KernelUtil.Epilogue{TAct}(float*, float*, int, float, float)"/>.</summary>
    struct Affine<TIn> : ILoad where TIn : struct, IActivation
    {
        public float A, B;
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public Vector256<float> V(Vector256<float> v) => default(TIn).Apply(Vector256.FusedMultiplyAdd(v, Vector256.Create(A), Vector256.Create(B)));
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public float S(float v) => default(TIn).Apply(MathF.FusedMultiplyAdd(v, A, B));
    }

    /// <summary>Max pooling planes read through <see cref="Affine{TIn}"/> (Kind MaxForward or MaxBackward only).</summary>
    struct PlaneJob<TIn> : IParallelJob where TIn : struct, IActivation
    {
        public Op Kind;
        public Pool2dShape S;
        public float* X, Y, Dx, Scale, Shift;
        public int XStride, YStride, DxStride;
        public bool Accumulate;

        public void Run(int index)
        {
            Pool2dShape s = S;
            int c = s.C, w = s.W, ho = s.Ho, wo = s.Wo, hw = s.H * w, ohw = ho * wo;
            int b = index / c, ch = index % c;
            float* x = X + (long)b * XStride + (long)ch * hw;
            float* y = Y + (long)b * YStride + (long)ch * ohw;
            var ld = new Affine<TIn> { A = Scale[ch], B = Shift[ch] };
            bool twoByTwo = s.Kh == 2 && s.Kw == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0 && Avx2.IsSupported;
            if (Kind == Op.MaxForward)
            {
                if (twoByTwo) PlaneJob.Max2x2(x, y, w, ho, wo, ld);
                else PlaneJob.MaxPlane(s, x, y, null, false, ld);
                return;
            }
            float* dx = Dx + (long)b * DxStride + (long)ch * hw;
            if (!Accumulate) new Span<float>(dx, hw).Clear();
            if (twoByTwo) PlaneJob.Max2x2Backward(x, y, dx, w, ho, wo, ld);
            else PlaneJob.MaxPlane(s, x, y, dx, true, ld);
        }
    }

    struct PlaneJob : IParallelJob
    {
        public Op Kind;
        public Pool2dShape S;
        public float* X, Y, Dx;
        public int XStride, YStride, DxStride;
        public bool Accumulate;

        public void Run(int index)
        {
            // Shape copied into locals: stores through float pointers could alias this struct, which
            // would make the JIT reload every field inside the loops.
            Pool2dShape s = S;
            int c = s.C, h = s.H, w = s.W, ho = s.Ho, wo = s.Wo, hw = h * w, ohw = ho * wo;
            int b = index / c, ch = index % c;
            float* x = X + (long)b * XStride + (long)ch * hw;
            float* y = Y + (long)b * YStride + (long)ch * ohw;
            float* dx = Dx + (long)b * DxStride + (long)ch * hw;
            switch (Kind)
            {
                case Op.MaxForward:
                    if (s.Kh == 2 && s.Kw == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0 && Avx2.IsSupported)
                        Max2x2(x, y, w, ho, wo, default(Stored));
                    else
                        MaxPlane(s, x, y, null, false, default(Stored));
                    break;
                case Op.MaxBackward:
                    if (!Accumulate) new Span<float>(dx, hw).Clear();
                    if (s.Kh == 2 && s.Kw == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0 && Avx2.IsSupported)
                        Max2x2Backward(x, y, dx, w, ho, wo, default(Stored));
                    else
                        MaxPlane(s, x, y, dx, true, default(Stored));
                    break;
                case Op.AvgForward:
                    if (Avg2x2Applies(s)) Avg2x2(x, y, w, ho, wo);
                    else AvgPlane(s, x, y, null, false);
                    break;
                default:
                    if (!Accumulate) new Span<float>(dx, hw).Clear();
                    if (Avg2x2Applies(s)) Avg2x2Backward(y, dx, w, ho, wo);
                    else AvgPlane(s, null, y, dx, true);
                    break;
            }
        }

        /// <summary>Max forward (or, with <paramref name="backward"/>, routing dy in y to dx at the first maximum).</summary>
        internal static void MaxPlane<TL>(Pool2dShape s, float* x, float* y, float* dx, bool backward, TL ld) where TL : struct, ILoad
        {
            int h = s.H, w = s.W, ho = s.Ho, wo = s.Wo, kh = s.Kh, kw = s.Kw, sh = s.StrideH, sw = s.StrideW, ph = s.PadH, pw = s.PadW;
            for (int oh = 0; oh < ho; oh++)
            {
                int h0 = oh * sh - ph;
                int hs = Math.Max(h0, 0), he = Math.Min(h0 + kh, h);
                for (int ow = 0; ow < wo; ow++)
                {
                    int w0 = ow * sw - pw;
                    int ws = Math.Max(w0, 0), we = Math.Min(w0 + kw, w);
                    int best = hs * w + ws;
                    float max = float.NegativeInfinity;
                    for (int ih = hs; ih < he; ih++)
                        for (int iw = ws; iw < we; iw++)
                        {
                            float v = ld.S(x[ih * w + iw]);
                            if (v > max || float.IsNaN(v)) { max = v; best = ih * w + iw; }
                        }
                    if (backward) dx[best] += y[oh * wo + ow];
                    else y[oh * wo + ow] = max;
                }
            }
        }

        /// <summary>2x2 stride-2 max pooling: rows maxed pairwise, then even and odd columns split by a
        /// shuffle and maxed. Vector256.Max propagates NaN, as PyTorch does.</summary>
        internal static void Max2x2<TL>(float* x, float* y, int w, int ho, int wo, TL ld) where TL : struct, ILoad
        {
            for (int oh = 0; oh < ho; oh++)
            {
                float* r0 = x + 2 * oh * w, r1 = r0 + w, yr = y + oh * wo;
                int ow = 0;
                for (; ow + 8 <= wo && 2 * ow + 16 <= w; ow += 8)
                {
                    var a = Vector256.Max(ld.V(Vector256.Load(r0 + 2 * ow)), ld.V(Vector256.Load(r1 + 2 * ow)));
                    var bb = Vector256.Max(ld.V(Vector256.Load(r0 + 2 * ow + 8)), ld.V(Vector256.Load(r1 + 2 * ow + 8)));
                    var ev = Avx2.Permute4x64(Avx.Shuffle(a, bb, 0x88).AsDouble(), 0xD8).AsSingle();
                    var od = Avx2.Permute4x64(Avx.Shuffle(a, bb, 0xDD).AsDouble(), 0xD8).AsSingle();
                    Vector256.Max(ev, od).Store(yr + ow);
                }
                // The last (wo - ow) < 8 windows through masked loads and a masked store: the same vector
                // operations on fewer lanes (the sample's 14 -> 7 planes are nothing but this tail).
                if (ow < wo && 2 * wo <= w)
                {
                    int k = 2 * (wo - ow);
                    var ma = Mask(Math.Min(k, 8));
                    var mb = Mask(Math.Max(k - 8, 0));
                    var a = Vector256.Max(ld.V(Avx.MaskLoad(r0 + 2 * ow, ma)), ld.V(Avx.MaskLoad(r1 + 2 * ow, ma)));
                    var bb = Vector256.Max(ld.V(Avx.MaskLoad(r0 + 2 * ow + 8, mb)), ld.V(Avx.MaskLoad(r1 + 2 * ow + 8, mb)));
                    Split(a, bb, out var ev, out var od);
                    Avx.MaskStore(yr + ow, Mask(wo - ow), Vector256.Max(ev, od));
                    ow = wo;
                }
                for (; ow < wo; ow++)
                {
                    float m = float.NegativeInfinity;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                        {
                            float v = ld.S(x[(2 * oh + i) * w + 2 * ow + j]);
                            if (v > m || float.IsNaN(v)) m = v;
                        }
                    yr[ow] = m;
                }
            }
        }

        /// <summary>Lanes [0, count) set: a MaskLoad / MaskStore mask (masked lanes neither fault nor are written).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Mask(int count) =>
            Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count)).AsSingle();

        /// <summary>2x2 stride-2 max backward: the first maximum (scan order 00, 01, 10, 11; NaN wins) is found
        /// with compare masks for 8 windows at a time, dy is masked into the four positions, and the
        /// even/odd columns are interleaved back (the inverse of the forward split).</summary>
        internal static void Max2x2Backward<TL>(float* x, float* dy, float* dx, int w, int ho, int wo, TL ld) where TL : struct, ILoad
        {
            for (int oh = 0; oh < ho; oh++)
            {
                float* r0 = x + 2 * oh * w, r1 = r0 + w, g = dy + oh * wo;
                float* d0 = dx + 2 * oh * w, d1 = d0 + w;
                int ow = 0;
                for (; ow + 8 <= wo && 2 * ow + 16 <= w; ow += 8)
                {
                    Split(ld.V(Vector256.Load(r0 + 2 * ow)), ld.V(Vector256.Load(r0 + 2 * ow + 8)), out var x00, out var x01);
                    Split(ld.V(Vector256.Load(r1 + 2 * ow)), ld.V(Vector256.Load(r1 + 2 * ow + 8)), out var x10, out var x11);
                    Route(x00, x01, x10, x11, Vector256.Load(g + ow), out var lo0, out var hi0, out var lo1, out var hi1);
                    (Vector256.Load(d0 + 2 * ow) + lo0).Store(d0 + 2 * ow);
                    (Vector256.Load(d0 + 2 * ow + 8) + hi0).Store(d0 + 2 * ow + 8);
                    (Vector256.Load(d1 + 2 * ow) + lo1).Store(d1 + 2 * ow);
                    (Vector256.Load(d1 + 2 * ow + 8) + hi1).Store(d1 + 2 * ow + 8);
                }
                if (ow < wo && 2 * wo <= w)
                {
                    // The tail as the loop above on fewer lanes: masked lanes load 0 (and dy 0), are never stored.
                    int k = 2 * (wo - ow);
                    var ma = Mask(Math.Min(k, 8));
                    var mb = Mask(Math.Max(k - 8, 0));
                    Split(ld.V(Avx.MaskLoad(r0 + 2 * ow, ma)), ld.V(Avx.MaskLoad(r0 + 2 * ow + 8, mb)), out var x00, out var x01);
                    Split(ld.V(Avx.MaskLoad(r1 + 2 * ow, ma)), ld.V(Avx.MaskLoad(r1 + 2 * ow + 8, mb)), out var x10, out var x11);
                    Route(x00, x01, x10, x11, Avx.MaskLoad(g + ow, Mask(wo - ow)), out var lo0, out var hi0, out var lo1, out var hi1);
                    Avx.MaskStore(d0 + 2 * ow, ma, Avx.MaskLoad(d0 + 2 * ow, ma) + lo0);
                    Avx.MaskStore(d0 + 2 * ow + 8, mb, Avx.MaskLoad(d0 + 2 * ow + 8, mb) + hi0);
                    Avx.MaskStore(d1 + 2 * ow, ma, Avx.MaskLoad(d1 + 2 * ow, ma) + lo1);
                    Avx.MaskStore(d1 + 2 * ow + 8, mb, Avx.MaskLoad(d1 + 2 * ow + 8, mb) + hi1);
                    ow = wo;
                }
                for (; ow < wo; ow++)
                {
                    float m = float.NegativeInfinity;
                    int best = 2 * oh * w + 2 * ow;
                    for (int i = 0; i < 2; i++)
                        for (int j = 0; j < 2; j++)
                        {
                            int at = (2 * oh + i) * w + 2 * ow + j;
                            float v = ld.S(x[at]);
                            if (v > m || float.IsNaN(v)) { m = v; best = at; }
                        }
                    dx[best] += g[ow];
                }
            }
        }

        /// <summary>Each window's gradient gv routed to its winner among x00, x01 (top row) and x10, x11 (bottom row): the
        /// first maximum, NaN winning, as the scalar loop decides; then interleaved back into the two rows' layout.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        static void Route(Vector256<float> x00, Vector256<float> x01, Vector256<float> x10, Vector256<float> x11, Vector256<float> gv,
            out Vector256<float> lo0, out Vector256<float> hi0, out Vector256<float> lo1, out Vector256<float> hi1)
        {
            var cur = x00;
            var m1 = Vector256.GreaterThan(x01, cur) | ~Vector256.Equals(x01, x01);
            cur = Vector256.ConditionalSelect(m1, x01, cur);
            var m2 = Vector256.GreaterThan(x10, cur) | ~Vector256.Equals(x10, x10);
            cur = Vector256.ConditionalSelect(m2, x10, cur);
            var m3 = Vector256.GreaterThan(x11, cur) | ~Vector256.Equals(x11, x11);
            var g11 = m3 & gv;
            var g10 = Vector256.AndNot(m2 & gv, m3);
            var g01 = Vector256.AndNot(Vector256.AndNot(m1 & gv, m2), m3);
            var g00 = Vector256.AndNot(Vector256.AndNot(Vector256.AndNot(gv, m1), m2), m3);
            Merge(g00, g01, out lo0, out hi0);
            Merge(g10, g11, out lo1, out hi1);
        }

        /// <summary>Even and odd elements of the 16 floats a:b.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        static void Split(Vector256<float> a, Vector256<float> b, out Vector256<float> even, out Vector256<float> odd)
        {
            even = Avx2.Permute4x64(Avx.Shuffle(a, b, 0x88).AsDouble(), 0xD8).AsSingle();
            odd = Avx2.Permute4x64(Avx.Shuffle(a, b, 0xDD).AsDouble(), 0xD8).AsSingle();
        }

        /// <summary>The inverse of <see cref="Split"/>: interleaves even and odd back into 16 floats lo:hi.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        static void Merge(Vector256<float> even, Vector256<float> odd, out Vector256<float> lo, out Vector256<float> hi)
        {
            var e = Avx2.Permute4x64(even.AsDouble(), 0xD8).AsSingle();
            var o = Avx2.Permute4x64(odd.AsDouble(), 0xD8).AsSingle();
            lo = Avx.UnpackLow(e, o);
            hi = Avx.UnpackHigh(e, o);
        }

        /// <summary>2x2 stride-2 windows that all lie inside the plane (no padding, floor mode): GhostNetV2's DFC branch
        /// pools every 14 x 14 plane so, and the scalar window loop cost as much as the depthwise convs after it.</summary>
        static bool Avg2x2Applies(in Pool2dShape s) => Avx2.IsSupported && s.Kh == 2 && s.Kw == 2 && s.StrideH == 2 && s.StrideW == 2
            && s.PadH == 0 && s.PadW == 0 && 2 * s.Ho <= s.H && 2 * s.Wo <= s.W;

        /// <summary>2x2 stride-2 average: the two rows added, then adjacent pairs by a horizontal add, 8 windows at a
        /// time (masked loads and stores for a row's last few).</summary>
        static void Avg2x2(float* x, float* y, int w, int ho, int wo)
        {
            var quarter = Vector256.Create(0.25f);
            for (int oh = 0; oh < ho; oh++)
            {
                float* r0 = x + 2 * oh * w, r1 = r0 + w, yr = y + oh * wo;
                for (int ow = 0; ow < wo; ow += 8)
                {
                    int n = Math.Min(8, wo - ow);
                    Vector256<float> a0, a1, b0, b1;
                    if (n == 8)
                    {
                        a0 = Vector256.Load(r0 + 2 * ow); a1 = Vector256.Load(r0 + 2 * ow + 8);
                        b0 = Vector256.Load(r1 + 2 * ow); b1 = Vector256.Load(r1 + 2 * ow + 8);
                    }
                    else
                    {
                        var ma = Mask(2 * n); var mb = Mask(2 * n - 8);
                        a0 = Avx.MaskLoad(r0 + 2 * ow, ma); a1 = Avx.MaskLoad(r0 + 2 * ow + 8, mb);
                        b0 = Avx.MaskLoad(r1 + 2 * ow, ma); b1 = Avx.MaskLoad(r1 + 2 * ow + 8, mb);
                    }
                    // hadd: s0[0]+s0[1], s0[2]+s0[3], s1[0]+s1[1], s1[2]+s1[3] | the same of elements 4..7; the permute puts s0's pairs first.
                    var sums = Avx.HorizontalAdd(a0 + b0, a1 + b1);
                    var r = Avx2.Permute4x64(sums.AsDouble(), 0xD8).AsSingle() * quarter;
                    if (n == 8) r.Store(yr + ow);
                    else Avx.MaskStore(yr + ow, Mask(n), r);
                }
            }
        }

        /// <summary>dx += dy / 4 over each 2x2 stride-2 window: dy interleaved with itself for the two rows.</summary>
        static void Avg2x2Backward(float* dy, float* dx, int w, int ho, int wo)
        {
            var quarter = Vector256.Create(0.25f);
            for (int oh = 0; oh < ho; oh++)
            {
                float* d0 = dx + 2 * oh * w, d1 = d0 + w, gr = dy + oh * wo;
                for (int ow = 0; ow < wo; ow += 8)
                {
                    int n = Math.Min(8, wo - ow);
                    var g = (n == 8 ? Vector256.Load(gr + ow) : Avx.MaskLoad(gr + ow, Mask(n))) * quarter;
                    Merge(g, g, out var lo, out var hi);
                    if (n == 8)
                    {
                        (Vector256.Load(d0 + 2 * ow) + lo).Store(d0 + 2 * ow); (Vector256.Load(d0 + 2 * ow + 8) + hi).Store(d0 + 2 * ow + 8);
                        (Vector256.Load(d1 + 2 * ow) + lo).Store(d1 + 2 * ow); (Vector256.Load(d1 + 2 * ow + 8) + hi).Store(d1 + 2 * ow + 8);
                    }
                    else
                    {
                        var ma = Mask(2 * n); var mb = Mask(2 * n - 8);
                        Avx.MaskStore(d0 + 2 * ow, ma, Avx.MaskLoad(d0 + 2 * ow, ma) + lo); Avx.MaskStore(d0 + 2 * ow + 8, mb, Avx.MaskLoad(d0 + 2 * ow + 8, mb) + hi);
                        Avx.MaskStore(d1 + 2 * ow, ma, Avx.MaskLoad(d1 + 2 * ow, ma) + lo); Avx.MaskStore(d1 + 2 * ow + 8, mb, Avx.MaskLoad(d1 + 2 * ow + 8, mb) + hi);
                    }
                }
            }
        }

        /// <summary>Average forward, or (with <paramref name="backward"/>) spreading dy in y over each window.</summary>
        static void AvgPlane(Pool2dShape s, float* x, float* y, float* dx, bool backward)
        {
            int h = s.H, w = s.W, ho = s.Ho, wo = s.Wo, kh = s.Kh, kw = s.Kw, sh = s.StrideH, sw = s.StrideW, ph = s.PadH, pw = s.PadW;
            float invArea = 1f / (kh * kw);
            for (int oh = 0; oh < ho; oh++)
            {
                int h0 = oh * sh - ph;
                int hs = Math.Max(h0, 0), he = Math.Min(h0 + kh, h);
                for (int ow = 0; ow < wo; ow++)
                {
                    int w0 = ow * sw - pw;
                    int ws = Math.Max(w0, 0), we = Math.Min(w0 + kw, w);
                    if (backward)
                    {
                        float g = y[oh * wo + ow] * invArea;
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++) dx[ih * w + iw] += g;
                    }
                    else
                    {
                        float sum = 0f;
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++) sum += x[ih * w + iw];
                        y[oh * wo + ow] = sum * invArea;
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
