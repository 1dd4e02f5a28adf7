// Proves TorchSharp's native libraries load here (see build/TorchSharp.targets) and compute what
// hand arithmetic says, forward and backward.
using TorchSharp;
using static TorchSharp.torch;

namespace Authoring.Oracle.Tests;

public class SmokeTests
{
    public SmokeTests() => TorchOracle.EnsureInitialized();

    [Fact]
    public void Matmul_matches_hand_values()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, new long[] { 2, 3 });
        var b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, new long[] { 3, 2 });
        var c = matmul(a, b);
        Assert.Equal(new long[] { 2, 2 }, c.shape);
        // [1 2 3; 4 5 6] x [7 8; 9 10; 11 12] = [58 64; 139 154]
        Assert.Equal(new float[] { 58, 64, 139, 154 }, c.data<float>().ToArray());
    }

    [Fact]
    public void Backward_matches_hand_gradients()
    {
        using var scope = NewDisposeScope();
        // L = sum(W x + b)^2 / 2 elementwise: y = W x + b, L = 0.5 * sum(y^2)
        // dL/dy = y, dL/dW = y x^T, dL/dx = W^T y, dL/db = y.
        var w = tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 }, requires_grad: true);
        var x = tensor(new float[] { 1, -1 }, new long[] { 2, 1 }, requires_grad: true);
        var b = tensor(new float[] { 0.5f, -0.5f }, new long[] { 2, 1 }, requires_grad: true);
        var y = matmul(w, x) + b;                       // [-1 + 0.5, -1 - 0.5] = [-0.5, -1.5]
        var loss = y.pow(2).sum() * 0.5f;               // 0.5 * (0.25 + 2.25) = 1.25
        loss.backward();

        Assert.Equal(1.25f, loss.item<float>(), 6);
        Assert.Equal(new float[] { -0.5f, 0.5f, -1.5f, 1.5f }, w.grad!.data<float>().ToArray());
        Assert.Equal(new float[] { -0.5f - 4.5f, -1f - 6f }, x.grad!.data<float>().ToArray());
        Assert.Equal(new float[] { -0.5f, -1.5f }, b.grad!.data<float>().ToArray());
    }

    [Fact]
    public void Runs_on_two_threads()
    {
        Assert.Equal(2, torch.get_num_threads());
    }
}
