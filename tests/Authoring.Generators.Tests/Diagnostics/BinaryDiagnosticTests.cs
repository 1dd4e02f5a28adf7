// Binary layers misused: one located diagnostic each. A binary layer whose input is not a sign is AUT0016 at the call
// (naming what the input is); bad hyper-parameters are AUT0011 at the argument; shape problems AUT0008 at the call.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class BinaryDiagnosticTests
{
    static GeneratorRun Verify(string fields, string input, string body, int features) => DiagnosticAssert.Verify($$"""
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        [Model]
        public partial class Net
        {
            {{fields}}
            readonly Linear head = new({{features}}, 2);
            Tensor Forward([Shape({{input}})] Tensor x) => head.Forward(Flatten({{body}}));
        }
        """);

    static void Message(GeneratorRun run, string id, string expected) => Assert.Contains(expected, DiagnosticAssert.Message(run, id));

    [Fact]
    public void DeployPacksWhatItCanAndKeepsTheRestWithoutErrors()
    {
        // A binary conv over (T, C, H, W) values cannot be packed (MDL0024 says so, in the analyzers): the generator still
        // compiles the model and its deploy twin without a diagnostic, keeping that layer float binarised; the binary
        // linear layer after it is packed.
        var run = Verify("""
            readonly BinaryConv2d c = new(4, 4, kernel: 3, padding: 1);
                readonly BinaryLinear fc = new(256, 8, scaled: false, bias: true);
            """, "4, 4, 4, 4", "fc.Forward(Sign(Flatten(c.Forward(Sign(x)))))", 8);
        var code = string.Join("\n", run.Result.GeneratedSources.Select(g => g.SourceText.ToString()));
        Assert.Contains("class NetDeploy", code);
        Assert.Contains("BinaryDeployFold.Linear(256, 8, ", code);
        Assert.DoesNotContain("BinaryDeployFold.Conv(", code);
        Assert.Contains("BinaryWeightKernel.Forward(4, 36, P, ", code);
    }

    [Fact]
    public void ValidBinaryLayersHaveNoDiagnostics()
    {
        var run = Verify("""
            readonly RSign rs = new(4, SignEstimator.ApproxSign);
                readonly BinaryConv2d c = new(4, 4, kernel: 3, padding: 1, weightGradient: BinaryWeightGradient.Full);
                readonly BatchNorm2d bn = new(4);
                readonly RPReLU act = new(4);
                readonly BinaryLinear fc = new(64, 8, scaled: false, bias: true);
            """, "4, 4, 4", "fc.Forward(Sign(Flatten(act.Forward(Add(bn.Forward(c.Forward(rs.Forward(x))), x))), clip: 1.5f))", 8);
        // No diagnostics (Verify checks them) and the model's code binarises its weights and signs with the estimators asked for.
        var code = string.Join("\n", run.Result.GeneratedSources.Select(g => g.SourceText.ToString()));
        Assert.Contains("BinaryWeightKernel.Forward(4, 36, P, ", code);
        Assert.Contains("BinaryWeightKernel.Backward(4, 36, global::Authoring.Runtime.Cpu.WeightGradient.Full, 1f, ", code);
        Assert.Contains("BinaryActivationKernel.SignBackward<global::Authoring.Runtime.Cpu.ApproxSign>(", code);
        Assert.Contains("new global::Authoring.Runtime.Cpu.SteSign(1.5f)", code);
    }

    [Fact]
    public void BinaryConvOnRealInput()
    {
        var run = Verify("readonly BinaryConv2d c = new(4, 4, kernel: 3, padding: 1);", "4, 4, 4", "{|AUT0016:c.Forward(x)|}", 64);
        Message(run, "AUT0016", "c (BinaryConv2d) reads ±1 activations, but its input is the model's input: apply Ops.Sign or an RSign layer directly before it");
    }

    [Fact]
    public void BinaryConvAfterPoolingOfSigns()
    {
        var run = Verify("""
            readonly MaxPool2d pool = new(2);
                readonly BinaryConv2d c = new(4, 4, kernel: 1);
            """, "4, 4, 4", "{|AUT0016:c.Forward(pool.Forward(Sign(x)))|}", 16);
        Message(run, "AUT0016", "its input is the output of 'pool' (MaxPool)");
    }

    [Fact]
    public void BinaryLinearOnRealFeatures()
    {
        var run = Verify("readonly BinaryLinear fc = new(64, 8);", "4, 4, 4", "{|AUT0016:fc.Forward(Flatten(x))|}", 8);
        Message(run, "AUT0016", "fc (BinaryLinear) reads ±1 activations, but its input is a Reshape result");
    }

    [Fact]
    public void FullGradientWithoutScale()
    {
        var run = Verify("readonly BinaryConv2d c = new(4, 4, kernel: 3, scaled: false, {|AUT0011:weightGradient: BinaryWeightGradient.Full|});",
            "4, 4, 4", "c.Forward(Sign(x))", 16);
        Message(run, "AUT0011", "weightGradient Full differentiates the per-channel scale, which only a scaled layer has");
    }

    [Fact]
    public void SignClipNotPositive()
    {
        var run = Verify("", "4, 4, 4", "Sign(x, {|AUT0011:clip: 0f|})", 64);
        Message(run, "AUT0011", "Sign: clip must be positive and finite, got 0");
    }

    [Fact]
    public void RSignChannelsMismatch()
    {
        var run = Verify("readonly RSign rs = new(3);", "4, 4, 4", "{|AUT0008:rs.Forward(x)|}", 64);
        Message(run, "AUT0008", "rs (RSign): expects 3 channels, got 4");
    }

    [Fact]
    public void RPReluNonPositiveChannels()
    {
        var run = Verify("readonly RPReLU act = new({|AUT0011:0|});", "4, 4, 4", "act.Forward(x)", 64);
        Message(run, "AUT0011", "act (RPReLU): channels must be positive, got 0");
    }

    [Fact]
    public void BinaryConvWrongChannels()
    {
        var run = Verify("readonly BinaryConv2d c = new(8, 4, kernel: 1);", "4, 4, 4", "{|AUT0008:c.Forward(Sign(x))|}", 64);
        Message(run, "AUT0008", "c (BinaryConv2d): expects 8 input channels, got 4");
    }
}
