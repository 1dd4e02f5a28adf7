// The training loss of a classifier: mean softmax cross-entropy of (classes) logits against integer labels,
// written with its gradient (softmax - onehot) / n in one kernel.
using Authoring.Generators.Emit;

namespace Authoring.Generators.Ops;

internal static class SoftmaxCrossEntropy
{
    /// <summary>Io: logits, dlogits. Writes the step's result (loss, correct).</summary>
    public static readonly Kernel Kernel = new("Loss",
        (c, s) => c.Line($"result = {EmitCommon.CpuNs}.LossKernel.SoftmaxCrossEntropy(n, {s.Node!.Size}, {c.V(s.Io[0])}, labels, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.SoftmaxCrossEntropy(n, {s.Node!.Size}, {g.V(s.Io[0])}, __labels!.View.SubView(0, n), {g.V(s.Io[1])}, __result.View);"));
}
