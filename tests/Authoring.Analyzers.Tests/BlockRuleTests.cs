// Composite blocks (GhostModule, GhostBottleneck, RepVggBlock, MobileOneBlock, RepGhostModule) expand into
// primitive graphs the rules then see. The rules must stay quiet about what the user did not write (the Ghost
// concat the generated code does not copy, GhostNetV2's sigmoid gate, whose rename fix would rewrite the
// block's call), and still report what the deploy build should change.
namespace Authoring.Analyzers.Tests;

public class BlockRuleTests
{
    /// <summary>Every block, aligned channels; {0}..{4} mark the re-parameterizable blocks' calls.</summary>
    const string Blocks = Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule g = new(16, 32, attention: true);
            readonly GhostBottleneck b = new(32, 48, 32, stride: 2, seRatio: 0.25f);
            readonly GhostBottleneck b2 = new(32, 64, 32);
            readonly RepVggBlock r = new(32, 32);
            readonly RepVggBlock r2 = new(32, 64, stride: 2);
            readonly MobileOneBlock dw = new(64, 64, kernel: 3, padding: 1, groups: 64, branches: 3);
            readonly MobileOneBlock pw = new(64, 64, kernel: 1, branches: 3);
            readonly RepGhostModule rg = new(64, 32);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 32, 32)] Tensor x)
            {
                var h = b2.Forward(b.Forward(g.Forward(x)));
                h = [4]r2.Forward([3]r.Forward(h)[/3])[/4];
                h = [1]pw.Forward([2]dw.Forward(h)[/2])[/1];
                return fc.Forward(GlobalAvgPool([0]rg.Forward(h)[/0]));
            }
        }
        """;

    static string Mark(Func<int, (string Open, string Close)> marker)
    {
        var s = Blocks;
        for (int i = 0; i < 5; i++)
        {
            var (open, close) = marker(i);
            s = s.Replace($"[{i}]", open).Replace($"[/{i}]", close);
        }
        return s;
    }

    static readonly string Plain = Mark(_ => ("", ""));

    [Fact]
    public Task NoDiagnosticsOnCpu() => Verify.Analyzer(Plain, Verify.Avx2);

    [Fact]
    public Task NoDiagnosticsOnAvx512() => Verify.Analyzer(Plain, Verify.Avx512);

    [Fact]
    public Task HandWrittenGhostConcatIsStillReported() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule g = new(16, 16);
            readonly Conv2d primary = new(16, 16, kernel: 1, bias: false);
            readonly BatchNorm2d bn1 = new(16);
            readonly DepthwiseConv2d cheap = new(16, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d bn2 = new(16);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x)
            {
                var a = Relu(bn1.Forward(primary.Forward(g.Forward(x))));
                var b = Relu(bn2.Forward(cheap.Forward(a)));
                return fc.Forward(GlobalAvgPool({|MDL0006:Concat(a, b)|}));
            }
        }
        """, Verify.Avx2);

    [Fact]
    public Task SigmoidWrittenAroundAnAttentionBlockIsStillReported() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule g = new(16, 16, attention: true);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool({|MDL0010:Sigmoid(g.Forward(x))|}));
        }
        """, Verify.Avx2);

    [Fact]
    public Task DeployBuildReportsEachReparameterizableBlock() =>
        // RepGhost: cheap BN + fusion BN; MobileOne pointwise: skip + 3 convs, depthwise: scale + skip + 3;
        // RepVGG: dense + 1x1 (+ identity when in == out and stride 1). The Ghost blocks have nothing to fold.
        Verify.Analyzer(Mark(i => ("{|MDL0005:", "|}")), Verify.Avx2, deploy: true);
}
