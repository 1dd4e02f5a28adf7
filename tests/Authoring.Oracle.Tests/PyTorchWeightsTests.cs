// PyTorch weights in: the reference GhostNet / RepVGG / MobileOne modules (TorchBlocks.cs, written from the original
// PyTorch code, so their state_dict names are the originals') initialise themselves with torch's own RNG, their
// state_dict is written as safetensors by TorchSharp.PyBridge (an independent writer: not our Safetensors.Save),
// and Safetensors.Load puts it into the corresponding generated model by name. Then every tensor must be
// bit-identical to torch's and the eval-mode logits must agree (same tolerance as BlockParityTests).
// The file also carries PyTorch's int64 num_batches_tracked counters, which Load must skip.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using Authoring.Runtime.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;
using Safetensors = Authoring.Runtime.Checkpoints.Safetensors;
using static Authoring.Oracle.Tests.TorchOracle;
using TorchModule = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

namespace Authoring.Oracle.Tests;

public class PyTorchWeightsTests
{
    const double Tol = 1e-4;   // as BlockParityTests: float32 through a few layers, 25x the worst round-off seen there

    [Fact]
    public void GhostBottleneckWithSqueezeExcite() => Check(new GhostBottleneckSe(),
        () => TorchFrame.Net(2, 4, 5, 3, ("b", new TorchGhostBottleneck(4, 6, 5, stride: 2, se_ratio: 0.5))));

    [Fact]
    public void GhostBottleneckWithDfcAttention() => Check(new GhostBottleneckAttention(),
        () => TorchFrame.Net(2, 4, 5, 3, ("b", new TorchGhostBottleneck(4, 6, 5, stride: 2, attn: true))));

    [Fact]
    public void RepVggBlocks() => Check(new RepVgg(),
        () => TorchFrame.Net(2, 4, 6, 3, ("r1", new TorchRepVggBlock(4, 4)), ("r2", new TorchRepVggBlock(4, 6, stride: 2, groups: 2))));

    [Fact]
    public void MobileOneDepthwisePointwise() => Check(new MobileOne(),
        () => TorchFrame.Net(2, 4, 4, 3,
            ("dw", new TorchMobileOneBlock(4, 4, 3, padding: 1, groups: 4, num_conv_branches: 2)),
            ("pw", new TorchMobileOneBlock(4, 4, 1, num_conv_branches: 2))));

    static void Check(IModel model, Func<TorchModule> makeNet)
    {
        EnsureInitialized();
        torch.manual_seed(17);
        using var net = makeNet();   // torch's own initialisation (kaiming-uniform convs, ones/zeros BN)
        // Running statistics and BN affine parameters away from their initial ones/zeros, and a few BatchNorm
        // steps counted, so a tensor loaded into the wrong place or not at all changes the logits.
        using (torch.no_grad())
        {
            foreach (var (name, t) in net.state_dict())
            {
                if (name.EndsWith(".running_var", StringComparison.Ordinal)) t.uniform_(0.5, 1.5);
                else if (name.EndsWith(".running_mean", StringComparison.Ordinal)) t.uniform_(-0.3, 0.3);
                else if (name.EndsWith(".num_batches_tracked", StringComparison.Ordinal)) t.fill_(7);
                else if (t.shape.Length == 1) t.uniform_(0.5, 1.5);   // BN gamma / beta, biases
            }
        }
        string path = Path.Combine(Path.GetTempPath(), $"authoring-pytorch-{Environment.ProcessId}-{model.Name}.safetensors");
        try
        {
            net.save_safetensors(path);
            var header = Safetensors.ReadHeader(path);
            Assert.Contains(header.Tensors, t => t.Name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) && t.Dtype == "I64");

            model.Parameters.Initialize(99);          // anything but torch's values
            Safetensors.Load(model.Parameters, path);

            var state = net.state_dict();
            foreach (var info in model.Parameters.Infos)
                Assert.True(model.Parameters.Value(info.Name).SequenceEqual(ToArray(state[info.Name])), $"tensor '{info.Name}' differs after loading");

            net.eval();
            foreach (int n in new[] { 3, 1 })
            {
                using var scope = Scope();
                var x = Random(n * model.InputSize, 18 + n);
                var ours = new float[n * model.OutputSize];
                model.Infer(x, n, ours);
                var logits = net.forward(Constant(x, [n, .. model.InputShape.Select(d => (long)d)]));
                ModelParityTests.AssertClose(ours, ToArray(logits), Tol, $"{model.Name} eval logits (batch {n})");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
