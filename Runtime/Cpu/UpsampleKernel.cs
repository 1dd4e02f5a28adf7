// Nearest-neighbour resize, up or down, with PyTorch's choice of source pixels (UpsampleShape.Source).
// Work is split into groups of (sample, channel) planes. Forward gathers through a column map computed
// once per group and copies an output row whenever it reads the same input row as the one before (every
// other row of a 2x upsample). Backward scatters dy into the plane it came from; planes never share
// elements, so there are no races.
namespace Authoring.Runtime.Cpu;

/// <summary>Nearest-neighbour resizing (<c>mode='nearest'</c> with an output size).</summary>
public static unsafe class UpsampleKernel
{
    [ThreadStatic] static int[]? columnScratch;

    /// <summary>y[b, c, i, j] = x[b, c, Source(i), Source(j)].</summary>
    public static void NearestForward(in UpsampleShape s, int n, View x, View y)
    {
        Validate(s, n, x, y, "y");
        if (n == 0) return;
        fixed (float* px = x.Data, py = y.Data)
        {
            var job = new Job { S = s, In = px + x.Offset, InStride = x.BatchStride, Out = py + y.Offset, OutStride = y.BatchStride };
            Split(n * s.C, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job, (long)n * (s.InSize + s.OutSize) * WorkerPool.FlopsPerElement);
        }
    }

    /// <summary>dx (=, or += when <paramref name="accumulate"/>) the sum of dy over the outputs that read each input;
    /// inputs no output reads (when downsampling) get 0.</summary>
    public static void NearestBackward(in UpsampleShape s, int n, View dy, View dx, bool accumulate)
    {
        Validate(s, n, dx, dy, "dy");
        if (n == 0) return;
        fixed (float* pdy = dy.Data, pdx = dx.Data)
        {
            var job = new Job
            {
                Backward = true, Accumulate = accumulate, S = s, In = pdx + dx.Offset, InStride = dx.BatchStride,
                Out = pdy + dy.Offset, OutStride = dy.BatchStride,
            };
            Split(n * s.C, out job.PerTask, out job.Total, out int tasks);
            WorkerPool.For(tasks, ref job, (long)n * (s.InSize + s.OutSize) * WorkerPool.FlopsPerElement);
        }
    }

    static void Validate(in UpsampleShape s, int n, in View input, in View output, string outName)
    {
        if (s.C <= 0 || s.H <= 0 || s.W <= 0 || s.Ho <= 0 || s.Wo <= 0)
            throw new ArgumentException($"Invalid resize shape {s}: every size must be positive.");
        KernelUtil.Check(input, n, s.InSize, "x");
        KernelUtil.Check(output, n, s.OutSize, outName);
    }

    /// <summary>Planes per task as the depthwise convolution splits them: about eight tasks per thread, so
    /// shared cores balance while claiming a task stays cheap next to its planes.</summary>
    static void Split(int planes, out int perTask, out int total, out int tasks)
    {
        total = planes;
        perTask = Math.Max(1, planes / (8 * WorkerPool.ThreadCount));
        tasks = (planes + perTask - 1) / perTask;
    }

    struct Job : IParallelJob
    {
        public UpsampleShape S;
        /// <summary>The input side (x forward, dx backward) and the output side (y forward, dy backward).</summary>
        public float* In, Out;
        public int InStride, OutStride, PerTask, Total;
        public bool Backward, Accumulate;

        public void Run(int task)
        {
            // Shape in locals: stores through float pointers could alias this struct and force reloads.
            UpsampleShape s = S;
            int h = s.H, w = s.W, ho = s.Ho, wo = s.Wo, c = s.C;
            var scratch = columnScratch;
            if (scratch is null || scratch.Length < wo) columnScratch = scratch = new int[Math.Max(wo, 64)];
            fixed (int* cols = scratch)
            {
                for (int ox = 0; ox < wo; ox++) cols[ox] = UpsampleShape.Source(ox, w, wo);
                int end = Math.Min(Total, (task + 1) * PerTask);
                for (int index = task * PerTask; index < end; index++)
                {
                    int b = index / c, ch = index - b * c;
                    float* inPlane = In + (long)b * InStride + (long)ch * h * w;
                    float* outPlane = Out + (long)b * OutStride + (long)ch * ho * wo;
                    if (Backward) Scatter(inPlane, outPlane, cols, h, w, ho, wo, Accumulate);
                    else Gather(inPlane, outPlane, cols, h, w, ho, wo);
                }
            }
        }

        static void Gather(float* x, float* y, int* cols, int h, int w, int ho, int wo)
        {
            int previous = -1;
            for (int oy = 0; oy < ho; oy++)
            {
                int sy = UpsampleShape.Source(oy, h, ho);
                float* yr = y + (long)oy * wo;
                if (sy == previous)
                {
                    new ReadOnlySpan<float>(yr - wo, wo).CopyTo(new Span<float>(yr, wo));
                    continue;
                }
                float* xr = x + (long)sy * w;
                for (int ox = 0; ox < wo; ox++) yr[ox] = xr[cols[ox]];
                previous = sy;
            }
        }

        static void Scatter(float* dx, float* dy, int* cols, int h, int w, int ho, int wo, bool accumulate)
        {
            if (!accumulate) new Span<float>(dx, h * w).Clear();
            for (int oy = 0; oy < ho; oy++)
            {
                float* dr = dx + (long)UpsampleShape.Source(oy, h, ho) * w;
                float* g = dy + (long)oy * wo;
                for (int ox = 0; ox < wo; ox++) dr[cols[ox]] += g[ox];
            }
        }
    }
}
