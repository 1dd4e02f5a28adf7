// Issue #10: one model instance used from several threads gave wrong logits with no error. The contract: a model
// instance runs one Infer or TrainStep at a time; a call that overlaps another fails at once with an
// InvalidOperationException, and every call that runs returns exactly what it returns on one thread.
// Real threads, started together on a barrier, calling as fast as they can.
using Authoring.Runtime;

namespace Authoring.Models.Tests;

public class ConcurrencyTests
{
    [Fact]
    public void OverlappingInferCallsFailClearlyAndTheOthersAreBitIdentical()
    {
        var model = new FashionCnn.SmallCnn();
        GradientTests.Randomize(model.Parameters, 1);
        const int Batch = 8, Threads = 4, Calls = 60;
        var x = GradientTests.RandomInput(Batch * model.InputSize, 2);
        var expected = new float[Batch * model.OutputSize];
        model.Infer(x, Batch, expected);

        int ok = 0, refused = 0;
        var wrong = new List<string>();
        var other = new List<Exception>();
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var y = new float[expected.Length];
            start.SignalAndWait();
            for (int i = 0; i < Calls; i++)
            {
                try
                {
                    model.Infer(x, Batch, y);
                    if (!y.AsSpan().SequenceEqual(expected)) lock (wrong) wrong.Add($"thread {t}, call {i}");
                    Interlocked.Increment(ref ok);
                }
                catch (InvalidOperationException e) when (e.Message.Contains("single-threaded", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e) { lock (other) other.Add(e); }
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());

        Assert.Empty(other);
        Assert.Empty(wrong);
        Assert.Equal(Threads * Calls, ok + refused);
        Assert.True(ok > 0, "no call ran");
        // Four threads in tight loops over one instance must have overlapped; otherwise the test proved nothing.
        Assert.True(refused > 0, $"no overlap in {Threads * Calls} calls");
    }

    [Fact]
    public void TrainingFromTwoThreadsFailsClearly()
    {
        var model = new FashionCnn.SmallCnn();
        GradientTests.Randomize(model.Parameters, 3);
        const int Batch = 4, Threads = 2, Calls = 40;
        var x = GradientTests.RandomInput(Batch * model.InputSize, 4);
        var labels = Enumerable.Range(0, Batch).Select(i => i % 10).ToArray();
        int ok = 0, refused = 0;
        var other = new List<Exception>();
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Calls; i++)
            {
                try
                {
                    model.TrainStep(x, labels, Batch);
                    Interlocked.Increment(ref ok);
                }
                catch (InvalidOperationException e) when (e.Message.Contains("is already running Infer or TrainStep on another thread", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e) { lock (other) other.Add(e); }
            }
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        Assert.Empty(other);
        Assert.Equal(Threads * Calls, ok + refused);
        Assert.True(ok > 0 && refused > 0, $"{ok} steps ran, {refused} refused: the threads must both run and overlap");
        Assert.Equal((ulong)ok, model.TrainSteps); // a refused call changed nothing, not even the step count
    }
}
