namespace Authoring.Analyzers.Tests;

public class SmokeTests
{
    [Fact]
    public Task CleanModelHasNoDiagnostics() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class Clean
        {
            readonly Conv2d conv = new(3, 16, kernel: 3, padding: 1);
            readonly BatchNorm2d bn = new(16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(bn.Forward(conv.Forward(x)))));
        }
        """);

    [Fact]
    public Task UnalignedConv() => Verify.Analyzer(Refs.Usings + """
        [Model]
        public partial class M
        {
            readonly Conv2d conv = new(3, {|MDL0001:12|}, kernel: 3, padding: 1);
            readonly Linear fc = new(12, 10);

            Tensor Forward([Shape(3, 8, 8)] Tensor x) => fc.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
        }
        """);
}
