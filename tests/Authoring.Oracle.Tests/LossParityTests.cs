// The loss kernels against PyTorch's own losses (mean reduction) and their autograd gradients: cross-entropy
// with label smoothing and ignore_index, MSE, L1 and BCE with logits, on odd row counts and class counts.
using Authoring.Runtime.Cpu;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using F = TorchSharp.torch.nn.functional;

namespace Authoring.Oracle.Tests;

public class LossParityTests
{
    // One scalar of O(1) terms summed in double on our side and in float by torch: ~1e-7 relative. Gradients are
    // single terms (p - target) / count computed in double and rounded once: a few ulps. 1e-5 keeps a wide margin
    // while a wrong mean, smoothing or sign is off by percent.
    const double Tol = 1e-5;

    [Theory]
    [InlineData(7, 5, 0f)]
    [InlineData(13, 11, 0.1f)]
    [InlineData(1, 2, 0.25f)]
    public void CrossEntropyWithSmoothingAndIgnoredRows(int rows, int classes, float smoothing)
    {
        var x = Random(rows * classes, 100 + rows, -3f, 3f);
        var labels = Enumerable.Range(0, rows).Select(r => r % 4 == 2 ? LossKernel.IgnoreIndex : (r * 5 + 1) % classes).ToArray();
        var d = new float[rows * classes];
        var ours = LossKernel.CrossEntropy(rows, classes, new View(x, 0, classes), labels, smoothing, new View(d, 0, classes));

        using var scope = Scope();
        var logits = Leaf(x, rows, classes);
        var target = torch.tensor(labels.Select(l => (long)l).ToArray());
        var loss = F.cross_entropy(logits, target, ignore_index: LossKernel.IgnoreIndex, label_smoothing: smoothing);
        float expected = Scalar(loss);
        var grad = Gradients(loss, logits)[0];
        Assert.True(Math.Abs(ours.Loss - expected) <= Tol * Math.Max(1, Math.Abs(expected)), $"loss {ours.Loss} vs torch {expected}");
        ModelParityTests.AssertClose(d, grad, Tol, "dlogits");
        Assert.Equal(labels.Count(l => l != LossKernel.IgnoreIndex), ours.Total);
    }

    [Theory]
    [InlineData("mse", 3, 7)]
    [InlineData("l1", 5, 3)]
    [InlineData("bce", 4, 9)]
    public void ElementLosses(string kind, int n, int size)
    {
        var y = Random(n * size, 200 + n, -2f, 2f);
        var t = kind == "bce" ? Random(n * size, 300 + n, 0f, 1f) : Random(n * size, 300 + n, -2f, 2f);
        if (kind == "l1") y[3] = t[3];   // sign(0) = 0 in the gradient, as PyTorch
        var d = new float[n * size];
        var view = new View(y, 0, size);
        var dview = new View(d, 0, size);
        var ours = kind switch
        {
            "mse" => LossKernel.MeanSquaredError(n, size, view, t, dview),
            "l1" => LossKernel.MeanAbsoluteError(n, size, view, t, dview),
            _ => LossKernel.BceWithLogits(n, size, view, t, dview),
        };

        using var scope = Scope();
        var input = Leaf(y, n, size);
        var target = Constant(t, n, size);
        var loss = kind switch
        {
            "mse" => F.mse_loss(input, target),
            "l1" => F.l1_loss(input, target),
            _ => F.binary_cross_entropy_with_logits(input, target),
        };
        float expected = Scalar(loss);
        var grad = Gradients(loss, input)[0];
        Assert.True(Math.Abs(ours.Loss - expected) <= Tol * Math.Max(1, Math.Abs(expected)), $"{kind} loss {ours.Loss} vs torch {expected}");
        ModelParityTests.AssertClose(d, grad, Tol, $"d{kind}");
    }
}
