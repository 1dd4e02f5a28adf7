// Encoding static inputs into T time steps and reading a spiking network out, on time-major samples
// (T, F) as NeuronKernel lays them out: direct encoding (the input repeated at every step), Poisson
// rate coding (SpikingJelly's encoding.PoissonEncoder: a spike where u <= x) with a counter-based
// generator, and the readout as the mean over T (SpikingJelly's tutorials: out_fr = x_seq.mean(0)).
using System.Numerics.Tensors;

namespace Authoring.Runtime.Cpu.Spiking;

/// <summary>Direct and Poisson encoding, and the mean-over-time readout, with their backward passes.</summary>
public static unsafe class SpikeEncoding
{
    /// <summary>Below this many floats a call runs on the calling thread: waking the pool costs more.</summary>
    const int ParallelThreshold = 32768;

    /// <summary>Direct encoding: y[b, t, :] = x[b, :] for every step t (x of <paramref name="features"/> floats per sample).</summary>
    public static void RepeatForward(int n, int steps, int features, View x, View y)
    {
        Check(n, steps, features, x, features, nameof(x), y, steps * features, nameof(y));
        if (n * features == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new RepeatJob { X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, T = steps, F = features };
            Run(n, (long)n * steps * features, ref job);
        }
    }

    /// <summary>Backward of <see cref="RepeatForward"/>: dx[b, :] (=, or += when <paramref name="accumulate"/>) the sum over t of
    /// dy[b, t, :], added in time order.</summary>
    public static void RepeatBackward(int n, int steps, int features, View dy, View dx, bool accumulate)
    {
        Check(n, steps, features, dy, steps * features, nameof(dy), dx, features, nameof(dx));
        if (n * features == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new SumJob
            {
                X = pdy + dy.Offset, XStride = dy.BatchStride, Y = pdx + dx.Offset, YStride = dx.BatchStride, T = steps, F = features,
                Accumulate = accumulate, Scale = 1f,
            };
            Run(n, (long)n * steps * features, ref job);
        }
    }

    /// <summary>Readout: y[b, :] = (sum over t of x[b, t, :]) / T, the firing rate of the output layer.</summary>
    public static void MeanForward(int n, int steps, int features, View x, View y)
    {
        Check(n, steps, features, x, steps * features, nameof(x), y, features, nameof(y));
        if (n * features == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new SumJob { X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, T = steps, F = features, Scale = steps };
            Run(n, (long)n * steps * features, ref job);
        }
    }

    /// <summary>Backward of <see cref="MeanForward"/>: dx[b, t, :] (=, or += when <paramref name="accumulate"/>) dy[b, :] / T.</summary>
    public static void MeanBackward(int n, int steps, int features, View dy, View dx, bool accumulate)
    {
        Check(n, steps, features, dy, features, nameof(dy), dx, steps * features, nameof(dx));
        if (n * features == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new SpreadJob { X = pdy + dy.Offset, XStride = dy.BatchStride, Y = pdx + dx.Offset, YStride = dx.BatchStride, T = steps, F = features, Accumulate = accumulate };
            Run(n, (long)n * steps * features, ref job);
        }
    }

    /// <summary>Poisson (rate) encoding: y[b, t, f] = 1 where u &lt;= x[b, f], else 0, with
    /// u = <see cref="DropoutRandom.Uniform"/>(seed, (b * T + t) * F + f) in [0, 1): the same spikes on every backend and
    /// thread count. x holds firing probabilities in [0, 1]; pass a new seed every step. Not differentiable (no backward).</summary>
    public static void PoissonForward(int n, int steps, int features, ulong seed, View x, View y)
    {
        Check(n, steps, features, x, features, nameof(x), y, steps * features, nameof(y));
        if (n * features == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new PoissonJob { X = px + x.Offset, XStride = x.BatchStride, Y = py + y.Offset, YStride = y.BatchStride, T = steps, F = features, Seed = seed };
            Run(n, (long)n * steps * features * 4, ref job);
        }
    }

    static void Check(int n, int steps, int features, in View a, int aSize, string aName, in View b, int bSize, string bName)
    {
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), "At least one time step is needed.");
        if ((long)steps * features > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(steps), "steps * features exceeds int.MaxValue.");
        KernelUtil.Check(a, n, aSize, aName);
        KernelUtil.Check(b, n, bSize, bName);
    }

    static void Run<TJob>(int n, long work, ref TJob job) where TJob : struct, IParallelJob
    {
        if (work < ParallelThreshold) for (int b = 0; b < n; b++) job.Run(b);
        else WorkerPool.For(n, ref job);
    }

    struct RepeatJob : IParallelJob
    {
        public float* X, Y;
        public int XStride, YStride, T, F;

        public void Run(int b)
        {
            var src = new ReadOnlySpan<float>(X + (long)b * XStride, F);
            float* y = Y + (long)b * YStride;
            for (int t = 0; t < T; t++) src.CopyTo(new Span<float>(y + (long)t * F, F));
        }
    }

    /// <summary>y[b, :] (= or +=) (sum over t of x[b, t, :]) / Scale.</summary>
    struct SumJob : IParallelJob
    {
        public float* X, Y;
        public int XStride, YStride, T, F;
        public bool Accumulate;
        public float Scale;

        public void Run(int b)
        {
            float* x = X + (long)b * XStride;
            var y = new Span<float>(Y + (long)b * YStride, F);
            // Accumulate is only asked with Scale 1 (RepeatBackward): the steps are added onto dx in time order.
            if (!Accumulate) new ReadOnlySpan<float>(x, F).CopyTo(y);
            else TensorPrimitives.Add(y, new ReadOnlySpan<float>(x, F), y);
            for (int t = 1; t < T; t++) TensorPrimitives.Add(y, new ReadOnlySpan<float>(x + (long)t * F, F), y);
            if (Scale != 1f) TensorPrimitives.Divide(y, Scale, y);
        }
    }

    /// <summary>y[b, t, :] (= or +=) x[b, :] / T.</summary>
    struct SpreadJob : IParallelJob
    {
        public float* X, Y;
        public int XStride, YStride, T, F;
        public bool Accumulate;

        public void Run(int b)
        {
            var x = new ReadOnlySpan<float>(X + (long)b * XStride, F);
            float* y = Y + (long)b * YStride;
            for (int t = 0; t < T; t++)
            {
                var yt = new Span<float>(y + (long)t * F, F);
                if (Accumulate) TensorPrimitives.MultiplyAdd(x, 1f / T, yt, yt);
                else TensorPrimitives.Divide(x, T, yt);
            }
        }
    }

    struct PoissonJob : IParallelJob
    {
        public float* X, Y;
        public int XStride, YStride, T, F;
        public ulong Seed;

        public void Run(int b)
        {
            float* x = X + (long)b * XStride, y = Y + (long)b * YStride;
            for (int t = 0; t < T; t++)
            {
                long counter = ((long)b * T + t) * F;
                float* yt = y + (long)t * F;
                for (int f = 0; f < F; f++) yt[f] = DropoutRandom.Uniform(Seed, counter + f) <= x[f] ? 1f : 0f;
            }
        }
    }
}
