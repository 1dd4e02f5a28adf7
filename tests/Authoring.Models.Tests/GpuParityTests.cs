// The ILGPU backend (on ILGPU's CPU accelerator here, CUDA when present) against the CPU SIMD backend:
// same generated plan, same parameters, same dropout masks; outputs, loss, gradients and running
// statistics must agree.
using Authoring.Gpu;
using Authoring.Models.Tests.Models;
using Authoring.Runtime;

namespace Authoring.Models.Tests;

public sealed class GpuDeviceFixture : IDisposable
{
    public GpuDevice Device { get; } = new();

    public void Dispose() => Device.Dispose();
}

[CollectionDefinition("gpu")]
public sealed class GpuCollection : ICollectionFixture<GpuDeviceFixture>;

[Collection("gpu")]
public class GpuParityTests(GpuDeviceFixture fixture)
{
    // Both backends compute in float32 but sum in different orders (blocked GEMM vs one thread per
    // output; two-level partial sums for reductions), so results differ by round-off: a few ulps of
    // the largest term times sqrt(terms). 1e-4 of the tensor's scale is ~100x that and still catches
    // any indexing or fusion error, which produces O(1) differences.
    const float Tol = 1e-4f;

    [Fact] public void ConvRelu() => Check(new ConvRelu(), p => new ConvRelu.Gpu(fixture.Device, p));
    [Fact] public void GroupedDilated() => Check(new GroupedDilated(), p => new GroupedDilated.Gpu(fixture.Device, p));
    [Fact] public void DepthwiseBn() => Check(new DepthwiseBn(), p => new DepthwiseBn.Gpu(fixture.Device, p));
    [Fact] public void PoolNorm1d() => Check(new PoolNorm1d(), p => new PoolNorm1d.Gpu(fixture.Device, p));
    [Fact] public void SqueezeExcite() => Check(new SqueezeExcite(), p => new SqueezeExcite.Gpu(fixture.Device, p));
    [Fact] public void Ghost() => Check(new Ghost(), p => new Ghost.Gpu(fixture.Device, p));
    [Fact] public void ConcatCopies() => Check(new ConcatCopies(), p => new ConcatCopies.Gpu(fixture.Device, p));
    [Fact] public void Mlp() => Check(new Mlp(), p => new Mlp.Gpu(fixture.Device, p));
    [Fact] public void RepVggDeploy() => Check(new RepVggDsl().ToDeploy(), p => new RepVggDslDeploy.Gpu(fixture.Device, p));
    [Fact] public void MobileOneDeploy() => Check(new MobileOneDsl().ToDeploy(), p => new MobileOneDslDeploy.Gpu(fixture.Device, p));
    [Fact] public void FoldEdgesDeploy() => Check(new FoldEdges().ToDeploy(), p => new FoldEdgesDeploy.Gpu(fixture.Device, p));
    [Fact] public void DfcAttention() => Check(new DfcAttention(), p => new DfcAttention.Gpu(fixture.Device, p));
    [Fact] public void Resize() => Check(new Resize(), p => new Resize.Gpu(fixture.Device, p));
    [Fact] public void ResizeRounding() => Check(new ResizeRounding(), p => new ResizeRounding.Gpu(fixture.Device, p));
    // The CPU plan fuses BatchNorm statistics and prologues into training convs; the ILGPU plan does not.
    [Fact] public void FusedChain() => Check(new FusedChain(), p => new FusedChain.Gpu(fixture.Device, p));
    [Fact] public void FusedBranches() => Check(new FusedBranches(), p => new FusedBranches.Gpu(fixture.Device, p));

    // Any rank, new element-wise ops, broadcasting (Models/RankModels.cs).
    [Fact] public void TimeConv() => Check(new TimeConv(), p => new TimeConv.Gpu(fixture.Device, p));
    [Fact] public void TokenMlp() => Check(new TokenMlp(), p => new TokenMlp.Gpu(fixture.Device, p));
    [Fact] public void SmoothActs() => Check(new SmoothActs(), p => new SmoothActs.Gpu(fixture.Device, p));
    [Fact] public void OuterBroadcast() => Check(new OuterBroadcast(), p => new OuterBroadcast.Gpu(fixture.Device, p));
    [Fact] public void SlicedTime() => Check(new SlicedTime(), p => new SlicedTime.Gpu(fixture.Device, p));
    [Fact] public void SdpaBlock() => Check(new SdpaBlock(), p => new SdpaBlock.Gpu(fixture.Device, p));
    [Fact] public void SdpaCausalShared() => Check(new SdpaCausalShared(), p => new SdpaCausalShared.Gpu(fixture.Device, p));
    [Fact] public void LinearEluBlock() => Check(new LinearEluBlock(), p => new LinearEluBlock.Gpu(fixture.Device, p));
    [Fact] public void LinearReluCausal() => Check(new LinearReluCausal(), p => new LinearReluCausal.Gpu(fixture.Device, p));
    [Fact] public void TransformerBlocks() => Check(new TransformerBlocks(), p => new TransformerBlocks.Gpu(fixture.Device, p));
    // PRepBN at lambda = 1/2 (iter 2 of 4), so every branch and alpha get gradients; the counters are compared after the step.
    [Fact]
    public void PRepBNBlock() => Check(new PRepBNBlock(), p => new PRepBNBlock.Gpu(fixture.Device, p), store =>
    {
        foreach (var info in store.Infos)
            if (info.Name.EndsWith(".iter", StringComparison.Ordinal)) store.Value(store.IndexOf(info.Name))[0] = 2f;
    });
    [Fact] public void PRepBNDeploy() => Check(new PRepBNBlock().ToDeploy(), p => new PRepBNBlockDeploy.Gpu(fixture.Device, p));
    [Fact] public void SlabBlock() => Check(new SlabBlock(), p => new SlabBlock.Gpu(fixture.Device, p));
    [Fact] public void LinearEluCausalShared() => Check(new LinearEluCausalShared(), p => new LinearEluCausalShared.Gpu(fixture.Device, p));

    // Tensor ops of token and attention models (Models/TensorOpModels.cs).
    [Fact] public void LayerNormTokens() => Check(new LayerNormTokens(), p => new LayerNormTokens.Gpu(fixture.Device, p));
    [Fact] public void SoftmaxRows() => Check(new SoftmaxRows(), p => new SoftmaxRows.Gpu(fixture.Device, p));
    [Fact] public void MatMulVariants() => Check(new MatMulVariants(), p => new MatMulVariants.Gpu(fixture.Device, p));
    [Fact] public void AxisOps() => Check(new AxisOps(), p => new AxisOps.Gpu(fixture.Device, p));
    [Fact] public void RankReshape() => Check(new RankReshape(), p => new RankReshape.Gpu(fixture.Device, p));
    [Fact] public void TinyTransformer() => Check(new TinyTransformer(), p => new TinyTransformer.Gpu(fixture.Device, p));

    // Binary layers (Models/BinaryModels.cs): sign estimators, RSign, RPReLU, binarised weights in the state array. A
    // sign whose input differs by round-off between the backends could flip (an O(1) change); the signs here read
    // O(1) values, and none lies within round-off of 0 or of its clip for these parameters.
    [Fact] public void BiRealBlock() => Check(new BiRealBlock(), p => new BiRealBlock.Gpu(fixture.Device, p));
    [Fact] public void BinaryMlp() => Check(new BinaryMlp(), p => new BinaryMlp.Gpu(fixture.Device, p));

    // Composite blocks (Models/BlockModels.cs).
    [Fact] public void GhostModuleOdd() => Check(new GhostModuleOdd(), p => new GhostModuleOdd.Gpu(fixture.Device, p));
    [Fact] public void GhostModuleRatio3() => Check(new GhostModuleRatio3(), p => new GhostModuleRatio3.Gpu(fixture.Device, p));
    [Fact] public void GhostModuleAttention() => Check(new GhostModuleAttention(), p => new GhostModuleAttention.Gpu(fixture.Device, p));
    [Fact] public void GhostBottleneckAttention() => Check(new GhostBottleneckAttention(), p => new GhostBottleneckAttention.Gpu(fixture.Device, p));
    [Fact] public void GhostBottleneckSe() => Check(new GhostBottleneckSe(), p => new GhostBottleneckSe.Gpu(fixture.Device, p));
    [Fact] public void GhostBottleneckIdentity() => Check(new GhostBottleneckIdentity(), p => new GhostBottleneckIdentity.Gpu(fixture.Device, p));
    [Fact] public void RepVgg() => Check(new RepVgg(), p => new RepVgg.Gpu(fixture.Device, p));
    [Fact] public void MobileOne() => Check(new MobileOne(), p => new MobileOne.Gpu(fixture.Device, p));
    [Fact] public void MobileOneStrided() => Check(new MobileOneStrided(), p => new MobileOneStrided.Gpu(fixture.Device, p));
    [Fact] public void RepGhost() => Check(new RepGhost(), p => new RepGhost.Gpu(fixture.Device, p));

    // Declared losses and token input (Models/LossModels.cs).
    [Fact] public void MseRegression() => CheckLoss(new Regressor(), p => new Regressor.Gpu(fixture.Device, p));
    [Fact] public void L1Regression() => CheckLoss(new L1Regressor(), p => new L1Regressor.Gpu(fixture.Device, p));
    [Fact] public void BceMultiLabel() => CheckLoss(new MultiLabel(), p => new MultiLabel.Gpu(fixture.Device, p));
    [Fact] public void SmoothedCrossEntropy() => CheckLoss(new SmoothedClassifier(), p => new SmoothedClassifier.Gpu(fixture.Device, p));
    [Fact] public void TokenLanguageModel() => CheckLoss(new TinyLm(), p => new TinyLm.Gpu(fixture.Device, p));

    static void CheckLoss<TCpu, TGpu>(TCpu cpu, Func<ParameterStore, TGpu> makeGpu) where TCpu : IModel where TGpu : IModel, IDisposable
    {
        GradientTests.Randomize(cpu.Parameters, 41);
        using var gpu = makeGpu(Copy(cpu.Parameters));
        const int n = 3;
        var batch = LossTests.Batch(cpu, n, 42);
        var a = new float[n * cpu.OutputSize];
        var b = new float[n * cpu.OutputSize];
        LossTests.Infer(cpu, batch, n, a);
        LossTests.Infer(gpu, batch, n, b);
        Close(b, a, "eval output");
        var rc = LossTests.Train(cpu, batch, n);
        var rg = LossTests.Train(gpu, batch, n);
        Assert.Equal((rc.Correct, rc.Total), (rg.Correct, rg.Total));
        Assert.True(Math.Abs(rc.Loss - rg.Loss) <= 1e-5f * Math.Max(1, rc.Loss), $"loss cpu {rc.Loss} gpu {rg.Loss}");
        for (int t = 0; t < cpu.Parameters.Infos.Count; t++)
            if (cpu.Parameters.Infos[t].Trainable) Close(gpu.Parameters.Grad(t), cpu.Parameters.Grad(t), "grad " + cpu.Parameters.Infos[t].Name);
    }

    static ParameterStore Copy(ParameterStore s)
    {
        var c = new ParameterStore(s.Infos);
        c.CopyFrom(s);
        return c;
    }

    static void Close(ReadOnlySpan<float> gpu, ReadOnlySpan<float> cpu, string what, float floor = 1e-3f)
    {
        float scale = floor;
        foreach (float v in cpu) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < cpu.Length; i++)
            Assert.True(Math.Abs(gpu[i] - cpu[i]) <= Tol * scale, $"{what}[{i}]: gpu {gpu[i]:R} cpu {cpu[i]:R} (scale {scale})");
    }

    static void Check<TCpu, TGpu>(TCpu cpu, Func<ParameterStore, TGpu> makeGpu, Action<ParameterStore>? adjust = null) where TCpu : IModel where TGpu : IModel, IDisposable
    {
        GradientTests.Randomize(cpu.Parameters, 21);
        adjust?.Invoke(cpu.Parameters);
        using var gpu = makeGpu(Copy(cpu.Parameters));
        const int n = 3;
        var x = GradientTests.RandomInput(n * cpu.InputSize, 22);
        var labels = Enumerable.Range(0, n).Select(i => (i * 5 + 2) % cpu.OutputSize).ToArray();

        var a = new float[n * cpu.OutputSize];
        var b = new float[n * cpu.OutputSize];
        cpu.Infer(x, n, a);
        gpu.Infer(x, n, b);
        Close(b, a, "eval logits");

        var rc = cpu.TrainStep(x, labels, n);
        var rg = gpu.TrainStep(x, labels, n);
        Assert.Equal(rc.Correct, rg.Correct);
        Assert.True(Math.Abs(rc.Loss - rg.Loss) <= 1e-5f * Math.Max(1, rc.Loss), $"loss cpu {rc.Loss} gpu {rg.Loss}");
        // A gradient that is zero in exact arithmetic (a bias followed by BatchNorm, which removes constant
        // shifts) comes out as the round-off of cancelling terms, whose size follows the model's gradient
        // scale, not its own (measured: 2e-6 of the largest gradient): such tensors are compared against 10%
        // of the largest gradient, i.e. an absolute error of 1e-5 of it.
        float floor = Math.Max(1e-3f, 0.1f * cpu.Parameters.Grads.Max(Math.Abs));
        for (int t = 0; t < cpu.Parameters.Infos.Count; t++)
        {
            var info = cpu.Parameters.Infos[t];
            if (info.Trainable) Close(gpu.Parameters.Grad(t), cpu.Parameters.Grad(t), "grad " + info.Name, floor);
            else Close(gpu.Parameters.Value(t), cpu.Parameters.Value(t), info.Name);
        }
    }
}
