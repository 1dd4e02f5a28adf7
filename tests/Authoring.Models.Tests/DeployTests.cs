// Structural re-parameterization: for random weights and random BatchNorm statistics, every deploy model
// computes what its training model computes in evaluation mode, and the fold removed what it should.
using Authoring.Models.Tests.Models;
using Authoring.Runtime;

namespace Authoring.Models.Tests;

public class DeployTests
{
    // The fold runs in double and rounds each merged weight once; both graphs then run in float32 with
    // different summation orders (one merged 3x3 kernel against three branch kernels plus BN scaling),
    // so they differ by round-off: a few ulps of the output scale. 1e-5 of the scale (~80 ulps) is
    // what the issue demands, and a wrong placement or BN formula gives O(1e-1) differences.
    const double Tol = 1e-5;

    [Fact] public void RepVggWrittenInTheDsl() => Check(new RepVggDsl(), m => m.ToDeploy());
    [Fact] public void MobileOneWrittenInTheDsl() => Check(new MobileOneDsl(), m => m.ToDeploy());
    [Fact] public void RepGhostWrittenInTheDsl() => Check(new RepGhostDsl(), m => m.ToDeploy());

    // The library blocks (Dsl/Blocks.cs), as the parser expands them.
    [Fact] public void GhostModuleBlock() => Check(new GhostModuleOdd(), m => m.ToDeploy());
    [Fact] public void GhostModuleRatio3Block() => Check(new GhostModuleRatio3(), m => m.ToDeploy());
    [Fact] public void GhostModuleAttentionBlock() => Check(new GhostModuleAttention(), m => m.ToDeploy());
    [Fact] public void GhostBottleneckAttentionBlock() => Check(new GhostBottleneckAttention(), m => m.ToDeploy());
    [Fact] public void GhostBottleneckSeBlock() => Check(new GhostBottleneckSe(), m => m.ToDeploy());
    [Fact] public void GhostBottleneckIdentityBlock() => Check(new GhostBottleneckIdentity(), m => m.ToDeploy());
    [Fact] public void RepVggBlock() => Check(new RepVgg(), m => m.ToDeploy());
    [Fact] public void MobileOneBlock() => Check(new MobileOne(), m => m.ToDeploy());
    [Fact] public void MobileOneStridedBlock() => Check(new MobileOneStrided(), m => m.ToDeploy());
    [Fact] public void RepGhostBlock() => Check(new RepGhost(), m => m.ToDeploy());
    [Fact] public void LoopOverABlockArray() => Check(new LoopNet(), m => m.ToDeploy());

    // The Fashion-MNIST samples, whole.
    [Fact] public void GhostNetSample() => Check(new GhostNetFashion.GhostNet(), m => m.ToDeploy());
    [Fact] public void RepVggSample() => Check(new RepVggFashion.RepVggNet(), m => m.ToDeploy());
    [Fact] public void FoldEdges() => Check(new FoldEdges(), m => m.ToDeploy());
    [Fact] public void Asymmetric() => Check(new AsymmetricDsl(), m => m.ToDeploy());
    [Fact] public void DfcAttention() => Check(new DfcAttention(), m => m.ToDeploy());
    [Fact] public void Mlp() => Check(new Mlp(), m => m.ToDeploy());
    [Fact] public void DepthwiseBn() => Check(new DepthwiseBn(), m => m.ToDeploy());
    [Fact] public void PoolNorm1d() => Check(new PoolNorm1d(), m => m.ToDeploy());
    [Fact] public void PRepBN() => Check(new PRepBNBlock(), m => m.ToDeploy());

    [Fact]
    public void PRepBNFoldsIntoQkvAndFc1()
    {
        // Evaluation-mode PRepBN is RepBN, a per-channel affine: it goes into the linear layer after it, so the deploy
        // model keeps no norm (no LayerNorm, BatchNorm or alpha) and no counter.
        Assert.Equal(new[] { "embed.weight", "embed.bias", "b.attn.qkv.weight", "b.attn.qkv.bias", "b.attn.proj.weight", "b.attn.proj.bias",
                "b.mlp.fc1.weight", "b.mlp.fc1.bias", "b.mlp.fc2.weight", "b.mlp.fc2.bias", "head.weight", "head.bias" },
            Names(PRepBNBlockDeploy.ParameterInfos));
        // The training model's tensors keep the reference's state_dict names.
        var names = Names(PRepBNBlock.ParameterInfos);
        foreach (var n in new[] { "b.norm1.norm1.weight", "b.norm1.norm1.bias", "b.norm1.norm2.alpha", "b.norm1.norm2.bn.weight", "b.norm1.norm2.bn.bias",
                     "b.norm1.norm2.bn.running_mean", "b.norm1.norm2.bn.running_var", "b.norm1.warm", "b.norm1.iter", "b.norm1.total_step", "b.norm2.norm2.alpha" })
            Assert.Contains(n, names);
    }

    [Fact]
    public void ModelsWithNothingToFoldGetNoDeployTwin()
    {
        // Plain convs with their own bias and no BatchNorm: the deploy graph would be the same graph.
        Assert.Null(typeof(ConvRelu).GetMethod("ToDeploy", Type.EmptyTypes));
        Assert.Null(typeof(SqueezeExcite).GetMethod("ToDeploy", Type.EmptyTypes));
        Assert.NotNull(typeof(Ghost).GetMethod("ToDeploy", Type.EmptyTypes));
    }
    [Fact] public void Ghost() => Check(new Ghost(), m => m.ToDeploy());
    [Fact] public void SmallCnnSample() => Check(new FashionCnn.SmallCnn(), m => m.ToDeploy());

    [Fact]
    public void RepVggBranchesBecomeOneConvPerBlock() =>
        Assert.Equal(new[] { "dense_reparam.weight", "dense_reparam.bias", "down_reparam.weight", "down_reparam.bias", "fc.weight", "fc.bias" },
            Names(RepVggDslDeploy.ParameterInfos));

    [Fact]
    public void MobileOneBranchesBecomeOneDepthwiseAndOnePointwiseConv()
    {
        Assert.Equal(new[] { "dwScale_reparam.weight", "dwScale_reparam.bias", "pw0_reparam.weight", "pw0_reparam.bias", "fc.weight", "fc.bias" },
            Names(MobileOneDslDeploy.ParameterInfos));
        Assert.Equal(new[] { 4, 1, 3, 3 }, MobileOneDslDeploy.ParameterInfos[0].Shape);
        Assert.Equal(new[] { 4, 4, 1, 1 }, MobileOneDslDeploy.ParameterInfos[2].Shape);
    }

    [Fact]
    public void RepGhostCheapBranchAndFusionBnBecomeOneDepthwiseConv() =>
        Assert.Equal(new[] { "primary.weight", "primary.bias", "cheap.weight", "cheap.bias", "fc.weight", "fc.bias" },
            Names(RepGhostDslDeploy.ParameterInfos));

    [Fact]
    public void AsymmetricBranchesBecomeOneSquareConv()
    {
        Assert.Equal(new[] { "square_reparam.weight", "square_reparam.bias", "fc.weight", "fc.bias" }, Names(AsymmetricDslDeploy.ParameterInfos));
        Assert.Equal(new[] { 4, 3, 3, 3 }, AsymmetricDslDeploy.ParameterInfos[0].Shape);
    }

    [Fact]
    public void LibraryRepVggBlocksBecomeOneConvEach() =>
        // r1 (4 -> 4) has all three branches, r2 (4 -> 6, stride 2, groups 2) the conv branches only.
        Assert.Equal(new[] { "stem.weight", "r1.reparam.weight", "r1.reparam.bias", "r2.reparam.weight", "r2.reparam.bias", "fc.weight", "fc.bias" },
            Names(RepVggDeploy.ParameterInfos));

    [Fact]
    public void LibraryMobileOneAndRepGhostFoldToTheirDeployShapes()
    {
        Assert.Equal(new[] { "stem.weight", "dw.reparam.weight", "dw.reparam.bias", "pw.reparam.weight", "pw.reparam.bias", "fc.weight", "fc.bias" },
            Names(MobileOneDeploy.ParameterInfos));
        Assert.Equal(new[] { 4, 1, 3, 3 }, MobileOneDeploy.ParameterInfos[1].Shape);
        // RepGhost: primary conv+BN, and cheap_operation + fusion_bn as one depthwise conv, per module.
        Assert.Equal(new[] { "stem.weight", "m1.primary_conv.0.weight", "m1.primary_conv.0.bias", "m1.cheap_operation.0.weight", "m1.cheap_operation.0.bias",
                "m2.primary_conv.0.weight", "m2.primary_conv.0.bias", "m2.cheap_operation.0.weight", "m2.cheap_operation.0.bias", "fc.weight", "fc.bias" },
            Names(RepGhostDeploy.ParameterInfos));
    }

    [Fact]
    public void EdgesFoldOnlyWhereTheGraphAllows() =>
        // a+aBn folds alone (read three times); b keeps its bias; sumBn, the raw identities and the
        // product stay; the dilated conv folds with its BN but not with the identity (dilation); fc1+fcBn fold.
        Assert.Equal(new[] { "a.weight", "a.bias", "b.weight", "b.bias", "sumBn.weight", "sumBn.bias", "sumBn.running_mean", "sumBn.running_var",
                "dilated.weight", "dilated.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" },
            Names(FoldEdgesDeploy.ParameterInfos));

    [Fact]
    public void ToDeployRejectsAStoreOfAnotherModel()
    {
        var other = new RepGhostDsl();
        Assert.Throws<ArgumentException>(() => RepVggDsl.ToDeploy(other.Parameters));
    }

    static string[] Names(IReadOnlyList<ParameterInfo> infos) => infos.Select(p => p.Name).ToArray();

    static void Check<TTrain, TDeploy>(TTrain model, Func<TTrain, TDeploy> toDeploy) where TTrain : IModel where TDeploy : IModel
    {
        for (int seed = 0; seed < 3; seed++)
        {
            GradientTests.Randomize(model.Parameters, 100 + seed);
            var deploy = toDeploy(model);
            Assert.Equal(model.InputSize, deploy.InputSize);
            Assert.Equal(model.OutputSize, deploy.OutputSize);
            const int n = 4;
            var x = GradientTests.RandomInput(n * model.InputSize, 200 + seed);
            var expected = new float[n * model.OutputSize];
            var actual = new float[n * model.OutputSize];
            model.Infer(x, n, expected);
            deploy.Infer(x, n, actual);
            double scale = expected.Max(v => Math.Abs((double)v));
            Assert.True(scale > 1e-3, "the outputs are too small to compare relatively");
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(actual[i] - expected[i]) <= Tol * scale,
                    $"{model.Name} seed {seed} output[{i}]: deploy {actual[i]:R} train-eval {expected[i]:R} (scale {scale:G4})");
        }
    }
}
