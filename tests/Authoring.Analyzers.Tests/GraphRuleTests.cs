// Rules over the dataflow graph: MDL0004, MDL0005, MDL0006, MDL0007, MDL0009, MDL0010, MDL0011,
// MDL0013, MDL0014, MDL0016, MDL0020: positive, negative and profile-dependent cases and exact fixes.
using Authoring.Analyzers.CodeFixes;

namespace Authoring.Analyzers.Tests;

public class GraphRuleTests
{
    const string U = Refs.Usings;

    // ---- MDL0004 fragmented block (threshold 4 on CPU, 3 on GPU) ----

    const string ThreeBranches = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d a = new(3, 8, kernel: 1);
            readonly Conv2d b = new(3, 8, kernel: 3, padding: 1);
            readonly AvgPool2d p = new(3, stride: 1, padding: 1);
            readonly Linear fc = new(19, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor X) => fc.Forward(GlobalAvgPool(Concat(A, b.Forward(x), p.Forward(x))));
        }
        """;

    [Fact]
    public Task MDL0004_Negative_ThreeBranchesOnCpu() =>
        Verify.Analyzer(ThreeBranches.Replace("Tensor X", "Tensor x").Replace("(A,", "(a.Forward(x),"), Verify.Avx2);

    [Fact]
    public Task MDL0004_Profile_ThreeBranchesOnGpu() =>
        Verify.Analyzer(ThreeBranches.Replace("Tensor X", "Tensor {|MDL0004:x|}").Replace("(A,", "({|MDL0014:a.Forward(x)|},"), Verify.Gpu);

    [Fact]
    public Task MDL0004_FourBranchesOnCpu() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d a = new(3, 8, kernel: 1);
            readonly Conv2d b = new(3, 8, kernel: 3, padding: 1);
            readonly Conv2d c = new(3, 8, kernel: 3, padding: 1);
            readonly MaxPool2d p = new(3, stride: 1, padding: 1);
            readonly Linear fc = new(27, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor {|MDL0004:x|}) => fc.Forward(GlobalAvgPool(Concat(a.Forward(x), b.Forward(x), c.Forward(x), p.Forward(x))));
        }
        """, Verify.Avx2);

    // ---- MDL0005 multi-branch block at deploy (and MDL0007/MDL0004 stay quiet on its BatchNorms) ----

    const string RepVgg = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d k3 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d bn3 = new(8);
            readonly Conv2d k1 = new(8, 8, kernel: 1, bias: false);
            readonly BatchNorm2d bn1 = new(8);
            readonly BatchNorm2d bnId = new(8);
            readonly Linear fc = new(8, 10);

            Tensor Forward([Shape(8, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(SUM)));
        }
        """;

    const string Sum = "bn3.Forward(k3.Forward(x)) + bn1.Forward(k1.Forward(x)) + bnId.Forward(x)";

    [Fact]
    public Task MDL0005_FlaggedInDeployBuild() =>
        Verify.Analyzer(RepVgg.Replace("SUM", "{|MDL0005:" + Sum + "|}"), deploy: true);

    [Fact]
    public Task MDL0005_Negative_TrainingBuild() => Verify.Analyzer(RepVgg.Replace("SUM", Sum));

    [Fact]
    public Task MDL0005_Negative_ResidualIsNotFoldable() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d c1 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b1 = new(8);
            readonly Conv2d c2 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b2 = new(8);
            readonly Linear fc = new(8, 10);

            Tensor Forward([Shape(8, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(b2.Forward(c2.Forward(Relu(b1.Forward(c1.Forward(x))))) + x)));
        }
        """, deploy: true);

    // ---- MDL0006 concat for feature reuse ----

    [Fact]
    public Task MDL0006_GhostConcat() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d primary = new(16, 16, kernel: 1, bias: false);
            readonly BatchNorm2d bn1 = new(16);
            readonly DepthwiseConv2d cheap = new(16, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d bn2 = new(16);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x)
            {
                var a = Relu(bn1.Forward(primary.Forward(x)));
                var b = Relu(bn2.Forward(cheap.Forward(a)));
                return fc.Forward(GlobalAvgPool({|MDL0006:Concat(a, b)|}));
            }
        }
        """);

    [Fact]
    public Task MDL0006_Negative_IndependentBranches() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d a = new(16, 16, kernel: 1);
            readonly Conv2d b = new(16, 16, kernel: 3, padding: 1);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Concat(a.Forward(x), b.Forward(x))));
        }
        """);

    // ---- MDL0007 BatchNorm not foldable ----

    [Fact]
    public Task MDL0007_FixMovesBatchNormBeforeTheActivation() => Verify.Fix<MoveBatchNormCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool({|MDL0007:bn.Forward(Relu(conv.Forward(x)))|}));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
        }
        """);

    [Fact]
    public Task MDL0007_BatchNormOnTheInputHasNoFix() => Verify.Fix<MoveBatchNormCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly BatchNorm2d bn = new(16);
            readonly Conv2d conv = new(16, 16, kernel: 3, padding: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward({|MDL0007:bn.Forward(x)|}))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly BatchNorm2d bn = new(16);
            readonly Conv2d conv = new(16, 16, kernel: 3, padding: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward({|MDL0007:bn.Forward(x)|}))));
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0007_Negative_BinaryConvAndLinearHostTheirBatchNorms() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly RSign rs = new(64);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly BinaryLinear lin = new(64, 64);
            readonly BatchNorm1d bn1 = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(64, 8, 8)] Tensor x) =>
                fc.Forward(bn1.Forward(lin.Forward(Sign(GlobalAvgPool(Add(bn.Forward({|MDL0019:conv.Forward(rs.Forward(x))|}), x))))));
        }
        """);

    [Fact]
    public Task MDL0007_Negative_PRepBNFoldsForwardIntoTheNextLinear() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Linear embed = new(3, 8);
            readonly TransformerBlock b = new(8, 2, norm: "prepbn", warmSteps: 10, totalSteps: 100);
            readonly Linear fc = new(8, 3);

            Tensor Forward([Shape(5, 3)] Tensor x) => fc.Forward(Mean(b.Forward(embed.Forward(x)), 0));
        }
        """);

    [Fact]
    public Task MDL0007_BinaryConvUsedTwice() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(64, 8, 8)] Tensor x)
            {
                var y = {|MDL0019:{|MDL0023:conv.Forward(Sign(x))|}|};
                return fc.Forward(GlobalAvgPool(Add({|MDL0007:bn.Forward(y)|}, y)));
            }
        }
        """);

    // ---- MDL0024 binary layer the deploy pass cannot pack ----

    [Fact]
    public Task MDL0024_BinaryConvOverTimeSteps() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(64, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(4, 64, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                var y = Add(bn.Forward({|MDL0024:conv.Forward(Sign(h))|}), h);
                return fc.Forward(MeanOverTime(GlobalAvgPool(y)));
            }
        }
        """);

    [Fact]
    public Task MDL0024_QuietWhenPacked() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(64, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(64, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(bn.Forward(conv.Forward(Sign(h))), h)));
            }
        }
        """);

    // ---- MDL0018 binary layer misaligned with the packed words ----

    [Fact]
    public Task MDL0018_InputChannelsNotAWord() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly BinaryConv2d conv = new({|MDL0018:48|}, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(48, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(bn.Forward({|MDL0019:{|MDL0023:conv.Forward(Sign(x))|}|})));
        }
        """);

    [Fact]
    public Task MDL0018_OutputFeaturesNotABlock() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly BinaryLinear lin = new(64, outFeatures: {|MDL0018:40|});
            readonly Linear fc = new(40, 10);

            Tensor Forward([Shape(64)] Tensor x) => fc.Forward({|MDL0019:lin.Forward(Sign(x))|});
        }
        """);

    // ---- MDL0019 binarised first or last layer ----

    [Fact]
    public Task MDL0019_FirstLayerBinary() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(64, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool({|MDL0019:{|MDL0023:conv.Forward(Sign(x))|}|}));
        }
        """);

    [Fact]
    public Task MDL0019_LastLayerBinary() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Linear fc = new(64, 64);
            readonly BinaryLinear lin = new(64, 16);

            Tensor Forward([Shape(64)] Tensor x) => {|MDL0019:lin.Forward(Sign(fc.Forward(x)))|};
        }
        """);

    [Fact]
    public Task MDL0019_Negative_RealStemAndHead() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly RSign rs = new(64);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(bn.Forward(conv.Forward(rs.Forward(h))), h)));
            }
        }
        """);

    // ---- MDL0020 non-negative activation into a sign binarizer ----

    [Fact]
    public Task MDL0020_FixBinarisesThePreActivation() => Verify.Fix<DropActivationBeforeSignCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(bn.Forward(conv.Forward({|MDL0020:Sign(Relu(h))|})), h)));
            }
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(bn.Forward(conv.Forward(Sign(h))), h)));
            }
        }
        """);

    [Fact]
    public Task MDL0020_HardSigmoidThroughPoolingHasNoFix() => Verify.Fix<DropActivationBeforeSignCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryLinear lin = new(64, 64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = HardSigmoid(stem.Forward(x));
                return fc.Forward(Add(lin.Forward({|MDL0020:Sign(GlobalAvgPool(h))|}), GlobalAvgPool(h)));
            }
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryLinear lin = new(64, 64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = HardSigmoid(stem.Forward(x));
                return fc.Forward(Add(lin.Forward({|MDL0020:Sign(GlobalAvgPool(h))|}), GlobalAvgPool(h)));
            }
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0020_ReluWrittenApartHasNoFix() => Verify.Fix<DropActivationBeforeSignCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = Relu6(stem.Forward(x));
                return fc.Forward(GlobalAvgPool(Add(conv.Forward({|MDL0020:Sign(h)|}), h)));
            }
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = Relu6(stem.Forward(x));
                return fc.Forward(GlobalAvgPool(Add(conv.Forward({|MDL0020:Sign(h)|}), h)));
            }
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0020_Negative_ShiftedOrSignedInputs() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly RSign rs = new(64);
            readonly BinaryConv2d a = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bnA = new(64);
            readonly BinaryConv2d b = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bnB = new(64);
            readonly BinaryConv2d c = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bnC = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = Relu(stem.Forward(x));
                h = Add(bnA.Forward(a.Forward(rs.Forward(h))), h);
                h = Add(bnB.Forward(b.Forward(Sign(HardSwish(h)))), h);
                h = Add(bnC.Forward(c.Forward(Sign(h))), h);
                return fc.Forward(GlobalAvgPool(h));
            }
        }
        """);

    // ---- MDL0023 binary conv without scaling or shortcut ----

    [Fact]
    public Task MDL0023_FixScalesAnUnscaledConv() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1, scaled: {|MDL0023:false|});
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(conv.Forward(Sign(h)), h)));
            }
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1, scaled: true);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x)
            {
                var h = stem.Forward(x);
                return fc.Forward(GlobalAvgPool(Add(conv.Forward(Sign(h)), h)));
            }
        }
        """);

    [Fact]
    public Task MDL0023_NoShortcut() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(1, 64, kernel: 3, padding: 1);
            readonly BinaryConv2d conv = new(64, 64, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(64);
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(1, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(bn.Forward({|MDL0023:conv.Forward(Sign(stem.Forward(x)))|})));
        }
        """);

    [Fact]
    public Task MDL0007_Negative_ConvBnRelu() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
        }
        """);

    // ---- MDL0009 unfused element-wise chain ----

    const string Chain = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(8, 8, kernel: 3, padding: 1);
            readonly Linear fc = new(8, 10);

            Tensor Forward([Shape(8, 8, 8)] Tensor x)
            {
                var y = CHAIN;
                return fc.Forward(GlobalAvgPool(conv.Forward(y)));
            }
        }
        """;

    [Fact]
    public Task MDL0009_ThreeOpsOnTheInput() => Verify.Analyzer(Chain.Replace("CHAIN", "{|MDL0009:Relu(Add(Mul(x, x), x))|}"));

    [Fact]
    public Task MDL0009_Negative_TwoOps() => Verify.Analyzer(Chain.Replace("CHAIN", "Relu(Add(x, x))"));

    [Fact]
    public Task MDL0009_Negative_AfterAConvolution() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(8, 8, kernel: 3, padding: 1);
            readonly Linear fc = new(8, 10);

            Tensor Forward([Shape(8, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(Add(Mul(conv.Forward(x), x), x))));
        }
        """);

    [Fact]
    public Task MDL0009_ScalarArithmeticAndDivCount() => Verify.Analyzer(Chain.Replace("CHAIN", "{|MDL0009:Relu(Div(x * 0.5f - 1f, x))|}"));

    [Fact]
    public async Task MDL0009_NamesScalarOpsByTheirConstant()
    {
        var d = Assert.Single(Harness.Analyze(Harness.Compile(Chain.Replace("CHAIN", "Relu(2f - Sub(x, x) / 4f)"))));
        Assert.Equal("MDL0009", d.Id);
        Assert.StartsWith("4 consecutive element-wise ops (Sub, x / 4, 2 - x, Relu)", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        await Task.CompletedTask;
    }

    [Fact]
    public Task MDL0009_Negative_TwoScalarOps() => Verify.Analyzer(Chain.Replace("CHAIN", "Relu(x * 0.5f)"));

    // ---- MDL0010 costly activation (CPU profiles only) ----

    const string Gate = U + """
        [Model]
        public partial class M
        {
            readonly Linear fc1 = new(16, 16);
            readonly Linear fc2 = new(16, 10);

            Tensor Forward([Shape(16)] Tensor x) => fc2.Forward(ACT);
        }
        """;

    [Fact]
    public Task MDL0010_FixUsesHardSigmoid() => Verify.Fix<RenameActivationCodeFixProvider>(
        Gate.Replace("ACT", "{|MDL0010:Sigmoid(fc1.Forward(x))|}"), Gate.Replace("ACT", "HardSigmoid(fc1.Forward(x))"));

    [Fact]
    public Task MDL0010_FixKeepsQualifiedName() => Verify.Fix<RenameActivationCodeFixProvider>(
        Gate.Replace("ACT", "{|MDL0010:Ops.Sigmoid(fc1.Forward(x))|}"), Gate.Replace("ACT", "Ops.HardSigmoid(fc1.Forward(x))"));

    [Fact]
    public Task MDL0010_TanhHasNoFix() => Verify.Fix<RenameActivationCodeFixProvider>(
        Gate.Replace("ACT", "{|MDL0010:Tanh(fc1.Forward(x))|}"), Gate.Replace("ACT", "{|MDL0010:Tanh(fc1.Forward(x))|}"), iterations: 0);

    [Fact]
    public Task MDL0010_FixUsesHardSwishForSilu() => Verify.Fix<RenameActivationCodeFixProvider>(
        Gate.Replace("ACT", "{|MDL0010:Silu(fc1.Forward(x))|}"), Gate.Replace("ACT", "HardSwish(fc1.Forward(x))"));

    [Theory]
    [InlineData("Gelu(fc1.Forward(x))")]
    [InlineData("Gelu(fc1.Forward(x), \"tanh\")")]
    [InlineData("Elu(fc1.Forward(x), 0.5f)")]
    [InlineData("Exp(fc1.Forward(x))")]
    public Task MDL0010_SmoothActivationsHaveNoFix(string act) => Verify.Fix<RenameActivationCodeFixProvider>(
        Gate.Replace("ACT", "{|MDL0010:" + act + "|}"), Gate.Replace("ACT", "{|MDL0010:" + act + "|}"), iterations: 0);

    [Fact]
    public Task MDL0010_Profile_SmoothActivationsNotFlaggedOnGpu() =>
        Verify.Analyzer(Gate.Replace("ACT", "Silu(Gelu(Elu(Exp(fc1.Forward(x)))))"), Verify.Gpu);

    [Fact]
    public Task MDL0010_Negative_HardSigmoid() => Verify.Analyzer(Gate.Replace("ACT", "HardSigmoid(fc1.Forward(x))"));

    [Fact]
    public Task MDL0010_Profile_NotFlaggedOnGpu() => Verify.Analyzer(Gate.Replace("ACT", "Sigmoid(fc1.Forward(x))"), Verify.Gpu);

    // ---- MDL0011 SE gate early ----

    const string Se = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly Linear squeeze = new(16, 8);
            readonly Linear excite = new(8, 16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 32, 32)] Tensor x)
            {
                var f = POOL(Relu(conv.Forward(x)));
                var gate = Reshape(HardSigmoid(excite.Forward(Relu(squeeze.Forward(GlobalAvgPool(f))))), 16, 1, 1);
                return fc.Forward(GlobalAvgPool(MUL));
            }
        }
        """;

    [Fact]
    public Task MDL0011_SeAtFullResolution() => Verify.Analyzer(Se.Replace("POOL", "").Replace("MUL", "{|MDL0011:Mul(f, gate)|}"));

    [Fact]
    public Task MDL0011_Negative_SeAfterFourfoldDownsampling() => Verify.Analyzer(Se.Replace("POOL", "MaxPool").Replace("(Relu(conv.Forward(x)))", "(Relu(conv.Forward(x)), 4)").Replace("MUL", "Mul(f, gate)"));

    // ---- MDL0013 reshape chain ----

    const string Reshapes = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(8, 16, kernel: 3, stride: 2, padding: 1);
            readonly Linear fc = new(256, 10);

            Tensor Forward([Shape(8, 8, 8)] Tensor x)
            {
                var h = conv.Forward(x);
                return fc.Forward(Relu(CHAIN));
            }
        }
        """;

    [Fact]
    public Task MDL0013_FixMergesFlattenOfReshape() => Verify.Fix<CollapseReshapeChainCodeFixProvider>(
        Reshapes.Replace("CHAIN", "{|MDL0013:Flatten(Reshape(h, 16, 16, 1))|}"), Reshapes.Replace("CHAIN", "Flatten(h)"));

    [Fact]
    public Task MDL0013_FixRemovesAnInversePair() => Verify.Fix<CollapseReshapeChainCodeFixProvider>(
        Reshapes.Replace("Relu(CHAIN)", "Flatten(Relu({|MDL0013:Reshape(Reshape(h, 256), 16, 4, 4)|}))"),
        Reshapes.Replace("Relu(CHAIN)", "Flatten(Relu(h))"));

    [Fact]
    public Task MDL0013_Negative_OneReshape() => Verify.Analyzer(Reshapes.Replace("CHAIN", "Flatten(h)"));

    // ---- MDL0014 layout (gpu only) and MDL0016 capability table (gpu only) ----

    const string Pool = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(POOL));
        }
        """;

    [Fact]
    public Task MDL0014_MDL0016_FlaggedOnGpu() =>
        Verify.Analyzer(Pool.Replace("POOL", "{|MDL0016:MaxPool(Relu({|MDL0014:conv.Forward(x)|}), 3, 2, 1)|}"), Verify.Gpu);

    [Fact]
    public Task MDL0014_MDL0016_Negative_OnCpu() =>
        Verify.Analyzer(Pool.Replace("POOL", "MaxPool(Relu(conv.Forward(x)), 3, 2, 1)"), Verify.Avx512);

    [Fact]
    public Task MDL0016_Negative_UnpaddedPoolOnGpu() =>
        Verify.Analyzer(Pool.Replace("POOL", "MaxPool(Relu({|MDL0014:conv.Forward(x)|}), 2)"), Verify.Gpu);
}
