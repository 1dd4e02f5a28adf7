// Cases where several rules could fire on one problem, and diagnostics whose fix is not mechanical.
using Authoring.Analyzers.CodeFixes;

namespace Authoring.Analyzers.Tests;

public class OverlapTests
{
    const string U = Refs.Usings;

    [Fact]
    public Task DepthwiseWrittenAsGroupedConvIsOnlyMDL0012() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d dw = new(16, 16, kernel: {|MDL0012:7|}, padding: 3, groups: 16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """);

    [Fact]
    public Task MDL0012_NoFixWithoutSamePadding() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: {|MDL0012:7|});
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly DepthwiseConv2d dw = new(16, kernel: {|MDL0012:7|});
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(dw.Forward(x))));
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0003_NoFixWhenGroupsIsAConstant() => Verify.Fix<ReplaceArgumentsCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            const int G = 8;
            readonly Conv2d conv = new(16, 32, kernel: 3, padding: 1, groups: {|MDL0003:G|});
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """, U + """
        [Model]
        public partial class M
        {
            const int G = 8;
            readonly Conv2d conv = new(16, 32, kernel: 3, padding: 1, groups: {|MDL0003:G|});
            readonly Linear fc = new(32, 10);

            Tensor Forward([Shape(16, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """, iterations: 0);

    [Fact]
    public Task MDL0013_ChainAcrossLocalsIsReportedOnceWithoutFix() => Verify.Fix<CollapseReshapeChainCodeFixProvider>(U + """
        [Model]
        public partial class M
        {
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(4, 4, 4)] Tensor x)
            {
                var a = Reshape(x, 16, 2, 2);
                var b = Reshape(a, 64);
                return fc.Forward({|MDL0013:Flatten(b)|});
            }
        }
        """, U + """
        [Model]
        public partial class M
        {
            readonly Linear fc = new(64, 10);

            Tensor Forward([Shape(4, 4, 4)] Tensor x)
            {
                var a = Reshape(x, 16, 2, 2);
                var b = Reshape(a, 64);
                return fc.Forward({|MDL0013:Flatten(b)|});
            }
        }
        """, iterations: 0);

    [Fact]
    public Task HelperMethodsAreInlinedAndReportedWhereWritten() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(8, 8, kernel: 3, padding: 1);
            readonly Linear fc = new(8, 10);

            Tensor Gate(Tensor t) => {|MDL0010:Sigmoid(t)|};

            Tensor Forward([Shape(8, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Gate(conv.Forward(x))));
        }
        """);
}
