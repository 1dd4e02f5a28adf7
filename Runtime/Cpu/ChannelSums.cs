// A BatchNorm's batch statistics taken from a convolution's stored output, for the paths whose kernels do not take
// them in their own write-out (im2col + GEMM, depthwise): per channel, the sums of (y - k) and (y - k)^2 over the
// batch, with y - k rounded once to float and everything after in double, as the direct kernels' epilogue sums.
// Channels are independent tasks, each summed in an order fixed by the shape (four double lanes per sum, rows in
// batch order), so the result does not depend on the thread count. The scalar serial loop this replaces (two
// dependent double additions per element on one core) took 6-9% of a Ghost module's training step.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Authoring.Runtime.Cpu;

internal static unsafe class ChannelSums
{
    /// <summary>sums[2c] = sum of (y - k[c]), sums[2c + 1] = sum of (y - k[c])^2 over the <paramref name="n"/> samples'
    /// rows of <paramref name="hw"/> floats of channel c (sample stride <paramref name="stride"/>).</summary>
    public static void Shifted(float* y, long stride, int n, int channels, int hw, float* k, double* sums)
    {
        var job = new Job { Y = y, Stride = stride, N = n, Hw = hw, K = k, Sums = sums };
        WorkerPool.For(channels, ref job, (long)n * channels * hw * WorkerPool.FlopsPerElement);
    }

    struct Job : IParallelJob
    {
        public float* Y, K;
        public double* Sums;
        public long Stride;
        public int N, Hw;

        public void Run(int c)
        {
            float kc = K[c];
            int hw = Hw;
            double s1 = 0, s2 = 0;
            if (Avx.IsSupported)
            {
                var vk = Vector256.Create(kc);
                Vector256<double> a1 = default, a2 = default, b1 = default, b2 = default;
                for (int b = 0; b < N; b++)
                {
                    float* row = Y + b * Stride + (long)c * hw;
                    int i = 0;
                    for (; i <= hw - 8; i += 8)
                    {
                        var t = Vector256.Load(row + i) - vk;
                        var lo = Avx.ConvertToVector256Double(t.GetLower());
                        var hi = Avx.ConvertToVector256Double(t.GetUpper());
                        a1 += lo; b1 += hi;
                        a2 = Vector256.FusedMultiplyAdd(lo, lo, a2);
                        b2 = Vector256.FusedMultiplyAdd(hi, hi, b2);
                    }
                    for (; i < hw; i++) { double t = row[i] - kc; s1 += t; s2 += t * t; }
                }
                s1 += Vector256.Sum(a1 + b1);
                s2 += Vector256.Sum(a2 + b2);
            }
            else
            {
                for (int b = 0; b < N; b++)
                {
                    float* row = Y + b * Stride + (long)c * hw;
                    for (int i = 0; i < hw; i++) { double t = row[i] - kc; s1 += t; s2 += t * t; }
                }
            }
            Sums[2 * c] = s1;
            Sums[2 * c + 1] = s2;
        }
    }
}
