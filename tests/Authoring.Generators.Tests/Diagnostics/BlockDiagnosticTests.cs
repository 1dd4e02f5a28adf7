// Composite blocks with bad hyper-parameters or bad inputs: one located diagnostic each, in the block's own
// terms (its parameter names), never an exception or a message about a sub-layer the user did not write.
// A problem with one argument points at it (as for the primitive layers), one that involves several at the
// field's name, and input problems at the call.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class BlockDiagnosticTests
{
    static GeneratorRun Verify(string fields, string input, string body, int channels) => DiagnosticAssert.Verify($$"""
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        [Model]
        public partial class Net
        {
            {{fields}}
            readonly Linear head = new({{channels}}, 2);
            Tensor Forward([Shape({{input}})] Tensor x) => head.Forward(GlobalAvgPool({{body}}));
        }
        """);

    static void Message(GeneratorRun run, string id, string expected) => Assert.Contains(expected, DiagnosticAssert.Message(run, id));

    [Fact]
    public void ValidBlocksHaveNoDiagnostics()
    {
        var run = Verify("""
            readonly GhostModule g = new(4, 6);
                readonly GhostBottleneck b = new(6, 12, 8, stride: 2, seRatio: 0.25f, attention: true);
                readonly RepVggBlock r = new(8, 8);
                readonly MobileOneBlock dw = new(8, 8, kernel: 3, padding: 1, groups: 8, branches: 3);
                readonly MobileOneBlock pw = new(8, 8, kernel: 1);
                readonly RepGhostModule rg = new(8, 4);
            """, "4, 8, 8", "rg.Forward(pw.Forward(dw.Forward(r.Forward(b.Forward(g.Forward(x))))))", 4);
        // The model, its deploy twin, ToDeploy and ExportOnnx: code is emitted, so the blocks were accepted.
        Assert.Equal(4, run.Result.GeneratedSources.Length);
    }

    [Fact]
    public void GhostModuleRatioBelowTwo()
    {
        var run = Verify("readonly GhostModule g = new(4, 6, {|AUT0011:ratio: 1|});", "4, 8, 8", "g.Forward(x)", 6);
        Message(run, "AUT0011", "g (GhostModule): ratio (1) must be at least 2");
    }

    [Fact]
    public void GhostModuleEvenDwSize()
    {
        var run = Verify("readonly GhostModule g = new(4, 6, {|AUT0011:dwSize: 4|});", "4, 8, 8", "g.Forward(x)", 6);
        Message(run, "AUT0011", "dwSize (4) must be odd");
    }

    [Fact]
    public void GhostModuleNonPositiveChannels()
    {
        var run = Verify("readonly GhostModule g = new(4, {|AUT0011:0|});", "4, 8, 8", "g.Forward(x)", 6);
        Message(run, "AUT0011", "outChannels (0) must be positive");
    }

    [Fact]
    public void GhostModuleInputChannelMismatchPointsAtTheCall()
    {
        var run = Verify("readonly GhostModule g = new(3, 6);", "4, 8, 8", "{|AUT0008:g.Forward(x)|}", 6);
        Message(run, "AUT0008", "g (GhostModule): expects 3 input channels, got 4");
    }

    [Fact]
    public void BlockOnAFeatureVector()
    {
        var run = DiagnosticAssert.Verify("""
            using Authoring;
            using static Authoring.Ops;

            namespace Test;

            [Model]
            public partial class Net
            {
                readonly RepVggBlock r = new(4, 4);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|AUT0008:r.Forward(x)|});
            }
            """);
        Message(run, "AUT0008", "r (RepVggBlock): expects a (C, H, W) input, got (4)");
    }

    [Fact]
    public void GhostAttentionNeedsRoomForItsPool()
    {
        // DFC attention pools 2x2 first: a 1x1 map is too small, which is this input's problem.
        var run = Verify("readonly GhostModule g = new(4, 6, attention: true);", "4, 1, 1", "{|AUT0008:g.Forward(x)|}", 6);
        Message(run, "AUT0008", "g (GhostModule): window 2x2 is larger than the padded input (4, 1, 1)");
    }

    [Fact]
    public void BlockAppliedTwice()
    {
        Verify("readonly GhostModule g = new(4, 4);", "4, 8, 8", "{|AUT0013:g.Forward(g.Forward(x))|}", 4);
    }

    [Fact]
    public void NonConstantBlockArgument()
    {
        var run = Verify("""
            static readonly int Mid = 8;
                readonly GhostBottleneck b = new(4, {|AUT0005:Mid|}, 4);
            """, "4, 8, 8", "b.Forward(x)", 4);
        Message(run, "AUT0005", "'midChannels'");
    }

    [Fact]
    public void GhostBottleneckNegativeSeRatio()
    {
        var run = Verify("readonly GhostBottleneck b = new(4, 8, 4, {|AUT0011:seRatio: -0.25f|});", "4, 8, 8", "b.Forward(x)", 4);
        Message(run, "AUT0011", "seRatio (-0.25) must be 0 (no squeeze-excite) or positive");
    }

    [Fact]
    public void GhostBottleneckEvenKernelShortcutChangesTheSize()
    {
        // Stride 1 with in != out: the shortcut's depthwise conv (padding (4 - 1) / 2 = 1) shrinks 8x8 to 7x7.
        var run = Verify("readonly GhostBottleneck {|AUT0011:b|} = new(4, 8, 6, dwKernel: 4);", "4, 8, 8", "b.Forward(x)", 6);
        Message(run, "AUT0011", "with an even dwKernel (4) the shortcut's depthwise conv changes the size");
    }

    [Fact]
    public void RepVggGroupsMustDivideChannels()
    {
        var run = Verify("readonly RepVggBlock {|AUT0011:r|} = new(4, 6, groups: 4);", "4, 8, 8", "r.Forward(x)", 6);
        Message(run, "AUT0011", "r (RepVggBlock): groups (4) must divide both input (4) and output (6) channels");
    }

    [Fact]
    public void RepVggStrideMustBePositive()
    {
        var run = Verify("readonly RepVggBlock r = new(4, 4, {|AUT0011:stride: 0|});", "4, 8, 8", "r.Forward(x)", 4);
        Message(run, "AUT0011", "stride must be positive, got 0");
    }

    [Fact]
    public void MobileOnePaddingThatBreaksTheBranchSum()
    {
        var run = Verify("readonly MobileOneBlock {|AUT0011:m|} = new(4, 4, kernel: 3, padding: 0);", "4, 8, 8", "m.Forward(x)", 4);
        Message(run, "AUT0011", "padding must be (kernel - 1) / 2 = 1");
    }

    [Fact]
    public void MobileOneNeedsABranch()
    {
        var run = Verify("readonly MobileOneBlock m = new(4, 4, kernel: 3, padding: 1, {|AUT0011:branches: 0|});", "4, 8, 8", "m.Forward(x)", 4);
        Message(run, "AUT0011", "branches (0) must be at least 1");
    }

    [Fact]
    public void MobileOneKernelLargerThanItsInputPointsAtTheCall()
    {
        // A shape problem of this input, not of the hyper-parameters: reported at the call, naming the branch.
        var run = Verify("readonly MobileOneBlock m = new(4, 8, kernel: 5);", "4, 3, 3", "{|AUT0008:m.Forward(x)|}", 8);
        Message(run, "AUT0008", "m.rbr_conv.0.conv (Conv2d): kernel 5x5 (dilation 1) is larger than the padded input (4, 3, 3)");
    }

    [Fact]
    public void RepGhostEvenDwSize()
    {
        var run = Verify("readonly RepGhostModule m = new(4, 4, {|AUT0011:dwSize: 2|});", "4, 8, 8", "m.Forward(x)", 4);
        Message(run, "AUT0011", "m (RepGhostModule): dwSize (2) must be odd");
    }
}
