// One or more tests per AUT id: each model is valid C# with one problem the model compiler must
// reject, and the marker names the exact span the diagnostic has to point at.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class DiagnosticTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    static GeneratorRun Verify(string body) => DiagnosticAssert.Verify(Usings + body);

    [Fact]
    public void ValidModelHasNoDiagnostics()
    {
        // The baseline the other tests perturb: it must be accepted and produce code.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(1, 8, kernel: 3, padding: 1);
                readonly Linear head = new(8, 10);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(Relu(conv.Forward(x))));
            }
            """);
        // The model and its ExportOnnx (nothing to fold: no deploy twin).
        Assert.Equal(2, run.Result.GeneratedSources.Length);
    }

    [Fact]
    public void AUT0001_NotPartial()
    {
        Verify("""
            [Model]
            public class {|AUT0001:Net|}
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
    }

    [Fact]
    public void AUT0002_NoForward()
    {
        var run = Verify("""
            [Model]
            public partial class {|AUT0002:Net|}
            {
                readonly Linear head = new(4, 2);
                Tensor Run([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
        Assert.Contains("none is declared", DiagnosticAssert.Message(run, "AUT0002"));
    }

    [Fact]
    public void AUT0002_ForwardWithTwoInputs()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor {|AUT0002:Forward|}([Shape(4)] Tensor x, Tensor y) => head.Forward(x + y);
            }
            """);
    }

    [Fact]
    public void AUT0002_StaticForward()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                static Tensor {|AUT0002:Forward|}([Shape(4)] Tensor x) => Relu(x);
            }
            """);
    }

    [Fact]
    public void AUT0007_Throw()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                Tensor Forward([Shape(4)] Tensor x) => {|AUT0007:throw new InvalidOperationException()|};
            }
            """);
        Assert.StartsWith("Throwing", DiagnosticAssert.Message(run, "AUT0007"));
    }

    [Fact]
    public void AUT0003_MissingShape()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward(Tensor {|AUT0003:input|}) => head.Forward(input);
            }
            """);
    }

    [Fact]
    public void AUT0004_FiveDimensionalShape()
    {
        // Ranks 1 to 4 per sample ((F), (N, D), (C, H, W), (T, C, H, W)); the batch is outside.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(120, 2);
                Tensor Forward([{|AUT0004:Shape(1, 2, 3, 4, 5)|}] Tensor x) => head.Forward(Flatten(x));
            }
            """);
        Assert.Contains("1 to 4 dimensions per sample", DiagnosticAssert.Message(run, "AUT0004"));
    }

    [Fact]
    public void AUT0004_NonPositiveDimension()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([{|AUT0004:Shape(1, 0, 4)|}] Tensor x) => head.Forward(Flatten(x));
            }
            """);
        Assert.Contains("(1, 0, 4)", DiagnosticAssert.Message(run, "AUT0004"));
    }

    [Fact]
    public void AUT0005_NonConstantLayerArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                static readonly int Hidden = 8;
                readonly Linear head = new(4, {|AUT0005:Hidden|});
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
        Assert.Contains("'outFeatures'", DiagnosticAssert.Message(run, "AUT0005"));
    }

    [Fact]
    public void AUT0005_NonConstantNamedLayerArgumentCoversTheArgument()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                static int K => 3;
                readonly Conv2d conv = new(1, 4, {|AUT0005:kernel: K|});
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(conv.Forward(x)));
            }
            """);
    }

    [Fact]
    public void AUT0005_NonConstantOpArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                int k = 2;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(MaxPool(x, {|AUT0005:k|})));
            }
            """);
        Assert.Contains("'kernel' of MaxPool", DiagnosticAssert.Message(run, "AUT0005"));
    }

    [Fact]
    public void AUT0005_NonConstantHelperArgument()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                int width = 2;
                readonly Linear head = new(2, 2);
                Tensor Narrow(Tensor t, int n) => Slice(t, 0, n);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(Narrow(x, {|AUT0005:width|}));
            }
            """);
    }

    [Fact]
    public void AUT0005_NonConstantUpsampleSize()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                int size = 16;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(UpsampleNearest(x, 16, {|AUT0005:size|})));
            }
            """);
        Assert.Contains("'width' of UpsampleNearest", DiagnosticAssert.Message(run, "AUT0005"));
    }

    [Fact]
    public void ConstantLocalsAndHelperArgumentsAreAccepted()
    {
        // The counterpart of the AUT0005 tests: constants flow through locals and helper parameters.
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(2, 2);
                Tensor Narrow(Tensor t, int n) => Slice(t, 0, n);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    int n = 2;
                    return head.Forward(Narrow(x, n));
                }
            }
            """);
    }

    [Fact]
    public void AUT0006_MathCall()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x)
                {
                    int k = {|AUT0006:Math.Max(2, 1)|};
                    return head.Forward(GlobalAvgPool(MaxPool(x, k)));
                }
            }
            """);
    }

    [Fact]
    public void AUT0007_NonConstantLocalIsReportedOnce()
    {
        // One problem, one diagnostic: the later use of 'k' as a kernel size is not reported again.
        Verify("""
            [Model]
            public partial class Net
            {
                int field = 2;
                readonly Linear head = new(4, 2);
                Tensor Narrow(Tensor t, int n) => Slice(t, 0, n);
                Tensor Forward([Shape(4, 8, 8)] Tensor x)
                {
                    int k = {|AUT0007:field + 1|};
                    return head.Forward(Narrow(GlobalAvgPool(MaxPool(x, k)), k));
                }
            }
            """);
    }

    [Fact]
    public void AUT0006_StaticMethodOfAnotherClass()
    {
        var run = Verify("""
            static class Blocks
            {
                public static Tensor Act(Tensor t) => Relu(t);
            }

            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|AUT0006:Blocks.Act(x)|});
            }
            """);
        Assert.Contains("'Blocks.Act(x)'", DiagnosticAssert.Message(run, "AUT0006"));
    }

    [Fact]
    public void AUT0006_LayerOfAnotherObject()
    {
        Verify("""
            static class Shared
            {
                public static readonly Linear Head = new(4, 2);
            }

            [Model]
            public partial class Net
            {
                Tensor Forward([Shape(4)] Tensor x) => {|AUT0006:Shared.Head.Forward(x)|};
            }
            """);
    }

    [Fact]
    public void AUT0006_LayerCreatedInForward()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                Tensor Forward([Shape(4)] Tensor x) => {|AUT0006:new Linear(4, 2).Forward(x)|};
            }
            """);
    }

    [Fact]
    public void AUT0015_IfOnAFieldValue()
    {
        // Constant conditions are resolved at compile time; a field's value is not known then.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                bool deep = true;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    if ({|AUT0015:deep|})
                        x = Relu(x);
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("The condition 'deep' of this if statement is not a compile-time constant", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0007_While()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    int i = 0;
                    {|AUT0007:while (i < 2) { x = Relu(x); i++; }|}
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("A while loop", DiagnosticAssert.Message(run, "AUT0007"));
    }

    [Fact]
    public void AUT0015_ForeachOverTensors()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    foreach (var t in {|AUT0015:new[] { x }|}) x = Relu(t);
                    return head.Forward(x);
                }
            }
            """);
        Assert.Contains("foreach iterates a layer array", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0007_Lambda()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    Func<Tensor, Tensor> act = {|AUT0007:t => Relu(t)|};
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0015_TernaryOnAFieldValue()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                bool deep = true;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|AUT0015:deep|} ? Relu(x) : x);
            }
            """);
        Assert.Contains("of this conditional expression is not a compile-time constant", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0008_ConvChannelMismatch()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(3, 8, kernel: 3);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:conv.Forward(x)|}));
            }
            """);
        Assert.Contains("expects 3 input channels, got 1", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_LinearInFeatures()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(1, 8, kernel: 3);
                readonly Linear head = new(16, 2);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => {|AUT0008:head.Forward(GlobalAvgPool(conv.Forward(x)))|};
            }
            """);
        Assert.Contains("expects 16 input features on the last axis, got 8", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_AddOfDifferentShapes()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(4, 8, kernel: 1);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x)
                {
                    var y = conv.Forward(x);
                    return head.Forward(GlobalAvgPool({|AUT0008:Add(x, y)|}));
                }
            }
            """);
    }

    [Fact]
    public void AUT0008_PlusOperatorOfDifferentShapes()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(4, 4, kernel: 3);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:x + conv.Forward(x)|}));
            }
            """);
    }

    [Fact]
    public void AUT0008_ConcatOfDifferentSpatialSizes()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:Concat(x, MaxPool(x, 2))|}));
            }
            """);
        Assert.Contains("(4, 8, 8) and (4, 4, 4)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_SliceOutOfRange()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(8, 4, 4)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:Slice(x, 6, 4)|}));
            }
            """);
        Assert.Contains("[6, 10)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0009_DirectRecursion()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Block(Tensor t) => {|AUT0009:Block(Relu(t))|};
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(Block(x));
            }
            """);
    }

    [Fact]
    public void AUT0009_IndirectRecursion()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor A(Tensor t) => B(Relu(t));
                Tensor B(Tensor t) => {|AUT0009:A(t)|};
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(A(x));
            }
            """);
        Assert.Contains("'A'", DiagnosticAssert.Message(run, "AUT0009"));
    }

    [Fact]
    public void AUT0009_ForwardCallsItself()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                Tensor Forward([Shape(4)] Tensor x) => {|AUT0009:Forward(Relu(x))|};
            }
            """);
    }

    [Fact]
    public void AUT0010_LayerWithoutInitializer()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear {|AUT0010:head|};
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
        Assert.Contains("needs an initializer", DiagnosticAssert.Message(run, "AUT0010"));
    }

    [Fact]
    public void AUT0010_StaticLayer()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                static readonly Linear {|AUT0010:head|} = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
    }

    [Fact]
    public void AUT0008_UpsampleOfAVector()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:UpsampleNearest(GlobalAvgPool(x), 2, 2)|}));
            }
            """);
        Assert.Contains("UpsampleNearest: expects a (C, H, W) input (or (T, C, H, W)), got (4)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_UpsampleOutputTooLarge()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:UpsampleNearest(x, 40000, 40000)|}));
            }
            """);
        Assert.Contains("more than 2147483647 elements", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0008_BandKernelWiderThanTheInput()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly DepthwiseConv2d band = new(4, kernel: 1, kernelWidth: 9);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool({|AUT0008:band.Forward(x)|}));
            }
            """);
        Assert.Contains("kernel 1x9 (dilation 1) is larger than the padded input (4, 8, 8)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void BandKernelsAndUpsamplingCompile()
    {
        // GhostNetV2's DFC attention: pool, 1x5 and 5x1 depthwise convs with (0, 2) and (2, 0) padding, gate,
        // upsample back to the odd 7x7. Weights are [C, 1, kh, kw] with PyTorch's fan-in kh*kw.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly DepthwiseConv2d wide = new(4, kernel: 1, padding: 0, bias: false, kernelWidth: 5, paddingWidth: 2);
                readonly DepthwiseConv2d tall = new(4, 5, 1, 2, 1, false, 1, 0);
                readonly Conv2d same = new(4, 4, kernel: 3, padding: 1, kernelWidth: 0, paddingWidth: -1);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 7, 7)] Tensor x)
                {
                    var gate = Sigmoid(tall.Forward(wide.Forward(AvgPool(x, 2))));
                    return head.Forward(GlobalAvgPool(same.Forward(x) * UpsampleNearest(gate, 7, 7)));
                }
            }
            """);
        var code = run.Sources.Single(kv => kv.Key.EndsWith("Net.g.cs", StringComparison.Ordinal)).Value;
        Assert.Contains("new(\"wide.weight\", new int[] { 4, 1, 1, 5 }, global::Authoring.Runtime.ParameterRole.Weight, global::Authoring.Runtime.InitKind.KaimingUniform, 5, 5)", code);
        Assert.Contains("new(\"tall.weight\", new int[] { 4, 1, 5, 1 }, global::Authoring.Runtime.ParameterRole.Weight, global::Authoring.Runtime.InitKind.KaimingUniform, 5, 5)", code);
        Assert.Contains("new(\"same.weight\", new int[] { 4, 4, 3, 3 }", code);
        Assert.Contains("new(4, 3, 3, 4, 1, 5, 1, 1, 0, 2, 1, 1, 4)", code);   // Conv2dShape of 'wide'
        Assert.Contains("new(4, 3, 3, 4, 5, 1, 1, 1, 2, 0, 1, 1, 4)", code);   // and of 'tall'
        Assert.Contains("UpsampleKernel.NearestForward(", code);
        Assert.Contains("UpsampleKernel.NearestBackward(", code);
    }

    [Fact]
    public void AUT0011_GroupsDoNotDivideChannels()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d {|AUT0011:conv|} = new(4, 6, kernel: 3, groups: 4);
                readonly Linear head = new(6, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(conv.Forward(x)));
            }
            """);
        Assert.Contains("groups (4) must divide", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_NegativeKernelWidthPointsAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly DepthwiseConv2d dw = new(4, kernel: 1, {|AUT0011:kernelWidth: -5|});
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(dw.Forward(x)));
            }
            """);
        Assert.Contains("kernelWidth must be positive (or 0 for a square kernel), got -5", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_NegativePaddingWidthPointsAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(4, 8, 5, 1, 2, 1, 1, true, 1, {|AUT0011:-2|});
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(conv.Forward(x)));
            }
            """);
        Assert.Contains("paddingWidth must not be negative (or -1 for the same as padding), got -2", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_ZeroKernelPointsAtTheArgumentAndADefaultedOneAtTheField()
    {
        // A written argument is the location; a hyper-parameter left at an invalid combination has none, so the field is.
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(4, 8, {|AUT0011:kernel: 0|}, kernelWidth: 3);
                readonly Conv2d {|AUT0011:grouped|} = new(4, 6, 3, groups: 4);
                readonly Linear head = new(14, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x)
                {
                    var a = conv.Forward(x);
                    var b = grouped.Forward(x);
                    return head.Forward(GlobalAvgPool(Concat(a, b)));
                }
            }
            """);
    }

    [Fact]
    public void AUT0011_NonPositiveUpsampleSizes()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(UpsampleNearest(x, {|AUT0011:0|}, {|AUT0011:width: -3|})));
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains("UpsampleNearest: height must be at least 1, got 0", messages);
        Assert.Contains("UpsampleNearest: width must be at least 1, got -3", messages);
    }

    [Fact]
    public void AUT0011_DropoutProbability()
    {
        // At the argument to change, as docs/diagnostics.md promises for every hyper-parameter.
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Dropout drop = new({|AUT0011:1.5f|});
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(drop.Forward(x));
            }
            """);
    }

    [Fact]
    public void AUT0012_ForwardReturnsFeatureMap()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(1, 4, kernel: 3, padding: 1);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => {|AUT0012:Relu(conv.Forward(x))|};
            }
            """);
        Assert.Contains("(4, 8, 8)", DiagnosticAssert.Message(run, "AUT0012"));
    }

    [Fact]
    public void AUT0013_LayerAppliedTwice()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear hidden = new(4, 4);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|AUT0013:hidden.Forward(Relu(hidden.Forward(x)))|});
            }
            """);
    }

    [Fact]
    public void StatelessLayersMayBeAppliedTwice()
    {
        // Pools and dropout hold no parameters or statistics: reusing one field, as PyTorch code reuses
        // self.pool, is fine and compiles.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(1, 8, kernel: 3, padding: 1);
                readonly MaxPool2d pool = new(2);
                readonly Linear head = new(8, 10);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(pool.Forward(pool.Forward(Relu(conv.Forward(x))))));
            }
            """);
        Assert.Contains(run.Sources.Keys, k => k.EndsWith("Net.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void LinearMismatchAfterFlattenNamesTheFlattenedShape()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d conv = new(1, 8, kernel: 3);
                readonly Linear head = new(8 * 8 * 8, 10);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => {|AUT0008:head.Forward(Flatten(conv.Forward(x)))|};
            }
            """);
        Assert.Contains("(8, 6, 6)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0014_NestedModel()
    {
        var run = Verify("""
            public partial class Outer
            {
                [Model]
                public partial class {|AUT0014:Net|}
                {
                    readonly Linear head = new(4, 2);
                    Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
                }
            }
            """);
        Assert.Contains("top-level", DiagnosticAssert.Message(run, "AUT0014"));
    }

    [Fact]
    public void AUT0014_GenericModel()
    {
        var run = Verify("""
            [Model]
            public partial class {|AUT0014:Net|}<T>
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
        Assert.Contains("generic", DiagnosticAssert.Message(run, "AUT0014"));
    }

    [Fact]
    public void SeveralProblemsAreAllReported()
    {
        // Diagnostics do not stop at the first problem inside Forward.
        Verify("""
            [Model]
            public partial class Net
            {
                int k = 2;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x)
                {
                    {|AUT0007:while (k > 0) { }|}
                    return head.Forward(GlobalAvgPool(MaxPool(x, {|AUT0005:k|})));
                }
            }
            """);
    }
}
