// Each sample's TorchSharp twin (bench --sample-epoch) is the same network as the sample: the harness's parity check
// (weights read across bit-identical, eval logits and post-step running statistics within 1e-4) holds on a small
// random batch, so the epoch comparison keeps comparing like with like when a sample or a reference block changes.
using Authoring.Benchmarks;
using TorchSharp;

namespace Authoring.Bench.Tests;

public class SampleTwinTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var t in SampleEpoch.Twins()) data.Add(t.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TwinPassesTheParityCheck(string name)
    {
        var twin = SampleEpoch.Twins().Single(t => t.Name == name);
        const int batch = 4;
        var ours = twin.CreateOurs();
        ours.Parameters.Initialize(1);
        torch.random.manual_seed(1);
        using var net = twin.CreateTorch();
        var rng = new Random(5);
        var x = new float[batch * ours.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        int[] labels = [3, 0, 9, 4];
        string? mismatch = SampleEpoch.Parity(twin, ours, net, x, labels, batch);
        // libtorch's float32 3x3 convolution is wrong for 24 and 40 channels on some machines (on this project's
        // AVX-512 VMs: bench/RESULTS.md, "Sample epochs against TorchSharp twins"); BlockNet's RepVGG block has 24
        // channels, so where that convolution is wrong the twin must fail the check, and pass it elsewhere.
        if (name == "blocknet" && TorchConv3x3IsWrong(24)) Assert.NotNull(mismatch);
        else Assert.Null(mismatch);
    }

    /// <summary>Whether TorchSharp's float32 3x3 convolution over <paramref name="c"/> channels differs from its float64
    /// one by more than float round-off (1e-4 of the largest output; correct kernels stay under 1e-6 here).</summary>
    static bool TorchConv3x3IsWrong(int c)
    {
        using var scope = torch.NewDisposeScope();
        torch.random.manual_seed(3);
        var x = torch.randn(4, c, 7, 7);
        var w = torch.randn(c, c, 3, 3);
        var y32 = torch.nn.functional.conv2d(x, w, padding: new long[] { 1, 1 }).to(torch.float64);
        var y64 = torch.nn.functional.conv2d(x.to(torch.float64), w.to(torch.float64), padding: new long[] { 1, 1 });
        return (y32 - y64).abs().max().item<double>() > 1e-4 * y64.abs().max().item<double>();
    }
}
