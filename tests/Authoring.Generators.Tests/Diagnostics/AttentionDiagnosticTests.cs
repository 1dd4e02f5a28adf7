// Misuse of the fused attention ops (ScaledDotProductAttention, LinearAttention): a wrong rank or mismatched q/k/v is a
// shape mismatch at the call, a head count that does not divide D (or leaves heads too large for the kernels) and an
// unknown feature map are invalid hyper-parameters at their argument; a non-constant head count is AUT0005.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class AttentionDiagnosticTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    static GeneratorRun Verify(string body) => DiagnosticAssert.Verify(Usings + body);

    [Fact]
    public void ValidSoftmaxAndLinearAttentionWithNamedArguments()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8)] Tensor x)
                {
                    var a = ScaledDotProductAttention(x, x, x, heads: 2, causal: true);
                    var b = LinearAttention(a, x, a, 4, causal: true, featureMap: "relu");
                    return head.Forward(Mean(b, 0));
                }
            }
            """);
        Assert.Equal(2, run.Result.GeneratedSources.Length); // the model and its ExportOnnx
    }

    [Fact]
    public void AUT0008_AttentionOverAVectorIsReportedAtTheCall()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x) => head.Forward({|AUT0008:LinearAttention(x, x, x, 2)|});
            }
            """);
        Assert.Contains("LinearAttention: expects per-sample (N, D) token matrices, got q of shape (8)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_KeysOfAnotherShapeAreReportedAtTheCall()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear k = new(8, 6);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8)] Tensor x) => head.Forward(Mean({|AUT0008:ScaledDotProductAttention(x, k.Forward(x), x, 2)|}, 0));
            }
            """);
        Assert.Contains("q, k and v must have the same (N, D) shape, got (4, 8), (4, 6) and (4, 8)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0011_HeadsThatDoNotDivideTheFeaturesPointAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8)] Tensor x) => head.Forward(Mean(ScaledDotProductAttention(x, x, x, {|AUT0011:heads: 3|}), 0));
            }
            """);
        Assert.Contains("ScaledDotProductAttention: heads must be positive and divide the feature size D = 8 of q, k and v, got 3",
            DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_ZeroHeadsAndAnUnknownFeatureMapPointAtTheirArguments()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8)] Tensor x)
                {
                    var a = LinearAttention(x, x, x, {|AUT0011:0|});
                    var b = LinearAttention(x, x, x, 2, {|AUT0011:"softmax"|});
                    return head.Forward(Mean(a + b, 0));
                }
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("heads must be positive and divide the feature size D = 8 of q, k and v, got 0"));
        Assert.Contains(messages, m => m.Contains("featureMap must be \"elu\" (elu(x) + 1) or \"relu\", got \"softmax\""));
    }

    [Fact]
    public void AUT0011_HeadsLargerThanTheKernelsTakePointAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(512, 2);
                Tensor Forward([Shape(4, 512)] Tensor x) => head.Forward(Mean(LinearAttention(x, x, x, {|AUT0011:1|}), 0));
            }
            """);
        Assert.Contains("a head of 512 features (D = 512 over 1 heads) exceeds the kernels' limit of 256", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0005_NonConstantHeadsPointAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                int h = 2;
                Tensor Forward([Shape(4, 8)] Tensor x) => head.Forward(Mean(LinearAttention(x, x, x, {|AUT0005:h|}), 0));
            }
            """);
        Assert.Contains("'heads'", DiagnosticAssert.Message(run, "AUT0005"));
    }

    [Theory]
    [InlineData("{|AUT0011:heads: 3|}", "a (TransformerBlock): heads (3) must divide dim (8)")]
    [InlineData("2, {|AUT0011:attention: \"flash\"|}", "attention must be \"linear\" or \"softmax\", got \"flash\"")]
    [InlineData("2, {|AUT0011:featureMap: \"tanh\"|}", "featureMap must be \"elu\" (elu(x) + 1) or \"relu\", got \"tanh\"")]
    [InlineData("2, {|AUT0011:mlpRatio: 0f|}", "mlpRatio (0) must give at least one hidden feature")]
    [InlineData("2, {|AUT0011:dwcKernel: 4|}", "dwcKernel (4) must be 0 (none) or odd")]
    [InlineData("2, causal: true, {|AUT0011:dwcKernel: 3|}", "dwcKernel (SLAB's depthwise conv of v) needs non-causal linear attention")]
    [InlineData("2, {|AUT0011:norm: \"batchnorm\"|}", "norm must be \"layernorm\" or \"prepbn\" (SLAB's progressive re-parameterized BatchNorm), got \"batchnorm\"")]
    [InlineData("2, norm: \"prepbn\", {|AUT0011:warmSteps: -1|}", "warmSteps (-1) must be 0 or positive")]
    [InlineData("2, norm: \"prepbn\", {|AUT0011:totalSteps: 0|}", "totalSteps (0) must be at least 1: lambda = iter / totalSteps")]
    [InlineData("2, norm: \"prepbn\", {|AUT0011:totalSteps: 20000000|}", "warmSteps and totalSteps must be at most 16777216 (counted exactly in float)")]
    public void AUT0011_TransformerBlockHyperParametersPointAtTheirArguments(string args, string message)
    {
        var run = Verify($$"""
            [Model]
            public partial class Net
            {
                readonly TransformerBlock a = new(8, {{args}});
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(9, 8)] Tensor x) => head.Forward(Mean(a.Forward(x), 0));
            }
            """);
        Assert.Contains(message, DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0008_TransformerBlockOnTheWrongFeaturesOrANonSquareGridIsReportedAtTheCall()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly TransformerBlock a = new(16, 2);
                readonly TransformerBlock b = new(8, 2, dwcKernel: 3);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(6, 8)] Tensor x) => head.Forward(Mean({|AUT0008:a.Forward(x)|} + {|AUT0008:b.Forward(x)|}, 0));
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("a (TransformerBlock): expects (N, 16) tokens, got (6, 8)"));
        Assert.Contains(messages, m => m.Contains("b (TransformerBlock): dwcKernel needs a square grid of tokens, got N = 6"));
    }
}
