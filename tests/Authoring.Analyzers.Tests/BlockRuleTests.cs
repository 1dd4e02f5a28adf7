// Composite blocks (GhostModule, GhostBottleneck, RepVggBlock, MobileOneBlock, RepGhostModule) expand into
// primitive graphs the rules then see. The rules must stay quiet about what the user did not write (the Ghost
// concat the generated code does not copy, GhostNetV2's sigmoid gate, whose rename fix would rewrite the
// block's call), and still report what the deploy build should change.
namespace Authoring.Analyzers.Tests;

public class BlockRuleTests
{
    /// <summary>Every block, channels aligned for both CPU profiles inside the blocks too (the bottleneck's SE reduces
    /// 64 to 16); {0}..{4} mark the re-parameterizable blocks' calls.</summary>
    const string Blocks = Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule g = new(16, 32, attention: true);
            readonly GhostBottleneck b = new(32, 64, 32, stride: 2, seRatio: 0.25f);
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

    // ---- rules that apply inside blocks: reported at the block's new(...), naming the sub-layer, once ----

    [Fact]
    public Task MDL0001_GhostModuleWhoseOutputsSplit9And18() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule g = {|MDL0001:new(16, 27, ratio: 3)|};
            readonly Linear fc = new(27, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(g.Forward(x)));
        }
        """, Verify.Avx2);

    [Fact]
    public async Task MDL0001_InsideABlockNamesTheSubLayer()
    {
        var diagnostics = Harness.Analyze(Harness.Compile(Refs.Usings + """
            [Model]
            public partial class M
            {
                readonly GhostModule g = new(16, 27, ratio: 3);
                readonly Linear fc = new(27, 10);

                Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(g.Forward(x)));
            }
            """));
        // One report for the block: its primary (9) and cheap (18) convolutions share the block's declaration.
        var d = Assert.Single(diagnostics);
        Assert.Equal("'g.primary_conv.0' produces 9 channels, not a multiple of 8 (cpu-avx2): kernels pad to the vector width and waste lanes; use 16",
            d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(d.AdditionalLocations);
        await Task.CompletedTask;
    }

    [Fact]
    public Task MDL0001_TheSameModuleByHandIsReportedAtEachConvolution() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d primary = new(16, {|MDL0001:9|}, kernel: 1, bias: false);
            readonly BatchNorm2d bn1 = new(9);
            readonly Conv2d cheap = new(9, {|MDL0001:18|}, kernel: 3, padding: 1, groups: 9, bias: false);
            readonly BatchNorm2d bn2 = new(18);
            readonly Linear fc = new(27, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x)
            {
                var a = Relu(bn1.Forward(primary.Forward(x)));
                var b = Relu(bn2.Forward(cheap.Forward(a)));
                return fc.Forward(GlobalAvgPool({|MDL0006:Concat(a, b)|}));
            }
        }
        """, Verify.Avx2);

    [Fact]
    public Task MDL0002_NotInsideABlock() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            // ghost2's primary conv maps 64 to 8 channels: the Ghost design, not reported; the same conv by hand is.
            readonly GhostBottleneck b = new(16, 64, 16);
            readonly Conv2d narrow = {|MDL0002:new(16, 64, kernel: 1)|};
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(narrow.Forward(b.Forward(x))));
        }
        """, Verify.Avx2);

    [Fact]
    public Task MDL0001_BottleneckOf24ChannelHalvesOnAvx512() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostBottleneck b = {|MDL0001:new(32, 48, 32)|};
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(32, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(b.Forward(x)));
        }
        """, Verify.Avx512);

    [Fact]
    public Task MDL0003_GroupedRepVggBranches() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly RepVggBlock r = {|MDL0003:new(32, 32, groups: 8)|};
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(32, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(r.Forward(x)));
        }
        """, Verify.Avx2);

    [Fact]
    public Task MDL0012_BottleneckWithA7x7DepthwiseConv() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostBottleneck b = {|MDL0012:new(16, 32, 16, dwKernel: 7, stride: 2)|};
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 16, 16)] Tensor x) => fc.Forward(GlobalAvgPool(b.Forward(x)));
        }
        """, Verify.Avx2);

    [Fact]
    public Task MDL0015_MobileOneWithA5x5DenseKernel() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(3, 16, kernel: 3, padding: 1);
            readonly MobileOneBlock m = {|MDL0015:new(16, 16, kernel: 5, padding: 2)|};
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(m.Forward(stem.Forward(x))));
        }
        """, Verify.Avx2);

    [Fact]
    public Task BlocksInAnArrayAreReportedAtTheirElement() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly GhostModule[] stage = [new(16, 16), {|MDL0001:new(16, 27, ratio: 3)|}, new(27, 16)];
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x)
            {
                foreach (var g in stage) x = g.Forward(x);
                return fc.Forward(GlobalAvgPool(x));
            }
        }
        """, Verify.Avx2);

    [Fact]
    public Task MDL0001_FixRewritesArrayElementsAppliedInALoop() => Verify.Fix<Authoring.Analyzers.CodeFixes.ReplaceArgumentsCodeFixProvider>(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d[] convs = [new(3, {|MDL0001:12|}, kernel: 3, padding: 1), new(12, 16, kernel: 1)];
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x)
            {
                for (int i = 0; i < convs.Length; i++) x = Relu(convs[i].Forward(x));
                return fc.Forward(GlobalAvgPool(x));
            }
        }
        """, Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d[] convs = [new(3, 16, kernel: 3, padding: 1), new(16, 16, kernel: 1)];
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x)
            {
                for (int i = 0; i < convs.Length; i++) x = Relu(convs[i].Forward(x));
                return fc.Forward(GlobalAvgPool(x));
            }
        }
        """, Verify.Avx2);
}
