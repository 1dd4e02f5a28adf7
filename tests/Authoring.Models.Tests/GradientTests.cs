// Every op, forward and backward, through generated models: our float32 CPU SIMD code against the
// double-precision reference interpreter (forward) and double-precision central finite differences
// of that interpreter's loss (backward).
using Authoring.Models.Tests.Models;
using Authoring.Models.Tests.Oracle;
using Authoring.Runtime;

namespace Authoring.Models.Tests;

public class GradientTests
{
    // Tolerances. Our kernels run in float32 (unit round-off 6e-8) over sums of at most a few hundred
    // terms, so forward values carry relative errors near 1e-6; BatchNorm's backward subtracts batch means,
    // which can cancel and lose up to two more digits. 2e-4 of the tensor's largest magnitude keeps a
    // 10x margin over that, while any wrong index, missing term or sign error shows up as O(1) errors.
    const double ForwardTol = 1e-4;
    const double GradTol = 2e-4;
    // Central differences in double with step 1e-6: truncation O(h^2) ~ 1e-12 and round-off ~1e-10,
    // both far below the float32 error above.
    const double Step = 1e-6;

    [Fact] public void ConvRelu() => Check(new ConvRelu());
    [Fact] public void GroupedDilatedConvRelu6AvgPool() => Check(new GroupedDilated());
    [Fact] public void DepthwiseBatchNormHardSwishGlobalPool() => Check(new DepthwiseBn());
    [Fact] public void MaxPoolBatchNorm1dTanhHardSigmoid() => Check(new PoolNorm1d());
    [Fact] public void SqueezeExciteBroadcastMulAddSigmoid() => Check(new SqueezeExcite());
    [Fact] public void GhostConcatSlice() => Check(new Ghost());
    [Fact] public void ConcatCopiesDropoutHelperMethod() => Check(new ConcatCopies());
    [Fact] public void MlpBatchNorm1dFoldsIntoLinear() => Check(new Mlp());
    [Fact] public void DfcAttentionBandKernelsUpsampleToOddSize() => Check(new DfcAttention());
    [Fact] public void ResizeUpDownIntoConcatDenseBandKernel() => Check(new Resize());
    [Fact] public void ResizeWherePyTorchsFloatIndexDiffersFromExact() => Check(new ResizeRounding());
    // Training fusions: BatchNorm statistics in the conv epilogue, BatchNorm + activation as the next conv's prologue.
    [Fact] public void FusedConvBatchNormChainBiasGroupsStrideDilation() => Check(new FusedChain());
    [Fact] public void FusedConvBatchNormPoolAndTwoConsumers() => Check(new FusedBranches());

    // Any rank, new element-wise ops, broadcasting (Models/RankModels.cs).
    [Fact] public void TimeMajorConvPoolsLinearBatchNorm1dGelu() => Check(new TimeConv());
    [Fact] public void TokensLinearScalarArithmeticRowAndColumnBroadcast() => Check(new TokenMlp());
    [Fact] public void SmoothActivationsFusedAndInTrees() => Check(new SmoothActs());
    [Fact] public void OuterProductBroadcastAndTwoPlacementsOfOneValue() => Check(new OuterBroadcast());
    [Fact] public void TimeSliceIntoFoldingConvIsCopiedDense() => Check(new SlicedTime());

    // Tensor ops of token and attention models (Models/TensorOpModels.cs).
    [Fact] public void LayerNormAffineNoBiasPlainAnd4d() => Check(new LayerNormTokens());
    [Fact] public void SoftmaxLastAxis() => Check(new SoftmaxRows());
    [Fact] public void MatMulEveryTransposeAndSharedOperand() => Check(new MatMulVariants());
    [Fact] public void TransposeMeanSumConcatSliceOnInnerAxes() => Check(new AxisOps());
    [Fact] public void ReshapeThroughA4dValue() => Check(new RankReshape());
    [Fact] public void TinyTransformerBlock() => Check(new TinyTransformer());

    // Fused attention ops (Models/AttentionModels.cs).
    [Fact] public void SoftmaxAttentionSeparateProjections() => Check(new SdpaBlock());
    [Fact] public void SoftmaxAttentionCausalSharedQkvTwoBlocks() => Check(new SdpaCausalShared());
    [Fact] public void LinearAttentionEluSeparateProjections() => Check(new LinearEluBlock());
    [Fact] public void LinearAttentionReluCausalTwoChunks() => Check(new LinearReluCausal());
    [Fact] public void LinearAttentionEluCausalSharedQkv() => Check(new LinearEluCausalShared());
    [Fact] public void TransformerBlocksLinearAndCausalSoftmax() => Check(new TransformerBlocks());
    [Fact] public void SlabBlockDepthwiseConvOfValues() => Check(new SlabBlock());

    // SLAB's PRepBN mix at the three regimes of its schedule, set through the counters the step reads: warm-up
    // (lambda 1: the RepBN branch gets no gradient, alpha none), mid-way (lambda = 3/4, both branches) and the end
    // (lambda 0: RepBN alone, the LayerNorm branch gets none). The op is linear in its inputs and in alpha, so
    // central differences are exact up to round-off.
    [Theory]
    [InlineData(2f, 4f)]
    [InlineData(0f, 3f)]
    [InlineData(0f, 0f)]
    public void PRepBNMixWarmMidwayEnd(float warm, float iter) => Check(new PRepBNBlock(), store =>
    {
        store.Value("b.norm1.warm")[0] = store.Value("b.norm2.warm")[0] = warm;
        store.Value("b.norm1.iter")[0] = store.Value("b.norm2.iter")[0] = iter;
    });

    [Fact]
    public void TransformerBlockParametersHaveTimmNames()
    {
        var names = new TransformerBlocks().Parameters.Infos.Select(i => i.Name).ToArray();
        Assert.Equal(new[]
        {
            "embed.weight", "embed.bias",
            "b1.norm1.weight", "b1.norm1.bias", "b1.attn.qkv.weight", "b1.attn.qkv.bias", "b1.attn.proj.weight", "b1.attn.proj.bias",
            "b1.norm2.weight", "b1.norm2.bias", "b1.mlp.fc1.weight", "b1.mlp.fc1.bias", "b1.mlp.fc2.weight", "b1.mlp.fc2.bias",
            "b2.norm1.weight", "b2.norm1.bias", "b2.attn.qkv.weight", "b2.attn.proj.weight", "b2.attn.proj.bias",
            "b2.norm2.weight", "b2.norm2.bias", "b2.mlp.fc1.weight", "b2.mlp.fc1.bias", "b2.mlp.fc2.weight", "b2.mlp.fc2.bias",
            "head.weight", "head.bias",
        }, names);
        Assert.Contains("b.attn.dwc.weight", new SlabBlock().Parameters.Infos.Select(i => i.Name));
    }

    // Composite blocks (Models/BlockModels.cs).
    [Fact] public void GhostModuleOddSlice() => Check(new GhostModuleOdd());
    [Fact] public void GhostModuleRatio3StrideNoRelu() => Check(new GhostModuleRatio3());
    [Fact] public void GhostModuleDfcAttention() => Check(new GhostModuleAttention());
    [Fact] public void GhostBottleneckDfcAttention() => Check(new GhostBottleneckAttention());
    [Fact] public void GhostBottleneckStrideSqueezeExciteConvShortcut() => Check(new GhostBottleneckSe());
    [Fact] public void GhostBottleneckIdentityShortcut() => Check(new GhostBottleneckIdentity());
    [Fact] public void RepVggBlocks() => Check(new RepVgg());
    [Fact] public void MobileOneDepthwisePointwise() => Check(new MobileOne());
    [Fact] public void MobileOneStridedGrouped() => Check(new MobileOneStrided());
    [Fact] public void RepGhostModules() => Check(new RepGhost());

    // Repetition unrolled at compile time (Models/LoopModels.cs).
    [Fact] public void ForLoopOverLayerArraysWithALayerHelper() => Check(new LoopNet());

    internal static void Randomize(ParameterStore store, int seed)
    {
        store.Initialize(seed);
        var rng = new Random(seed + 1);
        for (int i = 0; i < store.Infos.Count; i++)
        {
            var v = store.Value(i);
            // Non-trivial BatchNorm state, so folding and eval-mode statistics are really exercised.
            switch (store.Infos[i].Role)
            {
                case ParameterRole.NormWeight: for (int j = 0; j < v.Length; j++) v[j] = 0.5f + (float)rng.NextDouble(); break;
                case ParameterRole.NormBias: for (int j = 0; j < v.Length; j++) v[j] = (float)rng.NextDouble() - 0.5f; break;
                case ParameterRole.RunningMean: for (int j = 0; j < v.Length; j++) v[j] = (float)rng.NextDouble() - 0.5f; break;
                case ParameterRole.RunningVar: for (int j = 0; j < v.Length; j++) v[j] = 0.5f + (float)rng.NextDouble(); break;
            }
        }
    }

    internal static float[] RandomInput(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    static Dictionary<string, double[]> AsDouble(ParameterStore s)
    {
        var d = new Dictionary<string, double[]>();
        for (int i = 0; i < s.Infos.Count; i++) d[s.Infos[i].Name] = s.Value(i).ToArray().Select(f => (double)f).ToArray();
        return d;
    }

    internal static void AssertClose(ReadOnlySpan<float> actual, double[] expected, double tol, string what)
    {
        double scale = Math.Max(1e-3, expected.Length == 0 ? 0 : expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            Assert.True(err <= tol * scale, $"{what}[{i}]: got {actual[i]:R}, expected {expected[i]:R} (|err| {err:E2} > {tol:E1} x scale {scale:E2})");
        }
    }

    static void Check<T>(T model, Action<ParameterStore>? adjust = null) where T : IModel
    {
        var oracle = new ReferenceInterpreter(ModelSources.Ir<T>());
        Randomize(model.Parameters, 11);
        adjust?.Invoke(model.Parameters);
        const int n = 3;
        var x = RandomInput(n * model.InputSize, 12);
        var xd = x.Select(f => (double)f).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => (i * 7 + 1) % model.OutputSize).ToArray();
        var p = AsDouble(model.Parameters);

        // Evaluation-mode forward, at two batch sizes sharing one arena.
        var logits = new float[n * model.OutputSize];
        model.Infer(x, n, logits);
        AssertClose(logits, oracle.Forward(xd, n, p, train: false), ForwardTol, "eval logits");
        var one = new float[model.OutputSize];
        model.Infer(x.AsSpan(0, model.InputSize), 1, one);
        AssertClose(one, oracle.Forward(xd.Take(model.InputSize).ToArray(), 1, p, train: false), ForwardTol, "eval logits (batch 1)");

        // Training step: loss, gradients of every trainable tensor, running statistics.
        var result = model.TrainStep(x, labels, n);
        double refLoss = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
        Assert.True(Math.Abs(result.Loss - refLoss) <= 1e-5 * Math.Max(1, Math.Abs(refLoss)), $"loss {result.Loss} vs {refLoss}");

        var store = model.Parameters;
        for (int t = 0; t < store.Infos.Count; t++)
        {
            var info = store.Infos[t];
            if (!info.Trainable) continue;
            var fd = new double[info.Length];
            var tensor = p[info.Name];
            for (int j = 0; j < tensor.Length; j++)
            {
                double keep = tensor[j];
                tensor[j] = keep + Step;
                double up = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
                tensor[j] = keep - Step;
                double down = ReferenceInterpreter.Loss(oracle.Forward(xd, n, p, train: true), n, model.OutputSize, labels);
                tensor[j] = keep;
                fd[j] = (up - down) / (2 * Step);
            }
            AssertClose(store.Grad(t), fd, GradTol, "d loss / d " + info.Name);
        }

        CheckRunningStats(oracle, model, xd, n, p);
    }

    static void CheckRunningStats<T>(ReferenceInterpreter oracle, T model, double[] xd, int n, Dictionary<string, double[]> before) where T : IModel
    {
        var values = oracle.All(xd, n, before, train: true);
        foreach (var bn in oracle.Ir.Nodes.Where(v => v.Op == Generators.Ops.OpKind.BatchNorm))
        {
            var (mean, var) = oracle.BatchStats(bn, values[bn.Inputs[0]], n);
            double m = bn.F1;
            int count = n * bn.Leading * bn.Spatial;
            var oldMean = before[bn.Layer + ".running_mean"];
            var oldVar = before[bn.Layer + ".running_var"];
            var expMean = mean.Select((v, c) => (1 - m) * oldMean[c] + m * v).ToArray();
            var expVar = var.Select((v, c) => (1 - m) * oldVar[c] + m * v * count / (count - 1)).ToArray();
            AssertClose(model.Parameters.Value(bn.Layer + ".running_mean"), expMean, ForwardTol, bn.Layer + ".running_mean");
            AssertClose(model.Parameters.Value(bn.Layer + ".running_var"), expVar, ForwardTol, bn.Layer + ".running_var");
        }
    }
}
