// A generated training step reuses its arena: after warm-up it allocates no managed memory, on any
// thread (the worker pool included), so training never pays the VM's slow first-touch page faults.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;

namespace Authoring.Models.Tests;

// Allocation counters are process-wide: nothing else may run beside these tests.
[CollectionDefinition("allocation", DisableParallelization = true)]
public sealed class AllocationCollection;

[Collection("allocation")]
public class AllocationTests
{
    [Fact] public void GhostTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new Ghost());
    [Fact] public void SqueezeExciteTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new SqueezeExcite());
    [Fact] public void ConcatDropoutTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new ConcatCopies());

    static void Check(IModel model)
    {
        const int n = 16;
        var x = GradientTests.RandomInput(n * model.InputSize, 3);
        var labels = Enumerable.Range(0, n).Select(i => i % model.OutputSize).ToArray();
        var logits = new float[n * model.OutputSize];
        for (int i = 0; i < 3; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
        }
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < 5; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
            // A smaller batch reuses the same arena.
            model.TrainStep(x, labels, n / 2);
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(0, allocated);
    }
}
