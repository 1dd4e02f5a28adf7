// A generated training step reuses its arena: after warm-up it allocates no managed memory on the
// calling thread or the kernel worker threads, so training never pays the VM's slow first-touch page
// faults. (Process-wide counters would also count the test runner's own threads.)
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Cpu;

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
    [Fact] public void DfcAttentionTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new DfcAttention());
    [Fact] public void FusedConvBatchNormTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new FusedChain());
    [Fact] public void SmallCnnSampleTrainStepAndInferAllocateNothingAfterWarmUp() => Check(new FashionCnn.SmallCnn());

    static void Check(IModel model)
    {
        const int n = 16;
        var x = GradientTests.RandomInput(n * model.InputSize, 3);
        var labels = Enumerable.Range(0, n).Select(i => i % model.OutputSize).ToArray();
        var logits = new float[n * model.OutputSize];
        // Warm-up past tiered compilation (30 calls, then a background re-JIT), whose bookkeeping
        // allocates on the calling thread the first time a method is promoted.
        for (int i = 0; i < 60; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
        }
        long before = WorkerPool.AllocatedBytesOfPoolAndCaller();
        for (int i = 0; i < 5; i++)
        {
            model.TrainStep(x, labels, n);
            model.Infer(x, n, logits);
            // A smaller batch reuses the same arena.
            model.TrainStep(x, labels, n / 2);
        }
        long allocated = WorkerPool.AllocatedBytesOfPoolAndCaller() - before;
        Assert.Equal(0, allocated);
    }
}
