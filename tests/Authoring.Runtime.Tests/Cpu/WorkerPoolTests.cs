// The parallel-for: every index runs exactly once, nested calls run inline, failures surface.
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class WorkerPoolTests
{
    struct CountJob : IParallelJob
    {
        public int[] Hits;
        public int NestedCount;
        public void Run(int i)
        {
            Interlocked.Increment(ref Hits[i]);
            if (NestedCount > 0)
            {
                Assert.True(WorkerPool.InsideJob);
                var inner = new CountJob { Hits = new int[NestedCount] };
                WorkerPool.For(NestedCount, ref inner);
                Assert.All(inner.Hits, h => Assert.Equal(1, h));
            }
        }
    }

    struct ThrowJob : IParallelJob
    {
        public void Run(int i) { if (i == 37) throw new InvalidOperationException("index 37"); }
    }

    [Fact]
    public void RunsEveryIndexOnceIncludingNested()
    {
        for (int round = 0; round < 200; round++)
        {
            var job = new CountJob { Hits = new int[round % 17 + 1], NestedCount = round % 3 };
            WorkerPool.For(job.Hits.Length, ref job);
            Assert.All(job.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public async Task ConcurrentCallersBothComplete()
    {
        // Two threads calling at once: one owns the pool, the other runs inline; neither waits forever.
        var tasks = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int r = 0; r < 100; r++)
            {
                var job = new CountJob { Hits = new int[64] };
                WorkerPool.For(64, ref job);
                Assert.All(job.Hits, h => Assert.Equal(1, h));
            }
        })).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void ExceptionInAJobReachesTheCaller()
    {
        var job = new ThrowJob();
        // The job's own exception, whether it ran on a worker or inline.
        Assert.Throws<InvalidOperationException>(() => WorkerPool.For(100, ref job));
        var ok = new CountJob { Hits = new int[10] };
        WorkerPool.For(10, ref ok);
        Assert.All(ok.Hits, h => Assert.Equal(1, h));
    }
}
