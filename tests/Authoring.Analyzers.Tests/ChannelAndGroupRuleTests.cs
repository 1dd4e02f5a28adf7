// MDL0001 (channel alignment), MDL0002 (1x1 widths), MDL0003 (groups), MDL0012 (large depthwise
// kernel), MDL0015 (non-3x3 dense kernel): positive, negative, profile-dependent cases and exact fixes.
using Authoring.Analyzers.CodeFixes;

namespace Authoring.Analyzers.Tests;

public class ChannelAndGroupRuleTests
{
    const string U = Refs.Usings;

    [Fact]
    public Task MDL0001_FixRoundsUpEveryDependentLiteral() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, {|MDL0001:12|}, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(12);
            readonly DepthwiseConv2d dw = new(12, kernel: 3, padding: 1);
            readonly Conv2d pw = new(12, 16, kernel: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(pw.Forward(dw.Forward(Relu(bn.Forward(conv.Forward(x))))))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(16);
            readonly DepthwiseConv2d dw = new(16, kernel: 3, padding: 1);
            readonly Conv2d pw = new(16, 16, kernel: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(pw.Forward(dw.Forward(Relu(bn.Forward(conv.Forward(x))))))));
        }
        """);

    [Fact]
    public Task MDL0001_FixFollowsTheWidthThroughUpsampling() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, {|MDL0001:12|}, kernel: 3, padding: 1);
            readonly DepthwiseConv2d band = new(12, kernel: 1, kernelWidth: 5, paddingWidth: 2);
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(band.Forward(UpsampleNearest(Relu(conv.Forward(x)), 16, 16))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly DepthwiseConv2d band = new(16, kernel: 1, kernelWidth: 5, paddingWidth: 2);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(band.Forward(UpsampleNearest(Relu(conv.Forward(x)), 16, 16))));
        }
        """);

    [Fact]
    public Task MDL0001_HiddenLinearFlaggedButNotTheClassCount() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Linear fc1 = new(16, {|MDL0001:100|});
            readonly Linear fc2 = new(100, 10);

            Tensor Forward([Shape(16)] Tensor x) => fc2.Forward(Relu(fc1.Forward(x)));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Linear fc1 = new(16, 104);
            readonly Linear fc2 = new(104, 10);

            Tensor Forward([Shape(16)] Tensor x) => fc2.Forward(Relu(fc1.Forward(x)));
        }
        """);

    [Fact]
    public Task MDL0001_FixChangesAPrivateConstUsedOnlyForThisWidth() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            const int C = 12;
            readonly Conv2d conv = new(3, {|MDL0001:C|}, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(C);
            readonly Linear fc = new(C, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            const int C = 16;
            readonly Conv2d conv = new(3, C, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(C);
            readonly Linear fc = new(C, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
        }
        """);

    [Fact]
    public Task MDL0001_NoFixWhenTheConstIsUsedElsewhere() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            const int C = 12;
            readonly Conv2d conv = new(C, {|MDL0001:C|}, kernel: 3, padding: 1);
            readonly Linear fc = new(C, 10);

            Tensor Forward([Shape(C, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            const int C = 12;
            readonly Conv2d conv = new(C, {|MDL0001:C|}, kernel: 3, padding: 1);
            readonly Linear fc = new(C, 10);

            Tensor Forward([Shape(C, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """, iterations: 0);

    const string Width24 = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, WIDTH, kernel: 3, padding: 1);
            readonly Linear fc = new(24, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """;

    [Fact]
    public Task MDL0001_Negative_24IsAlignedOnAvx2() => Verify.Analyzer(Width24.Replace("WIDTH", "24"), Verify.Avx2);

    [Fact]
    public Task MDL0001_Profile_24IsNotAlignedOnAvx512() => Verify.Analyzer(Width24.Replace("WIDTH", "{|MDL0001:24|}"), Verify.Avx512);

    [Fact]
    public Task MDL0001_DefaultProfileIsAvx2() => Verify.Analyzer(Width24.Replace("WIDTH", "24"));

    [Fact]
    public Task MDL0001_MsBuildPropertyChoosesProfile() =>
        Verify.Analyzer(Width24.Replace("WIDTH", "{|MDL0001:24|}"), globalConfig: "build_property.AuthoringTargetProfile = cpu-avx512");

    [Fact]
    public Task MDL0001_EditorConfigOverridesMsBuildProperty() =>
        Verify.Analyzer(Width24.Replace("WIDTH", "24"), Verify.Avx2, globalConfig: "build_property.AuthoringTargetProfile = cpu-avx512");

    [Fact]
    public Task MDL0001_SeverityConfigurableInEditorConfig() =>
        Verify.Analyzer(Width24.Replace("WIDTH", "24"), Verify.Avx512, extraConfig: "dotnet_diagnostic.MDL0001.severity = none");

    [Fact]
    public Task MDL0001_NoFixWhenTheWidthFlowsIntoAnAdd() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d a = new(4, {|MDL0001:12|}, kernel: 1);
            readonly Conv2d b = new(4, {|MDL0001:12|}, kernel: 1);
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(4, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(a.Forward(x) + b.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d a = new(4, {|MDL0001:12|}, kernel: 1);
            readonly Conv2d b = new(4, {|MDL0001:12|}, kernel: 1);
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(4, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(a.Forward(x) + b.Forward(x))));
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0002_WideExpansionFlagged() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d expand = {|MDL0002:new(16, 96, kernel: 1)|};
            readonly Linear fc = new(96, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu6(expand.Forward(x))));
        }
        """);

    [Fact]
    public Task MDL0002_Negative_RatioTwo() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d expand = new(16, 32, kernel: 1);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu6(expand.Forward(x))));
        }
        """);

    [Fact]
    public Task MDL0003_FixMakesTheConvolutionDense() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(16, 32, kernel: 3, padding: 1, groups: {|MDL0003:8|});
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(16, 32, kernel: 3, padding: 1, groups: 1);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """);

    [Fact]
    public Task MDL0003_Negative_TwoGroupsAndDepthwise() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(16, 32, kernel: 3, padding: 1, groups: 2);
            readonly Conv2d dw = new(32, 32, kernel: 3, padding: 1, groups: 32);
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(Relu(conv.Forward(x))))));
        }
        """);

    [Fact]
    public Task MDL0012_FixUsesA3x3KernelWithSamePadding() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: {|MDL0012:7|}, padding: 3);
            readonly DepthwiseConv2d dilated = new(16, kernel: {|MDL0012:9|}, padding: 8, dilation: 2);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 20, 20)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dilated.Forward(Relu(dw.Forward(x))))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: 3, padding: 1);
            readonly DepthwiseConv2d dilated = new(16, kernel: 3, padding: 2, dilation: 2);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 20, 20)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dilated.Forward(Relu(dw.Forward(x))))));
        }
        """, iterations: 2);

    [Fact]
    public Task MDL0012_Negative_FiveByFive() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: 5, padding: 2);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """);

    [Fact]
    public Task MDL0012_Negative_BandKernels() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            // 1x11 and 11x1: 11 taps each, the cheap decomposition InceptionNeXt recommends, not a large kernel.
            readonly DepthwiseConv2d wide = new(16, kernel: 1, padding: 0, kernelWidth: 11, paddingWidth: 5);
            readonly DepthwiseConv2d tall = new(16, kernel: 11, padding: 5, kernelWidth: 1, paddingWidth: 0);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 12, 12)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(tall.Forward(wide.Forward(x)))));
        }
        """);

    [Fact]
    public Task MDL0012_NonSquareLargeKernelFlaggedWithoutFix() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: {|MDL0012:7|}, padding: 3, kernelWidth: 9, paddingWidth: 4);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 12, 12)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: {|MDL0012:7|}, padding: 3, kernelWidth: 9, paddingWidth: 4);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 12, 12)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0015_BandDenseKernelFlaggedButNotAnExplicit3x3() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(3, 16, kernel: 3, padding: 1);
            readonly Conv2d band = new(16, 16, kernel: {|MDL0015:1|}, padding: 0, kernelWidth: 5, paddingWidth: 2);
            readonly Conv2d ok = new(16, 16, kernel: 3, padding: 1, kernelWidth: 3, paddingWidth: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(ok.Forward(Relu(band.Forward(Relu(stem.Forward(x))))))));
        }
        """);

    [Fact]
    public Task MDL0015_FiveByFiveDenseFlaggedButNotTheStem() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d stem = new(3, 16, kernel: 7, padding: 3);
            readonly Conv2d conv = new(16, 16, kernel: {|MDL0015:5|}, padding: 2);
            readonly Conv2d ok = new(16, 16, kernel: 3, padding: 1);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(ok.Forward(Relu(conv.Forward(Relu(stem.Forward(x))))))));
        }
        """);
}
