// A parallel-for over all cores that allocates nothing per call: persistent worker threads, the job
// handed over as a pointer to the caller's struct plus a function pointer, indices claimed with an
// atomic counter. Nested calls (from inside a job) and calls made while another thread owns the
// pool run inline, so kernels can call kernels without deadlock or oversubscription.
using System.Runtime.CompilerServices;

namespace Authoring.Runtime.Cpu;

/// <summary>A unit of parallel work: <see cref="Run"/> is called once for every index in [0, count).</summary>
public interface IParallelJob
{
    /// <summary>Does the work of one index; indices run concurrently on different threads.</summary>
    void Run(int index);
}

/// <summary>Persistent worker threads (one per core, the calling thread included) running <see cref="IParallelJob"/>s.</summary>
public static unsafe class WorkerPool
{
    // Workers spin this many iterations before blocking: a training step issues kernels back to
    // back, and waking a blocked thread costs tens of microseconds, but the cores are shared so
    // spinning must not last.
    const int SpinIterations = 20_000;

    static readonly int workerCount = Math.Max(0, Environment.ProcessorCount - 1);
    static readonly object owner = new();
    static readonly SemaphoreSlim wake = new(0);

    static volatile int generation;
    static int sleeping;
    static int active;
    static int closed = 1;
    static readonly long[] workerAllocated = new long[Math.Max(0, Environment.ProcessorCount - 1)];
    static int nextIndex;
    static int jobCount;
    static void* jobPtr;
    static delegate*<void*, int, void> jobRun;
    static Exception? failure;
    static bool started;

    [ThreadStatic] static bool insideJob;

    /// <summary>Threads that take part in a parallel call (workers plus the caller).</summary>
    public static int ThreadCount => workerCount + 1;

    /// <summary>True on a thread that is currently running part of a job (nested calls run inline).</summary>
    public static bool InsideJob => insideJob;

    /// <summary>Managed bytes allocated so far by the calling thread plus the pool's workers (as of their
    /// last job): lets tests check that kernels allocate nothing without counting other threads' garbage.</summary>
    public static long AllocatedBytesOfPoolAndCaller()
    {
        long sum = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < workerAllocated.Length; i++) sum += Volatile.Read(ref workerAllocated[i]);
        return sum;
    }

    /// <summary>Least work, in flops (a memory-bound element counts <see cref="FlopsPerElement"/>), for which a
    /// kernel spreads over the pool: about 20 us of one core (4 MFLOP at ~200 GFLOP/s). Measured on the
    /// shared 2-core VMs (bench lab "blocks1", 2026-12): at batch 1 every block's training step and
    /// inference ran no faster on two threads than on one, and up to 35% slower, while each kernel there
    /// does 0.1-7 MFLOP; handing out work costs a few microseconds when the workers spin, tens when the
    /// other core is busy with another process, which on these machines is most of the time.</summary>
    public const long MinParallelFlops = 1L << 22;

    /// <summary>Flops an element of a memory-bound kernel (element-wise, pooling, BatchNorm) counts as.</summary>
    public const long FlopsPerElement = 32;

    /// <summary><see cref="For{TJob}(int, ref TJob)"/> when <paramref name="work"/> (flops) reaches
    /// <see cref="MinParallelFlops"/>; inline on the calling thread otherwise.</summary>
    public static void For<TJob>(int count, ref TJob job, long work) where TJob : struct, IParallelJob
    {
        if (work < MinParallelFlops) RunInline(count, ref job);
        else For(count, ref job);
    }

    /// <summary>Runs <c>job.Run(i)</c> for every i in [0, count) on all cores and returns when all are done.</summary>
    public static void For<TJob>(int count, ref TJob job) where TJob : struct, IParallelJob
    {
        if (count <= 0) return;
        if (count == 1 || workerCount == 0 || insideJob || !Monitor.TryEnter(owner))
        {
            RunInline(count, ref job);
            return;
        }
        try
        {
            if (!started) Start();
            jobPtr = Unsafe.AsPointer(ref job);
            jobRun = &Invoke<TJob>;
            jobCount = count;
            failure = null;
            nextIndex = 0;
            Volatile.Write(ref closed, 0);
            Interlocked.Increment(ref generation);
            int s = Volatile.Read(ref sleeping);
            if (s > 0) wake.Release(s);

            insideJob = true;
            try { Drain(); }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); Volatile.Write(ref nextIndex, int.MaxValue / 2); }
            finally { insideJob = false; }

            // The job lives on this stack frame. Close it, then wait only for workers already inside:
            // a worker that was descheduled and never entered sees `closed` and leaves the job alone,
            // so a busy machine does not make every call wait for a sleeping thread to be scheduled.
            Interlocked.Exchange(ref closed, 1);
            var spin = new SpinWait();
            while (Volatile.Read(ref active) != 0) spin.SpinOnce(-1);
            jobPtr = null;
            if (failure is { } f) { failure = null; System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(f); }
        }
        finally { Monitor.Exit(owner); }
    }

    static void RunInline<TJob>(int count, ref TJob job) where TJob : struct, IParallelJob
    {
        bool was = insideJob;
        insideJob = true;
        try { for (int i = 0; i < count; i++) job.Run(i); }
        finally { insideJob = was; }
    }

    static void Invoke<TJob>(void* job, int index) where TJob : struct, IParallelJob
        => Unsafe.AsRef<TJob>(job).Run(index);

    static void Drain()
    {
        int count = jobCount;
        var run = jobRun;
        void* job = jobPtr;
        while (true)
        {
            int i = Interlocked.Increment(ref nextIndex) - 1;
            if (i >= count) return;
            run(job, i);
        }
    }

    static void Start()
    {
        for (int w = 0; w < workerCount; w++)
        {
            var t = new Thread(WorkerLoop, 1 << 20) { IsBackground = true, Name = "Authoring worker " + w };
            t.Start(w);
        }
        started = true;
    }

    static void WorkerLoop(object? state)
    {
        int id = (int)state!;
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (generation == seen)
            {
                if (spins++ < SpinIterations) { Thread.SpinWait(4); continue; }
                Interlocked.Increment(ref sleeping);
                // Re-check after announcing: the caller reads `sleeping` after bumping `generation`,
                // so either it sees us and releases the semaphore, or we see the new generation.
                if (generation == seen) wake.Wait();
                Interlocked.Decrement(ref sleeping);
                spins = 0;
            }
            seen = generation;
            // Enter, then check the job is still open (full fences on both sides, as the caller closes then reads `active`).
            Interlocked.Increment(ref active);
            if (Volatile.Read(ref closed) == 0)
            {
                insideJob = true;
                try { Drain(); }
                catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); Volatile.Write(ref nextIndex, int.MaxValue / 2); }
                finally { insideJob = false; }
            }
            workerAllocated[id] = GC.GetAllocatedBytesForCurrentThread();
            Interlocked.Decrement(ref active);
        }
    }
}

/// <summary>Per-thread scratch arrays that grow only when a larger size is asked for.</summary>
internal static class Scratch
{
    /// <summary>Returns <paramref name="slot"/>, replaced by a larger pinned array when it holds fewer than <paramref name="size"/> floats.
    /// Pinned (on the pinned object heap) so that pointers into it stay valid and 64-byte alignment holds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float[] Get(ref float[]? slot, int size)
    {
        var a = slot;
        if (a is null || a.Length < size + 16) a = Grow(ref slot, size);
        return a;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float[] Grow(ref float[]? slot, int size)
    {
        int len = Math.Max(size + 16, (slot?.Length ?? 0) * 3 / 2);
        slot = GC.AllocateUninitializedArray<float>(len, pinned: true);
        return slot;
    }

    /// <summary>A 64-byte aligned pointer into a pinned scratch array.</summary>
    public static unsafe float* Aligned(float[] pinned)
    {
        nint p = (nint)Unsafe.AsPointer(ref pinned[0]);
        return (float*)((p + 63) & ~(nint)63);
    }
}
