// Behaviour at the edges users hit: NaN propagation (a diverging run must show NaN, as in PyTorch, on
// every code path) and BatchNorm training on a single value per channel (rejected, as PyTorch does).
using System.Runtime.Intrinsics;
using Authoring.Runtime.Cpu;

namespace Authoring.Runtime.Tests.Cpu;

public class EdgeCaseTests
{
    [Fact]
    public void ReluAndRelu6PropagateNaNInScalarAndVectorPaths()
    {
        Assert.True(float.IsNaN(default(Relu).Apply(float.NaN)));
        Assert.True(float.IsNaN(default(Relu6).Apply(float.NaN)));
        Assert.True(float.IsNaN(default(Relu).Apply(Vector256.Create(float.NaN)).GetElement(0)));
        Assert.True(float.IsNaN(default(Relu6).Apply(Vector256.Create(float.NaN)).GetElement(0)));
        Assert.Equal(0f, default(Relu).Apply(-2f));
        Assert.Equal(6f, default(Relu6).Apply(7f));
    }

    [Fact]
    public void BatchNormTrainingRejectsOneValuePerChannel()
    {
        var x = new View(new float[4], 0, 4);
        var p = new float[16];
        var ex = Assert.Throws<ArgumentException>(() =>
            BatchNormKernel.ForwardTrain<Identity>(1, 4, 1, x, p, 0, 4, 8, 12, 0.1f, 1e-5f, new float[8], 0, x));
        Assert.Contains("more than one value per channel", ex.Message);
        // Two samples, or one sample with a spatial plane, are fine.
        BatchNormKernel.ForwardTrain<Identity>(1, 1, 4, new View(new float[4], 0, 4), p, 0, 4, 8, 12, 0.1f, 1e-5f, new float[8], 0, new View(new float[4], 0, 4));
    }
}
