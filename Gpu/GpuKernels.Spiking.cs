// Spiking layers on ILGPU, mirroring Runtime.Cpu.Spiking: one thread per (sample, feature) runs the
// whole time loop with the membrane in a register, through the same charge / reset / surrogate
// definitions the CPU kernels use (instantiated on float lanes), so both backends compute the same
// IEEE operations and agree on every spike. Layout per sample: time-major (T, F).
//
// Backward recomputes h[t] from x like the CPU kernel, but a thread has no room for T values, so it
// parks them in dx itself (each element of dx belongs to one thread, and step t's slot is read before
// it is overwritten); only with accumulate, when dx holds data, does h go to scratch. PLIF's dw reduces
// per-thread partials in three fixed-order steps (no float atomics): bitwise reproducible. The spike
// count is an integer atomic add, exact whatever the order.
//
// On CUDA (not yet run on one): ILGPU emits add/sub/mul.f32 without a rounding mode, which ptxas may
// contract into an FMA; divisions are div.rn (checked by SpikingPtxTests). IF's and LIF's charge has no
// multiply feeding an add, so its spikes should stay bit-equal to the CPU's; PLIF's (x - (v - v_reset)) * k
// + v can be contracted, and its k = sigmoid(w) uses CUDA's exp, so a PLIF spike that lands within an ulp or
// two of the threshold may flip. Surrogates use CUDA's exp too: gradients agree to tolerance only.
using ILGPU;
using ILGPU.Runtime;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Cpu.Spiking;

namespace Authoring.Gpu;

public sealed partial class GpuKernels
{
    readonly Dictionary<Type, object> _spiking = [];

    /// <summary>Multi-step neuron forward, as <see cref="NeuronKernel.Forward"/>: spikes[b, t, f] in {0, 1}; vSeq (empty
    /// Data: skipped) = v after each step's reset; <paramref name="w"/> = PLIF's parameter (one float; empty otherwise);
    /// <paramref name="spikeCount"/>[0] += the number of spikes (empty: not counted), read it when reporting rates. With
    /// <paramref name="staticInput"/>, x holds one step per sample, fed at every step.</summary>
    public void NeuronForward(in NeuronDynamics d, int n, int steps, int features, GView x, ArrayView<float> w, GView spikes, GView vSeq,
        ArrayView<long> spikeCount, bool staticInput = false)
    {
        CheckSteps(steps, features);
        if (d.Model == NeuronModel.ParametricLif && w.Length < 1) throw new ArgumentException("PLIF needs its parameter w.", nameof(w));
        if (n * features == 0) return;
        var dims = new SpikeDims(n, steps, features, d.VThreshold, d.VInit, staticInput ? 0 : features);
        float vRest = d.VReset ?? 0f;
        switch (d.Model)
        {
            case NeuronModel.If: Forward(new IfCharge(), d, dims, x, w, spikes, vSeq, spikeCount); break;
            case NeuronModel.Lif when d.DecayInput: Forward(new LifCharge(d.Tau, vRest), d, dims, x, w, spikes, vSeq, spikeCount); break;
            case NeuronModel.Lif: Forward(new LifNoDecayInputCharge(d.Tau, vRest), d, dims, x, w, spikes, vSeq, spikeCount); break;
            case NeuronModel.ParametricLif when d.DecayInput: Forward(new PlifCharge(vRest), d, dims, x, w, spikes, vSeq, spikeCount); break;
            default: Forward(new PlifNoDecayInputCharge(vRest), d, dims, x, w, spikes, vSeq, spikeCount); break;
        }
    }

    /// <summary>Multi-step neuron backward, as <see cref="NeuronKernel.Backward"/>: dx (=, or += when <paramref name="accumulate"/>)
    /// from the spike gradients, h recomputed from <paramref name="x"/>; for PLIF <paramref name="dw"/>[0] += dL/dw. With
    /// <paramref name="staticInput"/>, x and dx hold one step per sample and dx gets the sum over steps.</summary>
    public void NeuronBackward<TS>(in NeuronDynamics d, in TS surrogate, int n, int steps, int features, GView x, GView dSpikes,
        ArrayView<float> w, GView dx, bool accumulate, ArrayView<float> dw, bool staticInput = false) where TS : struct, ISurrogate
    {
        CheckSteps(steps, features);
        bool plif = d.Model == NeuronModel.ParametricLif;
        if (plif && (w.Length < 1 || dw.Length < 1)) throw new ArgumentException("PLIF needs w and its gradient.", nameof(w));
        if (n * features == 0) return;
        var dims = new SpikeDims(n, steps, features, d.VThreshold, d.VInit, staticInput ? 0 : features);
        int threads = n * features, parts = plif ? Parts(threads) : 0;
        // h is parked in dx unless dx holds data (accumulate) or has no room for T steps (static input).
        bool own = accumulate || staticInput;
        long history = own ? (long)threads * steps : 0;
        if (history + threads + parts > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(n), "The backward scratch would exceed int.MaxValue floats.");
        var scratch = Scratch((int)(history + (plif ? threads + parts : 0)));
        var h = own ? new GView(scratch.SubView(0, history), 0, steps * features) : dx;
        var dk = plif ? scratch.SubView(history, threads) : default;
        float vRest = d.VReset ?? 0f;
        var b = new BackwardViews(x, dSpikes, dx, h, dk, w, accumulate ? 1 : 0);
        switch (d.Model)
        {
            case NeuronModel.If: Backward(new IfCharge(), d, surrogate, dims, b); break;
            case NeuronModel.Lif when d.DecayInput: Backward(new LifCharge(d.Tau, vRest), d, surrogate, dims, b); break;
            case NeuronModel.Lif: Backward(new LifNoDecayInputCharge(d.Tau, vRest), d, surrogate, dims, b); break;
            case NeuronModel.ParametricLif when d.DecayInput: Backward(new PlifCharge(vRest), d, surrogate, dims, b); break;
            default: Backward(new PlifNoDecayInputCharge(vRest), d, surrogate, dims, b); break;
        }
        if (plif)
        {
            var partials = scratch.SubView(history + threads, parts);
            (_spikeDkParts ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(SpikingDevice.SumPartsKernel))(
                parts, threads, dk, partials);
            (_spikeDw ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SpikingDevice.PlifDwKernel))(
                1, partials, w, dw);
        }
    }

    /// <summary>Direct encoding, as <see cref="SpikeEncoding.RepeatForward"/>: y[b, t, :] = x[b, :].</summary>
    public void SpikeRepeatForward(int n, int steps, int features, GView x, GView y)
    {
        CheckSteps(steps, features);
        if (n * features == 0) return;
        (_spikeRepeat ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, GView, GView>(SpikingDevice.RepeatKernel))(
            n * steps * features, new SpikeDims(n, steps, features, 0f, 0f, features), x, y);
    }

    /// <summary>As <see cref="SpikeEncoding.RepeatBackward"/>: dx[b, :] (= or +=) the sum over t of dy[b, t, :], in time order.</summary>
    public void SpikeRepeatBackward(int n, int steps, int features, GView dy, GView dx, bool accumulate)
    {
        CheckSteps(steps, features);
        if (n * features == 0) return;
        (_spikeSum ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, GView, GView, int, int>(SpikingDevice.SumOverTimeKernel))(
            n * features, new SpikeDims(n, steps, features, 0f, 0f, features), dy, dx, accumulate ? 1 : 0, 0);
    }

    /// <summary>Readout, as <see cref="SpikeEncoding.MeanForward"/>: y[b, :] = (sum over t of x[b, t, :]) / T.</summary>
    public void SpikeMeanForward(int n, int steps, int features, GView x, GView y)
    {
        CheckSteps(steps, features);
        if (n * features == 0) return;
        (_spikeSum ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, GView, GView, int, int>(SpikingDevice.SumOverTimeKernel))(
            n * features, new SpikeDims(n, steps, features, 0f, 0f, features), x, y, 0, 1);
    }

    /// <summary>As <see cref="SpikeEncoding.MeanBackward"/>: dx[b, t, :] (= or +=) dy[b, :] / T.</summary>
    public void SpikeMeanBackward(int n, int steps, int features, GView dy, GView dx, bool accumulate)
    {
        CheckSteps(steps, features);
        if (n * features == 0) return;
        (_spikeSpread ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, GView, GView, int>(SpikingDevice.SpreadKernel))(
            n * steps * features, new SpikeDims(n, steps, features, 0f, 0f, features), dy, dx, accumulate ? 1 : 0);
    }

    /// <summary>Poisson encoding, as <see cref="SpikeEncoding.PoissonForward"/>: the same spikes as the CPU for the same seed.</summary>
    public void SpikePoissonForward(int n, int steps, int features, ulong seed, GView x, GView y)
    {
        CheckSteps(steps, features);
        if (n * features == 0) return;
        (_spikePoisson ??= Accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, ulong, GView, GView>(SpikingDevice.PoissonKernel))(
            n * steps * features, new SpikeDims(n, steps, features, 0f, 0f, features), seed, x, y);
    }

    /// <summary>A spike counter kept in a float buffer (a generated model's state array): the long over floats
    /// [<paramref name="offset"/>, <paramref name="offset"/> + 2), <paramref name="offset"/> even so that it is 8-byte aligned.</summary>
    public static ArrayView<long> SpikeCounter(ArrayView<float> state, int offset)
    {
        if ((offset & 1) != 0) throw new ArgumentException("A counter needs an even (8-byte aligned) offset.", nameof(offset));
        return state.SubView(offset, 2).Cast<long>();
    }

    /// <summary>The value of a <see cref="SpikeCounter"/> (copied to the host; call after the device has finished).</summary>
    public static long ReadSpikeCounter(ArrayView<float> state, int offset)
    {
        Span<long> one = stackalloc long[1];
        SpikeCounter(state, offset).CopyToCPU(one);
        return one[0];
    }

    Action<Index1D, int, ArrayView<float>, ArrayView<float>>? _spikeDkParts;
    Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _spikeDw;
    Action<Index1D, SpikeDims, GView, GView>? _spikeRepeat;
    Action<Index1D, SpikeDims, GView, GView, int, int>? _spikeSum;
    Action<Index1D, SpikeDims, GView, GView, int>? _spikeSpread;
    Action<Index1D, SpikeDims, ulong, GView, GView>? _spikePoisson;

    static void CheckSteps(int steps, int features)
    {
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), "A spiking layer needs at least one time step.");
        if (features < 0 || (long)steps * features > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(features));
    }

    void Forward<TC>(TC c, in NeuronDynamics d, SpikeDims dims, GView x, ArrayView<float> w, GView s, GView v, ArrayView<long> count)
        where TC : struct, ICharge
    {
        int keep = v.Data.Length > 0 ? 1 : 0;
        if (d.VReset.HasValue) Launchers<TC, HardReset, SigmoidSurrogate>().Forward(dims.N * dims.F, dims, c, new HardReset(d.VInit, d.DetachReset), x, w, s, v, keep, count);
        else Launchers<TC, SoftReset, SigmoidSurrogate>().Forward(dims.N * dims.F, dims, c, new SoftReset(d.VThreshold, d.DetachReset), x, w, s, v, keep, count);
    }

    void Backward<TC, TS>(TC c, in NeuronDynamics d, in TS sg, SpikeDims dims, BackwardViews b)
        where TC : struct, ICharge where TS : struct, ISurrogate
    {
        if (d.VReset.HasValue) Launchers<TC, HardReset, TS>().Backward(dims.N * dims.F, dims, c, new HardReset(d.VInit, d.DetachReset), sg, b);
        else Launchers<TC, SoftReset, TS>().Backward(dims.N * dims.F, dims, c, new SoftReset(d.VThreshold, d.DetachReset), sg, b);
    }

    /// <summary>The launchers for one (charge, reset, surrogate); forward ignores the surrogate (one set per charge and
    /// reset is loaded under <see cref="SigmoidSurrogate"/>).</summary>
    SpikingLaunchers<TC, TR, TS> Launchers<TC, TR, TS>() where TC : struct, ICharge where TR : struct, IReset where TS : struct, ISurrogate
    {
        lock (_gate)
        {
            if (!_spiking.TryGetValue(typeof(SpikingLaunchers<TC, TR, TS>), out var set))
                _spiking[typeof(SpikingLaunchers<TC, TR, TS>)] = set = new SpikingLaunchers<TC, TR, TS>(Accelerator);
            return (SpikingLaunchers<TC, TR, TS>)set;
        }
    }

    sealed class SpikingLaunchers<TC, TR, TS>(Accelerator accelerator) where TC : struct, ICharge where TR : struct, IReset where TS : struct, ISurrogate
    {
        Action<Index1D, SpikeDims, TC, TR, GView, ArrayView<float>, GView, GView, int, ArrayView<long>>? _forward;
        Action<Index1D, SpikeDims, TC, TR, TS, BackwardViews>? _backward;

        public Action<Index1D, SpikeDims, TC, TR, GView, ArrayView<float>, GView, GView, int, ArrayView<long>> Forward =>
            _forward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, TC, TR, GView, ArrayView<float>, GView, GView, int, ArrayView<long>>(
                SpikingDevice.NeuronForwardKernel<TC, TR>);

        public Action<Index1D, SpikeDims, TC, TR, TS, BackwardViews> Backward =>
            _backward ??= accelerator.LoadAutoGroupedStreamKernel<Index1D, SpikeDims, TC, TR, TS, BackwardViews>(
                SpikingDevice.NeuronBackwardKernel<TC, TR, TS>);
    }

    /// <summary>Shape and the constants every spiking kernel needs.</summary>
    internal readonly struct SpikeDims(int n, int t, int f, float vThreshold, float vInit, int xTime)
    {
        public readonly int N = n;
        public readonly int T = t;
        public readonly int F = f;
        /// <summary>Distance between steps of the neuron's x and dx: F, or 0 for a static input.</summary>
        public readonly int XTime = xTime;
        public readonly float VThreshold = vThreshold;
        public readonly float VInit = vInit;
    }

    /// <summary>The views of a neuron backward, packed to keep the kernel's parameter list short. H is where the
    /// recomputed h goes: dx itself, or scratch when accumulating; Dk receives per-thread PLIF partials.</summary>
    internal readonly struct BackwardViews(GView x, GView ds, GView dx, GView h, ArrayView<float> dk, ArrayView<float> w, int accumulate)
    {
        public readonly GView X = x;
        public readonly GView Ds = ds;
        public readonly GView Dx = dx;
        public readonly GView H = h;
        public readonly ArrayView<float> Dk = dk;
        public readonly ArrayView<float> W = w;
        public readonly int Accumulate = accumulate;
    }

    /// <summary>The device code (kept apart from the activation-generic kernels the PTX test instantiates per activation;
    /// SpikingPtxTests compiles these).</summary>
    internal static class SpikingDevice
    {
        /// <summary>One thread per (b, f): the whole time loop, membrane in a register.</summary>
        internal static void NeuronForwardKernel<TC, TR>(Index1D index, SpikeDims d, TC c, TR r, GView x, ArrayView<float> w, GView s, GView v,
            int keepV, ArrayView<long> count) where TC : struct, ICharge where TR : struct, IReset
        {
            int i = index;
            int b = i / d.F, f = i - b * d.F;
            float k = c.Learnable ? NeuronDynamics.Decay(w[0]) : 0f;
            float vm = d.VInit;
            int spikes = 0;
            for (int t = 0; t < d.T; t++)
            {
                int at = t * d.F + f;
                float h = c.Charge<float, LanesScalar>(vm, x.Data[x.At(b) + t * d.XTime + f], k);
                float spike = default(LanesScalar).Ge(h, d.VThreshold);
                s.Data[s.At(b) + at] = spike;
                vm = r.Apply<float, LanesScalar>(h, spike);
                if (keepV != 0) v.Data[v.At(b) + at] = vm;
                spikes += (int)spike;
            }
            if (count.Length > 0 && spikes > 0) Atomic.Add(ref count[0], (long)spikes);
        }

        /// <summary>One thread per (b, f): recompute h into b.H, then backward through time.</summary>
        internal static void NeuronBackwardKernel<TC, TR, TS>(Index1D index, SpikeDims d, TC c, TR r, TS sg, BackwardViews b)
            where TC : struct, ICharge where TR : struct, IReset where TS : struct, ISurrogate
        {
            int i = index;
            int n = i / d.F, f = i - n * d.F;
            LanesScalar l = default;
            float k = c.Learnable ? NeuronDynamics.Decay(b.W[0]) : 0f;
            int x0 = b.X.At(n) + f, h0 = b.H.At(n) + f;
            float vm = d.VInit;
            for (int t = 0; t < d.T; t++)
            {
                float h = c.Charge<float, LanesScalar>(vm, b.X.Data[x0 + t * d.XTime], k);
                b.H.Data[h0 + t * d.F] = h;
                vm = r.Apply<float, LanesScalar>(h, l.Ge(h, d.VThreshold));
            }
            float dhdv = c.DhDv(k), dhdx = c.DhDx(k), gh = 0f, dk = 0f;
            int s0 = b.Ds.At(n) + f, dx0 = b.Dx.At(n) + f;
            for (int t = d.T - 1; t >= 0; t--)
            {
                float h = b.H.Data[h0 + t * d.F];
                float vPrev = d.VInit;
                if (c.Learnable && t > 0)
                {
                    float hp = b.H.Data[h0 + (t - 1) * d.F];
                    vPrev = r.Apply<float, LanesScalar>(hp, l.Ge(hp, d.VThreshold));
                }
                float spike = l.Ge(h, d.VThreshold);
                float g = sg.Grad<float, LanesScalar>(h - d.VThreshold);
                gh = gh * dhdv * r.DvDh<float, LanesScalar>(h, spike, g) + b.Ds.Data[s0 + t * d.F] * g;
                // h[t] (possibly parked in dx[t]) and h[t-1] are read above, before dx[t] is written. A static input's dx
                // slot collects every step: only the first write (t = T - 1) may overwrite it.
                float gx = gh * dhdx;
                if (b.Accumulate != 0 || (d.XTime == 0 && t < d.T - 1)) gx += b.Dx.Data[dx0 + t * d.XTime];
                b.Dx.Data[dx0 + t * d.XTime] = gx;
                if (c.Learnable) dk += gh * c.DhDk<float, LanesScalar>(vPrev, b.X.Data[x0 + t * d.XTime]);
            }
            if (c.Learnable) b.Dk[i] = dk;
        }

        /// <summary>Thread j of P: partials[j] = sum of terms j, j+P, ... of <paramref name="terms"/> in order.</summary>
        internal static void SumPartsKernel(Index1D index, int count, ArrayView<float> terms, ArrayView<float> partials)
        {
            int j = index;
            int parts = (int)partials.Length;
            float sum = 0f;
            for (int e = j; e < count; e += parts) sum += terms[e];
            partials[j] = sum;
        }

        /// <summary>One thread: dw[0] += (sum of the partials in order) * k (1 - k), k = sigmoid(w).</summary>
        internal static void PlifDwKernel(Index1D index, ArrayView<float> partials, ArrayView<float> w, ArrayView<float> dw)
        {
            float sum = 0f;
            for (int j = 0; j < partials.Length; j++) sum += partials[j];
            float k = NeuronDynamics.Decay(w[0]);
            dw[0] += sum * k * (1f - k);
        }

        /// <summary>One thread per output element.</summary>
        internal static void RepeatKernel(Index1D index, SpikeDims d, GView x, GView y)
        {
            int i = index, per = d.T * d.F;
            int b = i / per, r = i - b * per, f = r % d.F;
            y.Data[y.At(b) + r] = x.Data[x.At(b) + f];
        }

        /// <summary>One thread per (b, f): y (= or +=) the sum over t in order, divided by T when <paramref name="mean"/>.</summary>
        internal static void SumOverTimeKernel(Index1D index, SpikeDims d, GView x, GView y, int accumulate, int mean)
        {
            int i = index;
            int b = i / d.F, f = i - b * d.F;
            int x0 = x.At(b) + f;
            int at = y.At(b) + f;
            float sum = accumulate != 0 ? y.Data[at] : 0f;
            for (int t = 0; t < d.T; t++) sum += x.Data[x0 + t * d.F];
            y.Data[at] = mean != 0 ? sum / d.T : sum;
        }

        /// <summary>One thread per element of dx: dy / T.</summary>
        internal static void SpreadKernel(Index1D index, SpikeDims d, GView dy, GView dx, int accumulate)
        {
            int i = index, per = d.T * d.F;
            int b = i / per, r = i - b * per, f = r % d.F;
            int at = dx.At(b) + r;
            float v = dy.Data[dy.At(b) + f] / d.T;
            dx.Data[at] = accumulate != 0 ? dx.Data[at] + v : v;
        }

        /// <summary>One thread per output element: 1 where u &lt;= x, the CPU's generator and counter.</summary>
        internal static void PoissonKernel(Index1D index, SpikeDims d, ulong seed, GView x, GView y)
        {
            int i = index, per = d.T * d.F;
            int b = i / per, r = i - b * per, f = r % d.F;
            y.Data[y.At(b) + r] = DropoutRandom.Uniform(seed, (long)b * per + r) <= x.Data[x.At(b) + f] ? 1f : 0f;
        }
    }
}
