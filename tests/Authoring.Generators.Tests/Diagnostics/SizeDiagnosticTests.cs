// Sizes near int.MaxValue (found by fuzzing sample models' numbers to extremes): a located AUT0011 at the layer that
// crosses a limit, never an internal AUT0099 or a generator that does not stop.
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Diagnostics;

public class SizeDiagnosticTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    static GeneratorRun Verify(string body) => DiagnosticAssert.Verify(Usings + body);

    [Fact]
    public void AUT0011_ParametersThatDoNotFitOneStore()
    {
        // Each weight fits an int (2^30 floats), together they do not fit one array: reported at the second layer.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear a = new(32768, 32768, bias: false);
                readonly Linear {|AUT0011:b|} = new(32768, 32768, bias: false);
                readonly Linear head = new(32768, 2);
                Tensor Forward([Shape(32768)] Tensor x) => head.Forward(b.Forward(a.Forward(x)));
            }
            """);
        Assert.Equal("b (Linear): with 'b.weight' the model's parameters exceed 2,147,483,591 floats, more than one parameter store (one array) holds",
            DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_ABlockWhoseParametersDoNotFit()
    {
        // GhostNet's sample with a 65536-channel bottleneck: its squeeze-excite convs are 2^30 floats each.
        var run = Verify("""
            [Model]
            public partial class Net
            {
                readonly GhostBottleneck {|AUT0011:b|} = new(40, 65536, 40, seRatio: 0.25f);
                readonly Linear head = new(40, 2);
                Tensor Forward([Shape(40, 7, 7)] Tensor x) => head.Forward(GlobalAvgPool(b.Forward(x)));
            }
            """);
        Assert.StartsWith("b (GhostBottleneck): with 'b.se.conv_expand.weight'", DiagnosticAssert.Message(run, "AUT0011"));
    }

    [Fact]
    public void AUT0011_AnArrayElementWhoseParametersDoNotFit()
    {
        Verify("""
            [Model]
            public partial class Net
            {
                readonly Linear[] layers = [new(32768, 32768, bias: false), {|AUT0011:new(32768, 32768, bias: false)|}];
                readonly Linear head = new(32768, 2);
                Tensor Forward([Shape(32768)] Tensor x)
                {
                    foreach (var l in layers) x = l.Forward(x);
                    return head.Forward(x);
                }
            }
            """);
    }
}
