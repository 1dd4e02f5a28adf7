// Misuse of loops, layer arrays and compile-time conditions: each is one located diagnostic, reported once even
// when the loop around it would reach it on every iteration, and the limits that keep unrolling finite.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class RepetitionDiagnosticTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    static GeneratorRun Verify(string body) => DiagnosticAssert.Verify(Usings + body);

    [Fact]
    public void AUT0015_NonConstantBound()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                int depth = 3;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; {|AUT0015:i < depth|}; i++) x = Relu(x);
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("The condition 'i < depth' of this for loop is not a compile-time constant", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0007_NonConstantLoopStart()
    {
        // The start is the problem, reported once; the bound that reads it is not reported again.
        Verify("""
            [Model]
            public partial class Net
            {
                int start = 3;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = {|AUT0007:start|}; i < 4; i++) x = Relu(x);
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0015_IndexOutOfRange()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 4), new(4, 4)];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; i <= layers.Length; i++) x = layers[{|AUT0015:i|}].Forward(x);
                    return head.Forward(x);
                }
            }
            """);
        Assert.Equal("Index 2 is outside 'layers', which has 2 elements (0 to 1)", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0015_NegativeIndex()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 4)];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(layers[{|AUT0015:-1|}].Forward(x));
            }
            """);
    }

    [Fact]
    public void AUT0015_NonConstantIndex()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                int which;
                readonly Linear[] layers = [new(4, 4)];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(layers[{|AUT0015:which|}].Forward(x));
            }
            """);
        Assert.Contains("The index 'which' into 'layers' is not a compile-time constant", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0015_LoopVariableAssignedInTheBody()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        x = Relu(x);
                        {|AUT0015:i += 1|};
                    }
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("The loop variable 'i' is assigned in the loop's body", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0015_TooManyIterations()
    {
        // A loop that never ends (the step goes the wrong way) stops at the limit, at its header.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    int k = 0;
                    {|AUT0015:for (int i = 0; i < 4; i--)|} k++;
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("Forward unrolls more than 100,000 loop iterations", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0015_TooManyNodes()
    {
        // Nested loops building a huge graph stop at the node limit, reported at the outermost loop.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    {|AUT0015:for (int i = 0; i < 1000; i++)|}
                        for (int j = 0; j < 1000; j++)
                            x = x * 0.5f + 1f;
                    return head.Forward(x);
                }
            }
            """);
        Assert.StartsWith("Forward unrolls to more than 100,000 graph nodes", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0015_ForeachOverAnIntField()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly int[] widths = { 4, 4 };
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    foreach (int w in {|AUT0015:widths|}) x = Slice(x, 0, w);
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0015_ElementOfTheWrongKind()
    {
        // A cast through Layer is checked at run time in C#, which a model never reaches: it is checked here.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Layer[] layers = [new Linear(4, 4), new Dropout(0.5f)];
                readonly Linear head = new(4, 2);
                Tensor Apply(Linear l, Tensor t) => l.Forward(t);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(Apply({|AUT0015:(Linear)layers[1]|}, x));
            }
            """);
        Assert.Equal("'(Linear)layers[1]' is layers.1, a Dropout, not a Linear", DiagnosticAssert.Message(run, "AUT0015"));
    }

    [Fact]
    public void AUT0013_ElementAppliedTwice()
    {
        // One field per use, for array elements as for fields: the second application is the error, reported once.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 4), new(4, 4)];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; i < 4; i++) x = {|AUT0013:layers[i % 2].Forward(x)|};
                    return head.Forward(x);
                }
            }
            """);
        Assert.Contains("'layers.0'", DiagnosticAssert.Message(run, "AUT0013"));
    }

    [Fact]
    public void AUT0013_FieldAppliedInALoop()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear hidden = new(4, 4);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; i < 3; i++) x = {|AUT0013:hidden.Forward(x)|};
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0008_InsideALoopIsReportedOnce()
    {
        // The second element does not take the first's output: one diagnostic, not one per remaining iteration.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 8), new(4, 8), new(4, 8)];
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    foreach (var l in layers) x = {|AUT0008:l.Forward(x)|};
                    return head.Forward(x);
                }
            }
            """);
        Assert.Contains("layers.1 (Linear)", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0010_ArrayElementNotAConstruction()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                static Linear Make() => new(4, 4);
                readonly Linear[] layers = [new(4, 4), {|AUT0010:Make()|}];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(layers[0].Forward(x));
            }
            """);
    }

    [Fact]
    public void AUT0010_ArrayWithoutElements()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = {|AUT0010:new Linear[2]|};
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(layers[0].Forward(x));
            }
            """);
        Assert.Contains("initialised in place with its elements", DiagnosticAssert.Message(run, "AUT0010"));
    }

    [Fact]
    public void AUT0010_ArrayWithoutInitializer()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] {|AUT0010:layers|};
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    foreach (var l in layers) x = l.Forward(x);
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0010_JaggedArray()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[][] {|AUT0010:layers|} = [[new(4, 4)]];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """);
    }

    [Fact]
    public void AUT0005_NonConstantArgumentOfAnElement()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                static int Width = 4;
                readonly Linear[] layers = [new(4, 4), new(4, {|AUT0005:Width|})];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    foreach (var l in layers) x = l.Forward(x);
                    return head.Forward(x);
                }
            }
            """);
        Assert.Contains("of Linear 'layers[1]'", DiagnosticAssert.Message(run, "AUT0005"));
    }

    [Fact]
    public void AUT0011_ElementHyperParameterAtItsArgument()
    {
        // An element's bad hyper-parameter points at the element's own argument.
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Conv2d[] convs = [new(4, 4, kernel: 1), new(4, 4, kernel: 1, {|AUT0011:stride: 0|})];
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 4, 4)] Tensor x)
                {
                    foreach (var c in convs) x = c.Forward(x);
                    return head.Forward(GlobalAvgPool(x));
                }
            }
            """);
    }

    [Fact]
    public void AUT0011_LoopArithmeticThatOverflows()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 4, 4)] Tensor x)
                {
                    for (int i = 0; i < 40; i += 10) x = MaxPool(x, 1, {|AUT0011:2 << i|});
                    return head.Forward(GlobalAvgPool(x));
                }
            }
            """);
        Assert.Contains("overflows an int", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0015_BreakOutsideAConstantIf()
    {
        // break and continue are unrolled too; the condition guarding them must be a constant.
        Verify("""
            [Model]
            public partial class Net
            {
                bool stop;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        if ({|AUT0015:stop|}) break;
                        x = Relu(x);
                    }
                    return head.Forward(x);
                }
            }
            """);
    }

    [Fact]
    public void AUT0007_LayerArrayFromAMethod()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 4)];
                Linear[] Layers() => layers;
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|AUT0007:Layers()|}[0].Forward(x));
            }
            """);
    }

    [Fact]
    public void AUT0009_RecursionThroughALayerParameter()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(4, 4), new(4, 4)];
                readonly Linear head = new(4, 2);
                Tensor Chain(Linear[] ls, int i, Tensor t) => i == ls.Length ? t : {|AUT0009:Chain(ls, i + 1, ls[i].Forward(t))|};
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(Chain(layers, 0, x));
            }
            """);
    }
}
