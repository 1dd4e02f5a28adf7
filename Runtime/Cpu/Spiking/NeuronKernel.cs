// Fused multi-step neuron layers on the CPU: the whole time loop of a layer in one pass over memory.
// Layout: per sample a time-major block (T, F), element (b, t, f) at x.At(b) + t * F + f.
//
// Work is split into tasks of (sample, block of features); a task walks t = 0..T-1 and, inside each
// step, its features with Vector512 / Vector256 / scalar lanes, keeping the membrane potential of its
// block in a small stack buffer (L1) between steps. Each step thus reads one contiguous run of x per
// task and the prefetcher streams it; features are independent, so no dependency chain through time
// limits throughput. (Measured against the other order, 4 Vector512 membranes kept in registers across
// all steps: equal at T = 8, and 1.5x slower at T = 32 once x no longer fits in cache: T short strided
// streams per chunk instead of one long one.)
//
// Forward stores nothing but the spikes (and, on request, v after reset). Backward recomputes h[t] from
// x into a per-task buffer (stack, or a per-thread array for long sequences; L1/L2-sized), then runs the
// reverse-time recurrence over it: x is read twice and h never goes to main memory, instead of a forward
// that writes h and a backward that reads it back.
//
// Tasks depend only on the shapes, never on the thread count, and PLIF's dw sums task partials in task
// order, so results are bitwise reproducible however the pool schedules the work.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Cpu.Spiking;

/// <summary>Multi-step IF / LIF / PLIF layers over time-major samples (T, F): forward with spike counting, fused BPTT backward.</summary>
[SkipLocalsInit] // the stack buffers are written before they are read: no zeroing of up to 72 KB per task
public static unsafe class NeuronKernel
{
    /// <summary>h history of a backward task, in floats, kept on the stack up to this size (64 KB); larger tasks (long
    /// sequences) use a per-thread array grown once.</summary>
    const int StackFloats = 16384;
    /// <summary>Target floats of h history per backward task (128 KB, in L2): long enough rows per step that the reverse
    /// pass streams ds and dx well once they no longer fit in cache (T = 32 at 1024 features gets whole rows).</summary>
    const int HistoryFloats = 32768;
    /// <summary>Most features per task (membrane buffer of 8 KB).</summary>
    const int MaxBlock = 2048;

    [ThreadStatic] static float[]? t_history;

    /// <summary>Runs the layer over <paramref name="steps"/> steps: spikes[b, t, f] in {0, 1}; optionally
    /// <paramref name="vSeq"/>[b, t, f] = v after the reset of step t (SpikingJelly's <c>v_seq</c>; pass a default
    /// View to skip). PLIF reads w = <paramref name="p"/>[<paramref name="wOff"/>]. Returns the number of spikes,
    /// the firing-rate numerator (rate = count / (n * steps * features)). With <paramref name="staticInput"/>, x holds one
    /// step per sample (F floats) fed at every step: direct encoding fused into the layer, SpikingJelly's repeated input
    /// without the T copies (and without T evaluations of a stateless conv/BN before it).</summary>
    public static long Forward(in NeuronDynamics d, int n, int steps, int features, View x, float[]? p, int wOff, View spikes, View vSeq = default,
        bool staticInput = false)
    {
        int size = CheckShape(n, steps, features);
        KernelUtil.Check(x, n, staticInput ? features : size, nameof(x));
        KernelUtil.Check(spikes, n, size, nameof(spikes));
        bool keepV = vSeq.Data is not null;
        if (keepV) KernelUtil.Check(vSeq, n, size, nameof(vSeq));
        if (d.Model == NeuronModel.ParametricLif) KernelUtil.Check(p, wOff, 1, nameof(p));
        if (n == 0 || size == 0) return 0;
        long count = 0;
        fixed (float* px = x.Data, ps = spikes.Data, pv = vSeq.Data)
        {
            var job = new ForwardArgs
            {
                X = px + x.Offset, XStride = x.BatchStride, XTime = staticInput ? 0 : features, S = ps + spikes.Offset, SStride = spikes.BatchStride,
                V = keepV ? pv + vSeq.Offset : null, VStride = vSeq.BatchStride, T = steps, F = features,
                Block = Block(n, features, MaxBlock), VTh = d.VThreshold, VInit = d.VInit, Count = &count,
                K = d.Model == NeuronModel.ParametricLif ? NeuronDynamics.Decay(p![wOff]) : 0f,
            };
            job.PerSample = (features + job.Block - 1) / job.Block;
            float vRest = d.VReset ?? 0f;
            bool hard = d.VReset.HasValue;
            switch (d.Model)
            {
                case NeuronModel.If: Forward(new IfCharge(), d, hard, n, ref job); break;
                case NeuronModel.Lif when d.DecayInput: Forward(new LifCharge(d.Tau, vRest), d, hard, n, ref job); break;
                case NeuronModel.Lif: Forward(new LifNoDecayInputCharge(d.Tau, vRest), d, hard, n, ref job); break;
                case NeuronModel.ParametricLif when d.DecayInput: Forward(new PlifCharge(vRest), d, hard, n, ref job); break;
                default: Forward(new PlifNoDecayInputCharge(vRest), d, hard, n, ref job); break;
            }
        }
        return count;
    }

    /// <summary>Backward through the whole sequence from the spike gradients <paramref name="dSpikes"/>: dx (=, or +=
    /// when <paramref name="accumulate"/>), and for PLIF g[<paramref name="dwOff"/>] += dL/dw. h is recomputed from
    /// <paramref name="x"/>, the forward's input. The membrane's final value gets no gradient (it is not an output).
    /// With <paramref name="staticInput"/> (as in the forward), x and dx hold one step per sample and dx gets the sum over
    /// steps, added in reverse time order.</summary>
    public static void Backward<TS>(in NeuronDynamics d, in TS surrogate, int n, int steps, int features, View x, View dSpikes,
        float[]? p, int wOff, View dx, bool accumulate, float[]? g, int dwOff, bool staticInput = false) where TS : struct, ISurrogate
    {
        int size = CheckShape(n, steps, features);
        KernelUtil.Check(x, n, staticInput ? features : size, nameof(x));
        KernelUtil.Check(dSpikes, n, size, nameof(dSpikes));
        KernelUtil.Check(dx, n, staticInput ? features : size, nameof(dx));
        bool plif = d.Model == NeuronModel.ParametricLif;
        if (plif)
        {
            KernelUtil.Check(p, wOff, 1, nameof(p));
            KernelUtil.Check(g, dwOff, 1, nameof(g));
        }
        if (n == 0 || size == 0) return;
        int block = Block(n, features, Math.Clamp(HistoryFloats / steps / 16 * 16, 16, MaxBlock));
        int perSample = (features + block - 1) / block, tasks = n * perSample;
        double[]? partials = plif ? ArrayPool<double>.Shared.Rent(tasks) : null;
        try
        {
            fixed (float* px = x.Data, pds = dSpikes.Data, pdx = dx.Data)
            fixed (double* pk = partials)
            {
                var job = new BackwardArgs
                {
                    X = px + x.Offset, XStride = x.BatchStride, XTime = staticInput ? 0 : features, Ds = pds + dSpikes.Offset, DsStride = dSpikes.BatchStride,
                    Dx = pdx + dx.Offset, DxStride = dx.BatchStride, Accumulate = accumulate, T = steps, F = features,
                    Block = block, PerSample = perSample, VTh = d.VThreshold, VInit = d.VInit, DkPartials = pk,
                    K = plif ? NeuronDynamics.Decay(p![wOff]) : 0f,
                };
                float vRest = d.VReset ?? 0f;
                bool hard = d.VReset.HasValue;
                float k = job.K;
                switch (d.Model)
                {
                    case NeuronModel.If: Backward(new IfCharge(), d, surrogate, hard, tasks, ref job); break;
                    case NeuronModel.Lif when d.DecayInput: Backward(new LifCharge(d.Tau, vRest), d, surrogate, hard, tasks, ref job); break;
                    case NeuronModel.Lif: Backward(new LifNoDecayInputCharge(d.Tau, vRest), d, surrogate, hard, tasks, ref job); break;
                    case NeuronModel.ParametricLif when d.DecayInput: Backward(new PlifCharge(vRest), d, surrogate, hard, tasks, ref job); break;
                    default: Backward(new PlifNoDecayInputCharge(vRest), d, surrogate, hard, tasks, ref job); break;
                }
                if (plif)
                {
                    // dL/dw = dL/dk * sigmoid'(w), the task partials added in task order.
                    double dk = 0;
                    for (int i = 0; i < tasks; i++) dk += pk[i];
                    g![dwOff] += (float)(dk * k * (1.0 - k));
                }
            }
        }
        finally
        {
            if (partials is not null) ArrayPool<double>.Shared.Return(partials);
        }
    }

    /// <summary>Firing rate of a layer: spikes / (n * steps * features).</summary>
    public static double FiringRate(long spikes, int n, int steps, int features)
        => n == 0 || steps == 0 || features == 0 ? 0 : spikes / ((double)n * steps * features);

    static int CheckShape(int n, int steps, int features)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), "Batch must be non-negative.");
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), "A spiking layer needs at least one time step.");
        if (features < 0) throw new ArgumentOutOfRangeException(nameof(features), "Features must be non-negative.");
        long size = (long)steps * features;
        if (size > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(steps), "steps * features exceeds int.MaxValue.");
        return (int)size;
    }

    /// <summary>Features per task: whole samples when the batch fills the pool, otherwise split so that about 8 tasks
    /// exist; a multiple of 16 (whole vectors) unless it is the whole row. Depends on the shape only.</summary>
    static int Block(int n, int features, int cap)
    {
        int pieces = n >= 8 ? 1 : (8 + n - 1) / n;
        int b = (features + pieces - 1) / pieces;
        b = (b + 15) / 16 * 16;
        b = Math.Min(Math.Max(b, 16), cap);
        return Math.Min(b, Math.Max(features, 1));
    }

    static void Forward<TC>(TC c, in NeuronDynamics d, bool hard, int n, ref ForwardArgs a) where TC : struct, ICharge
    {
        if (hard)
        {
            var job = new ForwardJob<TC, HardReset> { C = c, R = new HardReset(d.VInit, d.DetachReset), A = a };
            WorkerPool.For(n * a.PerSample, ref job);
        }
        else
        {
            var job = new ForwardJob<TC, SoftReset> { C = c, R = new SoftReset(d.VThreshold, d.DetachReset), A = a };
            WorkerPool.For(n * a.PerSample, ref job);
        }
    }

    static void Backward<TC, TS>(TC c, in NeuronDynamics d, in TS s, bool hard, int tasks, ref BackwardArgs a)
        where TC : struct, ICharge where TS : struct, ISurrogate
    {
        if (hard)
        {
            var job = new BackwardJob<TC, HardReset, TS> { C = c, R = new HardReset(d.VInit, d.DetachReset), S = s, A = a };
            WorkerPool.For(tasks, ref job);
        }
        else
        {
            var job = new BackwardJob<TC, SoftReset, TS> { C = c, R = new SoftReset(d.VThreshold, d.DetachReset), S = s, A = a };
            WorkerPool.For(tasks, ref job);
        }
    }

    struct ForwardArgs
    {
        public float* X, S, V;
        public long* Count;
        /// <summary>Distance between steps of x: F, or 0 for a static input.</summary>
        public int XTime;
        public int XStride, SStride, VStride, T, F, Block, PerSample;
        public float VTh, VInit, K;
    }

    struct ForwardJob<TC, TR> : IParallelJob where TC : struct, ICharge where TR : struct, IReset
    {
        public TC C;
        public TR R;
        public ForwardArgs A;

        public void Run(int task)
        {
            int b = task / A.PerSample, f0 = (task - b * A.PerSample) * A.Block;
            int len = Math.Min(A.Block, A.F - f0);
            float* state = stackalloc float[len];
            new Span<float>(state, len).Fill(A.VInit);
            float* x = A.X + (long)b * A.XStride + f0, s = A.S + (long)b * A.SStride + f0;
            float* v = A.V is null ? null : A.V + (long)b * A.VStride + f0;
            double spikes = 0;
            int i = 0;
            if (Simd.Use512)
            {
                int end = len / 16 * 16;
                spikes += Range<Vector512<float>, Lanes512>(x, s, v, state, i, end);
                i = end;
            }
            {
                int end = i + (len - i) / 8 * 8;
                spikes += Range<Vector256<float>, Lanes256>(x, s, v, state, i, end);
                i = end;
            }
            spikes += Range<float, LanesScalar>(x, s, v, state, i, len);
            Interlocked.Add(ref *A.Count, (long)spikes);
        }

        /// <summary>Features [i0, i1) of the task over every step; returns its spike count.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly double Range<TV, TL>(float* x, float* s, float* v, float* state, int i0, int i1)
            where TV : struct where TL : struct, ICpuLanes<TV>
        {
            if (i0 >= i1) return 0;
            TL l = default;
            int w = l.Width, f = A.F;
            var vth = l.Splat(A.VTh);
            var k = l.Splat(A.K);
            var count = l.Splat(0f);
            for (int t = 0; t < A.T; t++)
            {
                long off = (long)t * f;
                float* xt = x + (long)t * A.XTime, st = s + off;
                for (int i = i0; i < i1; i += w)
                {
                    var h = C.Charge<TV, TL>(l.Load(state + i), l.Load(xt + i), k);
                    var spike = l.Ge(h, vth);
                    var one = l.One01(spike);
                    l.Store(one, st + i);
                    var vn = R.Apply<TV, TL>(h, spike);
                    l.Store(vn, state + i);
                    if (v is not null) l.Store(vn, v + off + i);
                    count = l.Add(count, one);
                }
            }
            // Each lane counts at most T * MaxBlock / w spikes: exact in float far beyond any real T.
            return l.Sum(count);
        }
    }

    struct BackwardArgs
    {
        public float* X, Ds, Dx;
        public double* DkPartials;
        /// <summary>Distance between steps of x and dx: F, or 0 for a static input.</summary>
        public int XTime;
        public int XStride, DsStride, DxStride, T, F, Block, PerSample;
        public bool Accumulate;
        public float VTh, VInit, K;
    }

    struct BackwardJob<TC, TR, TS> : IParallelJob where TC : struct, ICharge where TR : struct, IReset where TS : struct, ISurrogate
    {
        public TC C;
        public TR R;
        public TS S;
        public BackwardArgs A;

        public void Run(int task)
        {
            int b = task / A.PerSample, f0 = (task - b * A.PerSample) * A.Block;
            int len = Math.Min(A.Block, A.F - f0);
            int hist = A.T * len;
            if (hist <= StackFloats)
            {
                float* h = stackalloc float[hist];
                Task(task, b, f0, len, h);
            }
            else
            {
                var buf = t_history;
                if (buf is null || buf.Length < hist) t_history = buf = new float[hist];
                fixed (float* h = buf) Task(task, b, f0, len, h);
            }
        }

        void Task(int task, int b, int f0, int len, float* hist)
        {
            float* state = stackalloc float[len];
            float* x = A.X + (long)b * A.XStride + f0, ds = A.Ds + (long)b * A.DsStride + f0, dx = A.Dx + (long)b * A.DxStride + f0;
            double dk = 0;
            int i = 0;
            if (Simd.Use512)
            {
                int end = len / 16 * 16;
                dk += Range<Vector512<float>, Lanes512>(x, ds, dx, hist, state, len, i, end);
                i = end;
            }
            {
                int end = i + (len - i) / 8 * 8;
                dk += Range<Vector256<float>, Lanes256>(x, ds, dx, hist, state, len, i, end);
                i = end;
            }
            dk += Range<float, LanesScalar>(x, ds, dx, hist, state, len, i, len);
            if (C.Learnable) A.DkPartials[task] = dk;
        }

        /// <summary>Features [i0, i1) of the task: recompute h over every step into <paramref name="hist"/>[t * len + i],
        /// then run the recurrence backward in time. Returns this range's share of dL/dk (PLIF).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        readonly double Range<TV, TL>(float* x, float* ds, float* dx, float* hist, float* state, int len, int i0, int i1)
            where TV : struct where TL : struct, ICpuLanes<TV>
        {
            if (i0 >= i1) return 0;
            TL l = default;
            int w = l.Width, f = A.F, T = A.T;
            var vth = l.Splat(A.VTh);
            var vinit = l.Splat(A.VInit);
            var k = l.Splat(A.K);
            for (int i = i0; i < i1; i += w) l.Store(vinit, state + i);
            for (int t = 0; t < T; t++)
            {
                float* xt = x + (long)t * A.XTime, ht = hist + t * len;
                for (int i = i0; i < i1; i += w)
                {
                    var h = C.Charge<TV, TL>(l.Load(state + i), l.Load(xt + i), k);
                    l.Store(h, ht + i);
                    l.Store(R.Apply<TV, TL>(h, l.Ge(h, vth)), state + i);
                }
            }

            // state now holds dL/dh[t+1], zero past the last step.
            var zero = l.Splat(0f);
            for (int i = i0; i < i1; i += w) l.Store(zero, state + i);
            var dhdv = l.Splat(C.DhDv(A.K));
            var dhdx = l.Splat(C.DhDx(A.K));
            var dk = zero;
            for (int t = T - 1; t >= 0; t--)
            {
                long off = (long)t * f, xoff = (long)t * A.XTime;
                float* ht = hist + t * len, dst = ds + off, dxt = dx + xoff, xt = x + xoff;
                // A static input's dx slot collects every step: only the first write (t = T - 1) may overwrite.
                bool add = A.Accumulate || (A.XTime == 0 && t < T - 1);
                for (int i = i0; i < i1; i += w)
                {
                    var h = l.Load(ht + i);
                    var spike = l.Ge(h, vth);
                    var sg = S.Grad<TV, TL>(l.Sub(h, vth));
                    var gh = l.Add(l.Mul(l.Mul(l.Load(state + i), dhdv), R.DvDh<TV, TL>(h, spike, sg)), l.Mul(l.Load(dst + i), sg));
                    l.Store(gh, state + i);
                    var gx = l.Mul(gh, dhdx);
                    if (add) gx = l.Add(gx, l.Load(dxt + i));
                    l.Store(gx, dxt + i);
                    if (C.Learnable)
                    {
                        TV vPrev;
                        if (t > 0)
                        {
                            var hp = l.Load(ht - len + i);
                            vPrev = R.Apply<TV, TL>(hp, l.Ge(hp, vth));
                        }
                        else vPrev = vinit;
                        dk = l.Add(dk, l.Mul(gh, C.DhDk<TV, TL>(vPrev, l.Load(xt + i))));
                    }
                }
            }
            return C.Learnable ? l.Sum(dk) : 0;
        }
    }
}
