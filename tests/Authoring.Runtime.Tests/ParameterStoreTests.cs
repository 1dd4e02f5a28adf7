// The flat parameter layout and its seeded initialisation.
using Authoring.Runtime;

namespace Authoring.Runtime.Tests;

public class ParameterStoreTests
{
    static ParameterStore Make(int seed) => new(
    [
        new ParameterInfo("conv.weight", [8, 3, 3, 3], ParameterRole.Weight, InitKind.KaimingUniform, 27, 72),
        new ParameterInfo("conv.bias", [8], ParameterRole.Bias, InitKind.BiasUniform, 27, 72),
        new ParameterInfo("bn.running_var", [8], ParameterRole.RunningVar, InitKind.Ones, 0, 0),
    ], seed);

    [Fact]
    public void LaysOutContiguouslyAndCountsOnlyTrainables()
    {
        var s = Make(1);
        Assert.Equal(216 + 8 + 8, s.Values.Length);
        Assert.Equal(216, s.OffsetOf(1));
        Assert.Equal(216 + 8, s.TrainableCount);
    }

    [Fact]
    public void KaimingUniformStaysWithinPyTorchBoundAndIsSeeded()
    {
        var a = Make(7); var b = Make(7); var c = Make(8);
        float bound = 1f / MathF.Sqrt(27);
        foreach (float v in a.Value(0)) Assert.InRange(v, -bound, bound);
        Assert.Equal(a.Values, b.Values);
        Assert.NotEqual(a.Values, c.Values);
        Assert.All(a.Value("bn.running_var").ToArray(), v => Assert.Equal(1f, v));
    }
}
