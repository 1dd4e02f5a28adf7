// The spiking sample's TorchSharp twin (bench --spiking-epoch): the same network as SpikingCnn (trainable scalar
// count, logits shape) and one training step of each side runs, so the epoch comparison keeps comparing like with like.
using Authoring.Benchmarks;
using SpikingFashion;
using TorchSharp;

namespace Authoring.Bench.Tests;

public class SpikingEpochSmokeTests
{
    [Fact]
    public void TwinIsTheSameNetworkAndBothSidesTrainAStep()
    {
        const int batch = 2;
        var ours = new SpikingCnn();
        ours.Parameters.Initialize(1);
        using var net = new TorchSpikingCnn();
        Assert.Equal(ours.Parameters.TrainableCount, net.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));

        var rng = new Random(3);
        var x = new float[batch * ours.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        int[] labels = [1, 7];
        var step = ours.TrainStep(x, labels, batch);
        Assert.True(float.IsFinite(step.Loss));

        using var scope = torch.NewDisposeScope();
        net.train();
        var logits = net.call(torch.tensor(x, new long[] { batch, 1, 28, 28 }));
        Assert.Equal(new long[] { batch, 10 }, logits.shape);
        var loss = torch.nn.functional.cross_entropy(logits, torch.tensor(new long[] { 1, 7 }));
        loss.backward();
        Assert.True(float.IsFinite(loss.item<float>()));
        // Gradients reach the first conv through three LIF layers' surrogates.
        Assert.NotNull(net.parameters().First().grad);
    }
}
