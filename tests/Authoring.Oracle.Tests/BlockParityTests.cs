// Composite blocks (Dsl/Blocks.cs) against their reference definitions re-written as TorchSharp modules
// (TorchBlocks.cs). Parameters are copied by state_dict name, and the two name sets must be equal, so a
// block whose parameters are named differently from the reference fails here before any number is compared.
// Then, as ModelParityTests (our float32 against the module run in float64, same tolerances, same reasons, a
// gradient mismatch retried with the reference's near-kink elements resolved the other way):
//   - eval-mode logits (running statistics) at batch 3 and batch 1;
//   - two training steps at batch 3: loss, arg-max hits, the gradient of every parameter (torch autograd) and
//     every running mean / variance after the step.
// The block's input gradient is the stem's: every test model starts with a bias-free 1x1 stem conv, so
// d loss / d stem.weight = sum over positions of (d loss / d block input) x (model input).
using Authoring.Models.Tests.Models;
using Authoring.Runtime;
using TorchSharp;
using static Authoring.Oracle.Tests.TorchOracle;
using TorchModule = TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>;

namespace Authoring.Oracle.Tests;

public class BlockParityTests
{
    const double Tol = 1e-4;      // as ModelParityTests: 25x the worst round-off observed there
    const double LossTol = 1e-5;

    [Fact]
    public void GhostModuleOddSlice() => Check(new GhostModuleOdd(),
        TorchFrame.Net(2, 4, 5, 3, ("g1", new TorchGhostModule(4, 5, kernel_size: 3))));

    [Fact]
    public void GhostModuleRatio3StrideNoRelu() => Check(new GhostModuleRatio3(),
        TorchFrame.Net(2, 4, 7, 3, ("g1", new TorchGhostModule(4, 7, ratio: 3, dw_size: 5, stride: 2, relu: false))));

    [Fact]
    public void GhostModuleDfcAttention() => Check(new GhostModuleAttention(),
        TorchFrame.Net(2, 4, 5, 3, ("g1", new TorchGhostModule(4, 5, kernel_size: 3, attn: true))));

    [Fact]
    public void GhostBottleneckDfcAttention() => Check(new GhostBottleneckAttention(),
        TorchFrame.Net(2, 4, 5, 3, ("b", new TorchGhostBottleneck(4, 6, 5, stride: 2, attn: true))));

    [Fact]
    public void GhostBottleneckStrideSqueezeExciteConvShortcut() => Check(new GhostBottleneckSe(),
        TorchFrame.Net(2, 4, 5, 3, ("b", new TorchGhostBottleneck(4, 6, 5, stride: 2, se_ratio: 0.5))));

    [Fact]
    public void GhostBottleneckIdentityShortcut() => Check(new GhostBottleneckIdentity(),
        TorchFrame.Net(2, 4, 4, 3, ("b", new TorchGhostBottleneck(4, 7, 4))));

    [Fact]
    public void RepVggBlocks() => Check(new RepVgg(),
        TorchFrame.Net(2, 4, 6, 3, ("r1", new TorchRepVggBlock(4, 4)), ("r2", new TorchRepVggBlock(4, 6, stride: 2, groups: 2))));

    [Fact]
    public void MobileOneDepthwisePointwise() => Check(new MobileOne(),
        TorchFrame.Net(2, 4, 4, 3,
            ("dw", new TorchMobileOneBlock(4, 4, 3, padding: 1, groups: 4, num_conv_branches: 2)),
            ("pw", new TorchMobileOneBlock(4, 4, 1, num_conv_branches: 2))));

    [Fact]
    public void MobileOneStridedGrouped() => Check(new MobileOneStrided(),
        TorchFrame.Net(2, 4, 6, 3, ("m", new TorchMobileOneBlock(4, 6, 3, stride: 2, padding: 1, groups: 2, num_conv_branches: 3))));

    [Fact]
    public void RepGhostModules() => Check(new RepGhost(),
        TorchFrame.Net(2, 4, 4, 3, ("m1", new TorchRepGhostModule(4, 5)), ("m2", new TorchRepGhostModule(5, 4, kernel_size: 3, stride: 2, relu: false))));

    // ---- The check ----------------------------------------------------------------------------

    /// <summary>Our store's values into the torch module, by name; the names must be exactly the module's
    /// state_dict minus num_batches_tracked (a counter our BatchNorm does not need: momentum is fixed).</summary>
    static void CopyByName(ParameterStore store, TorchModule net)
    {
        var tensors = net.state_dict().Where(kv => !kv.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        var ours = store.Infos.Select(i => i.Name).ToList();
        Assert.True(tensors.Keys.Order(StringComparer.Ordinal).SequenceEqual(ours.Order(StringComparer.Ordinal)),
            $"state_dict names differ.\nonly torch: {string.Join(", ", tensors.Keys.Except(ours))}\nonly ours: {string.Join(", ", ours.Except(tensors.Keys))}");
        using var scope = Scope();
        using var noGrad = torch.no_grad();
        foreach (var info in store.Infos)
        {
            var target = tensors[info.Name];
            Assert.Equal(info.Shape.Select(d => (long)d), target.shape);
            target.copy_(Constant(store.Value(info.Name).ToArray(), target.shape));
        }
    }

    static long[] InputShape(IModel model, int n) => new long[] { n }.Concat(model.InputShape.Select(d => (long)d)).ToArray();

    static void Check<T>(T model, TorchModule net) where T : IModel
    {
        EnsureInitialized();
        using var _ = net;
        var store = model.Parameters;
        ModelParityTests.Randomize(store, 11);
        CopyByName(store, net);
        net.to(torch.float64);   // after the copy: float32 to float64 is exact
        const int n = 3;
        var x = Random(n * model.InputSize, 12);

        net.eval();
        foreach (int b in new[] { n, 1 })
        {
            using var scope = Scope();
            var ours = new float[b * model.OutputSize];
            model.Infer(x.AsSpan(0, b * model.InputSize), b, ours);
            var logits = net.forward(ModelParityTests.Input(x[..(b * model.InputSize)], InputShape(model, b)));
            ModelParityTests.AssertClose(ours, ToArray(logits), Tol, $"eval logits (batch {b})");
        }

        // Two training steps without an optimizer: only the running statistics change in between.
        net.train();
        var named = net.named_parameters().ToList();
        var buffers = net.named_buffers().Where(b => !b.name.EndsWith(".num_batches_tracked", StringComparison.Ordinal)).ToList();
        Assert.Equal(store.Infos.Count(i => i.Trainable), named.Count);
        Assert.Equal(store.Infos.Count(i => !i.Trainable), buffers.Count);
        for (int step = 1; step <= 2; step++)
        {
            var xs = step == 1 ? x : Random(n * model.InputSize, 12 + step);
            var labels = Enumerable.Range(0, n).Select(i => (i * 7 + step) % model.OutputSize).ToArray();
            using var stepScope = Scope();
            var statsBefore = buffers.Select(b => b.buffer.detach().clone()).ToList();

            // The reference step, with the near-kink elements in flip resolved the other way (none at first).
            // A rerun restores the running statistics first: the forward updates them in place, to the same values
            // whichever way a kink is resolved.
            (float Loss, float[] Logits, float[][] Grads, IReadOnlyList<Kink> Kinks) Reference(IReadOnlyList<Kink>? flip)
            {
                using var scope = Scope();
                if (flip is not null)
                {
                    using var noGrad = torch.no_grad();
                    for (int i = 0; i < buffers.Count; i++) buffers[i].buffer.copy_(statsBefore[i]);
                }
                using var watch = KinkPoints.Watch(flip);
                var logits = net.forward(ModelParityTests.Input(xs, InputShape(model, n)));
                var loss = CrossEntropy(logits, labels);
                var grads = Gradients(loss, named.Select(p => (torch.Tensor)p.parameter).ToArray());
                return (Scalar(loss), ToArray(logits), grads, watch.Found.ToList());
            }

            var reference = Reference(null);
            var result = model.TrainStep(xs, labels, n);

            Assert.True(Math.Abs(result.Loss - reference.Loss) <= LossTol * Math.Max(1, Math.Abs(reference.Loss)),
                $"step {step}: loss {result.Loss:R}, torch {reference.Loss:R}");
            var l = reference.Logits;
            int correct = Enumerable.Range(0, n).Count(i =>
                Enumerable.Range(0, model.OutputSize).MaxBy(c => l[i * model.OutputSize + c]) == labels[i]);
            Assert.Equal(correct, result.Correct);

            KinkPoints.AssertSomeResolution(reference, reference.Kinks, Reference, r =>
            {
                for (int k = 0; k < named.Count; k++)
                {
                    string? mismatch = ModelParityTests.Mismatch(store.Grad(store.IndexOf(named[k].name)), r.Grads[k], Tol, $"step {step}: d loss / d {named[k].name}");
                    if (mismatch is not null) return mismatch;
                }
                return null;
            });
            foreach (var (name, buffer) in buffers)
                ModelParityTests.AssertClose(store.Value(name), ToArray(buffer), Tol, $"step {step}: {name}");
        }
    }
}
