// Misuse of the tensor ops of token and attention models (LayerNorm, Softmax, MatMul, Transpose, Mean/Sum, Concat and
// Slice on an axis): each is one diagnostic with its id at the exact span to change, and the message names the shapes
// or the value. Also: named arguments written out of order are read by parameter, not by position.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class TensorOpDiagnosticTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    static GeneratorRun Verify(string body) => DiagnosticAssert.Verify(Usings + body);

    [Fact]
    public void ValidTokenModelWithNamedArgumentsOutOfOrder()
    {
        // transposeB is the fourth parameter written third: Roslyn lists the arguments as written, then the defaults.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly LayerNorm ln = new(8, bias: false, eps: 1e-6f);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(4, 8)] Tensor x)
                {
                    var h = ln.Forward(x);
                    var a = Softmax(MatMul(h, h, transposeB: true));                 // (4, 4)
                    var t = Transpose(Concat([MatMul(a, h), h], axis: -1), 0, 1);   // (16, 4)
                    var s = Slice(t, start: 2, axis: 0, count: 8);                 // (8, 4)
                    return head.Forward(Mean(Sum(s, keepDim: true, axis: 1), 1));   // (8)
                }
            }
            """);
        // The model and its ExportOnnx.
        Assert.Equal(2, run.Result.GeneratedSources.Length);
    }

    [Fact]
    public void AUT0008_LayerNormDimDoesNotMatchTheLastAxis()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly LayerNorm ln = new(6);
                readonly Linear head = new(40, 2);
                Tensor Forward([Shape(5, 8)] Tensor x) => head.Forward(Flatten({|AUT0008:ln.Forward(x)|}));
            }
            """);
        Assert.Contains("normalizes a last axis of 6, got 8 (input shape (5, 8))", DiagnosticAssert.Message(run, "AUT0008"));
    }

    [Fact]
    public void AUT0011_LayerNormEpsAndDimPointAtTheirArguments()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly LayerNorm a = new(8, {|AUT0011:eps: 0f|});
                readonly LayerNorm b = new({|AUT0011:-8|});
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x) => head.Forward(a.Forward(x) + b.Forward(x));
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("eps must be positive and finite, got 0"));
        Assert.Contains(messages, m => m.Contains("dim must be positive, got -8"));
    }

    [Fact]
    public void AUT0008_MatMulInnerSizesLeadingAxesAndRank()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(9, 2);
                Tensor Forward([Shape(2, 3, 4)] Tensor x)
                {
                    var a = {|AUT0008:MatMul(x, x)|};
                    var b = {|AUT0008:MatMul(x, Slice(x, 0, 1), transposeB: true)|};
                    var c = {|AUT0008:MatMul(Flatten(x), Flatten(x))|};
                    return head.Forward(Flatten(a + b + c));
                }
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("inner sizes differ: (2, 3, 4) has K = 4, (2, 3, 4) has K = 3"));
        Assert.Contains(messages, m => m.Contains("leading axes of (2, 3, 4) and (1, 3, 4) differ at axis 0 (2 and 1)"));
        Assert.Contains(messages, m => m.Contains("rank 2 or more, got (24) and (24)"));
    }

    [Fact]
    public void AUT0011_AxesOutOfRangePointAtTheArgument()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(12, 2);
                Tensor Forward([Shape(3, 4)] Tensor x)
                {
                    var t = Transpose(x, 0, {|AUT0011:2|});
                    var m = Mean(x, {|AUT0011:-3|});
                    var c = Concat([x, x], {|AUT0011:axis: 5|});
                    var s = Slice(x, 0, 1, {|AUT0011:axis: -9|});
                    return head.Forward(Flatten(t + m + c + s));
                }
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("Transpose: b 2 is out of range for a (3, 4) input (axes -2 to 1)"));
        Assert.Contains(messages, m => m.Contains("Mean: axis -3 is out of range"));
    }

    [Fact]
    public void AUT0008_ReducingTheOnlyAxisAndMismatchedConcatAndSliceParts()
    {
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(3, 4)] Tensor x)
                {
                    var v = {|AUT0008:Sum(Flatten(x), 0)|};
                    var c = {|AUT0008:Concat([x, Slice(x, 0, 2, axis: 1)], 1 - 1)|};
                    var s = {|AUT0008:Slice(x, 2, 3, axis: 1)|};
                    return head.Forward(Flatten(v + c + s));
                }
            }
            """);
        var messages = run.AutDiagnostics.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(messages, m => m.Contains("leaves no axis: pass keepDim: true"));
        Assert.Contains(messages, m => m.Contains("inputs (3, 4) and (3, 2) differ in more than axis 0"));
        Assert.Contains(messages, m => m.Contains("indices [2, 5) along axis 1 are outside the input's 4"));
    }
}
