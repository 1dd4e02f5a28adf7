// Dropout with a mask drawn from a counter-based generator, so the CPU and ILGPU backends draw the
// same mask for the same seed and element, whatever the thread or launch layout.
namespace Authoring.Runtime.Cpu;

/// <summary>Dropout with a stored mask.</summary>
public static unsafe class DropoutKernel
{
    /// <summary>mask = (u &gt;= p) / (1 - p) from a counter-based generator keyed by seed; y = x * mask.</summary>
    public static void Forward(int n, int size, float p, ulong seed, View x, View mask, View y)
    {
        KernelUtil.Check(x, n, size, nameof(x));
        KernelUtil.Check(mask, n, size, nameof(mask));
        KernelUtil.Check(y, n, size, nameof(y));
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), "Dropout probability must be in [0, 1].");
        if (n == 0 || size == 0) return;
        fixed (float* px = x.Data, pm = mask.Data, py = y.Data)
        {
            var job = new Job
            {
                X = px + x.Offset, XStride = x.BatchStride, M = pm + mask.Offset, MStride = mask.BatchStride,
                Y = py + y.Offset, YStride = y.BatchStride, Size = size, P = p, Keep = p < 1f ? 1f / (1f - p) : 0f, Seed = seed,
            };
            WorkerPool.For(n, ref job, 2L * n * size * WorkerPool.FlopsPerElement);
        }
    }

    struct Job : IParallelJob
    {
        public float* X, M, Y;
        public int XStride, MStride, YStride, Size;
        public float P, Keep;
        public ulong Seed;

        public void Run(int b)
        {
            float* x = X + (long)b * XStride, m = M + (long)b * MStride, y = Y + (long)b * YStride;
            long baseIndex = (long)b * Size;
            for (int i = 0; i < Size; i++)
            {
                float mv = DropoutRandom.Uniform(Seed, baseIndex + i) >= P ? Keep : 0f;
                m[i] = mv;
                y[i] = x[i] * mv;
            }
        }
    }
}

/// <summary>The counter-based uniform generator dropout uses, shared by the CPU and ILGPU backends so masks agree.</summary>
public static class DropoutRandom
{
    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/> of a step keyed by <paramref name="seed"/> (SplitMix64).</summary>
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed + (ulong)(index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / 16777216f);
    }
}
