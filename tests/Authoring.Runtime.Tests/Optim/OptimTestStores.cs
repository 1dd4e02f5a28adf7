// A small store with two trainable tensors around a running statistic, and a deterministic gradient
// rule, shared by the optimizer tests and their double-precision references.
using Authoring.Runtime;

namespace Authoring.Runtime.Tests.Optim;

static class OptimTestStores
{
    /// <summary>weight [3, 5], running mean [4] (must never move), bias [3]: 22 scalars, 15 + 3 trainable, in two runs.</summary>
    public static ParameterStore Make() => new(
    [
        new ParameterInfo("fc.weight", [3, 5], ParameterRole.Weight, InitKind.KaimingUniform, 5, 3),
        new ParameterInfo("bn.running_mean", [4], ParameterRole.RunningMean, InitKind.Ones, 0, 0),
        new ParameterInfo("fc.bias", [3], ParameterRole.Bias, InitKind.BiasUniform, 5, 3),
    ], seed: 3);

    public static bool IsTrainable(int i) => i < 15 || i >= 19;

    /// <summary>The gradient of step <paramref name="t"/> at scalar <paramref name="i"/>: depends on the parameter
    /// (like a real loss) and varies in sign and size across steps and scalars.</summary>
    public static double Grad(double p, int i, int t) => 0.7 * p + Math.Sin(1.3 * i + 0.9 * t) * (1 + 0.1 * i);

    /// <summary>Writes the step-<paramref name="t"/> gradients of every scalar (running statistics get a nonzero
    /// gradient too, to prove it is ignored).</summary>
    public static void FillGrads(ParameterStore s, int t)
    {
        for (int i = 0; i < s.Values.Length; i++) s.Grads[i] = (float)Grad(s.Values[i], i, t);
    }
}
