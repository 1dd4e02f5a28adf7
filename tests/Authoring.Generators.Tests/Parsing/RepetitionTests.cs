// Repetition unrolled at compile time (Parsing/ModelParser.Statements.cs, .LayerValues.cs, .Constants.cs): for and
// foreach loops, layer arrays, constant if/else and ?:, and helpers taking layers, layer arrays and constants. Each
// written form must give the graph of the same network written out by hand, node for node, with the parameter
// names PyTorch's nn.ModuleList / nn.Sequential give (stage.0..., stage.1.rbr_dense.conv...).
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Parsing;

public class RepetitionTests
{
    static string Model(string members, string input = "8, 6, 6") => $$"""
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        [Model]
        public partial class Net
        {
            {{members}}
            readonly Linear head = new(8, 2);
            Tensor Forward([Shape({{input}})] Tensor x) => head.Forward(GlobalAvgPool(Body(x)));
        }
        """;

    internal static ModelIr Parse(string source, bool compileOutput = true)
    {
        var compilation = GeneratorHarness.Compile((GeneratorHarness.ModelPath, source));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        var ir = ModelParser.Parse(compilation.GetTypeByMetadataName("Test.Net")!, compilation, CancellationToken.None);
        Assert.True(ir.IsValid, "diagnostics: " + string.Join("; ", ir.Diagnostics.Select(d => d.Id + " " + string.Join(", ", d.Args))));
        if (compileOutput)
        {
            var run = GeneratorHarness.Run(source);
            Assert.Empty(run.GeneratorDiagnostics);
            Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
        }
        return ir;
    }

    /// <summary>The graph without its layer names and positions: op, inputs, shape and attributes per node.</summary>
    static string[] Graph(ModelIr ir) => ir.Nodes.Select(n =>
        $"{n.Op}({string.Join(",", n.Inputs)}) [{string.Join(",", n.Shape)}] {string.Join(",", n.Ints)} {n.F0} {n.F1}").ToArray();

    static string[] ParamNames(ModelIr ir) => ir.Params.Select(p => p.Name).ToArray();

    static string[] Layers(ModelIr ir) => ir.Nodes.Where(n => n.Layer.Length > 0).Select(n => n.Layer).ToArray();

    /// <summary>Four conv + BatchNorm + ReLU stages written out by hand: the reference every looped form must match.</summary>
    const string HandWritten = """
        readonly Conv2d c0 = new(8, 8, kernel: 3, padding: 1);
        readonly Conv2d c1 = new(8, 8, kernel: 3, padding: 1);
        readonly Conv2d c2 = new(8, 8, kernel: 3, padding: 1);
        readonly Conv2d c3 = new(8, 8, kernel: 3, padding: 1);
        readonly BatchNorm2d b0 = new(8), b1 = new(8), b2 = new(8), b3 = new(8);
        Tensor Body(Tensor h)
        {
            h = Relu(b0.Forward(c0.Forward(h)));
            h = Relu(b1.Forward(c1.Forward(h)));
            h = Relu(b2.Forward(c2.Forward(h)));
            h = Relu(b3.Forward(c3.Forward(h)));
            return h;
        }
        """;

    const string Arrays = """
        readonly Conv2d[] convs = [new(8, 8, kernel: 3, padding: 1), new(8, 8, kernel: 3, padding: 1), new(8, 8, kernel: 3, padding: 1), new(8, 8, kernel: 3, padding: 1)];
        readonly BatchNorm2d[] norms = new BatchNorm2d[] { new(8), new(8), new(8), new(8) };
        """;

    static readonly string[] ArrayParams = Enumerable.Range(0, 4).SelectMany(i => new[] { $"convs.{i}.weight", $"convs.{i}.bias" })
        .Concat(Enumerable.Range(0, 4).SelectMany(i => new[] { $"norms.{i}.weight", $"norms.{i}.bias", $"norms.{i}.running_mean", $"norms.{i}.running_var" }))
        .Concat(new[] { "head.weight", "head.bias" }).ToArray();

    static readonly Lazy<string[]> Reference = new(() => Graph(Parse(Model(HandWritten))));

    [Theory]
    [InlineData("for (int i = 0; i < 4; i++) h = Relu(norms[i].Forward(convs[i].Forward(h)));")]
    [InlineData("for (int i = 0; i <= 3; ++i) h = Relu(norms[i].Forward(convs[i].Forward(h)));")]
    [InlineData("for (int i = 0; i < convs.Length; i += 1) { var c = convs[i]; h = Relu(norms[i].Forward(c.Forward(h))); }")]
    [InlineData("for (int i = 6; i >= 0; i -= 2) h = Relu(norms[3 - i / 2].Forward(convs[3 - i / 2].Forward(h)));")]
    [InlineData("for (int i = 4; i > 0; i--) h = Relu(norms[4 - i].Forward(convs[convs.Length - i].Forward(h)));")]
    [InlineData("for (int i = 0, n = 4; i != n; i++) { if (i == 4) break; h = Relu(norms[i].Forward(convs[i].Forward(h))); }")]
    [InlineData("int k = 0; foreach (var c in convs) { h = Relu(norms[k].Forward(c.Forward(h))); k++; }")]
    [InlineData("foreach (int i in new[] { 0, 1, 2, 3 }) h = Stage(convs[i], norms[i], h);")]
    [InlineData("for (int i = 0; i < 8; i++) { if (i % 2 == 1) continue; h = Stage(convs[i / 2], norms[i / 2], h); }")]
    [InlineData("for (int i = 0; ; i++) { if (i >= 4) break; h = Relu(norms[i].Forward(convs[i].Forward(h))); }")]
    [InlineData("for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) h = Stage(convs[2 * i + j], norms[2 * i + j], h);")]
    [InlineData("h = Stages(convs, norms, h, 0);")]
    [InlineData("return Stages(convs, norms, h, 0);")]
    public void LoopedFormsGiveTheHandWrittenGraph(string body)
    {
        string members = Arrays + $$"""
            Tensor Stage(Conv2d conv, BatchNorm2d norm, Tensor t) => Relu(norm.Forward(conv.Forward(t)));
            Tensor Stages(Conv2d[] cs, Layer[] bs, Tensor t, int from)
            {
                for (int i = from; i < cs.Length; i++) t = Relu(bs[i].Forward(cs[i].Forward(t)));
                return t;
            }
            Tensor Body(Tensor h)
            {
                {{body}}
                return h;
            }
            """;
        var ir = Parse(Model(members), compileOutput: false);
        Assert.Equal(Reference.Value, Graph(ir));
        Assert.Equal(ArrayParams.OrderBy(n => n, StringComparer.Ordinal), ParamNames(ir).OrderBy(n => n, StringComparer.Ordinal));
        Assert.Equal(new[] { "convs.0", "norms.0", "convs.1", "norms.1", "convs.2", "norms.2", "convs.3", "norms.3", "head" }, Layers(ir));
    }

    [Fact]
    public void TheLoopedModelCompiles()
    {
        Parse(Model(Arrays + """
            Tensor Body(Tensor h)
            {
                for (int i = 0; i < convs.Length; i++) h = Relu(norms[i].Forward(convs[i].Forward(h)));
                return h;
            }
            """));
    }

    [Fact]
    public void BlockArraysKeepTheBlocksReferenceNames()
    {
        // nn.Sequential of RepVGG blocks: stage.0.rbr_dense.conv.weight, ... stage.1.rbr_identity.running_var.
        var ir = Parse(Model("""
            readonly RepVggBlock[] stage = [new(8, 8), new(8, 8, groups: 2)];
            Tensor Body(Tensor h)
            {
                foreach (var block in stage) h = block.Forward(h);
                return h;
            }
            """));
        var names = ParamNames(ir);
        Assert.Contains("stage.0.rbr_dense.conv.weight", names);
        Assert.Contains("stage.0.rbr_1x1.bn.running_var", names);
        Assert.Contains("stage.1.rbr_identity.weight", names);
        Assert.Equal(new[] { 8, 4, 3, 3 }, ir.Params.Single(p => p.Name == "stage.1.rbr_dense.conv.weight").Shape.ToArray());
        Assert.DoesNotContain(names, n => n.StartsWith("block", StringComparison.Ordinal));
    }

    [Fact]
    public void ElementsOfABaseTypedArrayMayDiffer()
    {
        // Layer[] holds any layers; each element is applied as its own kind, named by its index.
        var ir = Parse(Model("""
            readonly Layer[] layers = new Layer[] { new Conv2d(8, 8, kernel: 1), new BatchNorm2d(8), new MaxPool2d(2), new GhostModule(8, 8) };
            Tensor Body(Tensor h)
            {
                for (int i = 0; i < layers.Length; i++) h = layers[i].Forward(h);
                return h;
            }
            """));
        Assert.Equal(new[] { "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.1.running_mean", "layers.1.running_var" },
            ParamNames(ir).Take(6));
        Assert.Contains("layers.3.primary_conv.0.weight", ParamNames(ir));
        // GhostModule(8, 8) after the pool: 4 primary and 4 cheap channels of 3x3.
        Assert.Equal(new[] { 4, 3, 3 }, ir.Nodes.Last(n => n.Layer == "layers.3.cheap_operation.1").Shape.ToArray());
    }

    [Fact]
    public void ImplicitlyTypedArrayCreation()
    {
        var ir = Parse(Model("""
            readonly Conv2d[] convs = new[] { new Conv2d(8, 8, kernel: 1), new Conv2d(8, 8, kernel: 1) };
            Tensor Body(Tensor h) => convs[1].Forward(convs[0].Forward(h));
            """));
        Assert.Equal(new[] { "convs.0", "convs.1", "head" }, Layers(ir));
    }

    [Fact]
    public void ConstantConditionsPickOneBranch()
    {
        // Only the chosen branch is built: its layers are applied once, the other branch's not at all.
        var ir = Parse(Model("""
            const bool Residual = true;
            readonly Conv2d[] convs = [new(8, 8, kernel: 1), new(8, 8, kernel: 1), new(8, 8, kernel: 1)];
            readonly Conv2d unused = new(8, 8, kernel: 1);
            Tensor Body(Tensor h)
            {
                for (int i = 0; i < 3; i++)
                {
                    if (i == 1 && Residual) h = h + convs[i].Forward(h);
                    else if (i == 5) h = unused.Forward(h);
                    else h = i % 2 == 0 ? Relu(convs[i].Forward(h)) : unused.Forward(h);
                }
                return !Residual ? unused.Forward(h) : h;
            }
            """));
        Assert.Equal(new[] { "convs.0", "convs.1", "convs.2", "head" }, Layers(ir));
        Assert.Single(ir.Nodes, n => n.Op == "Add");
    }

    [Fact]
    public void ConstantsChangeAcrossIterations()
    {
        // Widths doubling per stage: a constant local updated in the body, compile-time arithmetic on the loop variable.
        var ir = Parse(Model("""
            readonly Conv2d[] convs = [new(8, 16, kernel: 1), new(16, 32, kernel: 1), new(32, 8, kernel: 1)];
            Tensor Body(Tensor h)
            {
                int width = 8;
                float scale = 1f;
                for (int i = 0; i < 3; i++)
                {
                    h = convs[i].Forward(h) * scale;
                    width *= 2;
                    scale /= 2f;
                    h += Slice(Concat(h, h), 0, (1 << i) * 16 - (i == 2 ? 56 : 0));
                }
                return width == 64 ? h : Relu(h);
            }
            """));
        Assert.Equal(new[] { 1f, 0.5f, 0.25f }, ir.Nodes.Where(n => n.Op == "Scalar").Select(n => n.F0).ToArray());
        Assert.Equal(new[] { 16, 32, 8 }, ir.Nodes.Where(n => n.Op == "Slice").Select(n => n.Shape[0]).ToArray());
        Assert.DoesNotContain(ir.Nodes, n => n.Op == "Activation");
    }

    [Fact]
    public void HelperTakesALayerAndAConstant()
    {
        // Formerly a misleading AUT0005: a helper's layer parameter is bound to the layer passed in.
        var ir = Parse(Model("""
            readonly Conv2d a = new(8, 8, kernel: 3, padding: 1);
            readonly Conv2d b = new(8, 8, kernel: 1);
            Tensor Apply(Conv2d conv, Tensor t, bool relu) => relu ? Relu(conv.Forward(t)) : conv.Forward(t);
            Tensor Body(Tensor h) => Apply(b, Apply(a, h, true), false);
            """));
        Assert.Equal(new[] { "a", "b", "head" }, Layers(ir));
        Assert.Single(ir.Nodes, n => n.Op == "Activation");
    }

    [Fact]
    public void AnEmptyArrayLoopsZeroTimes()
    {
        var ir = Parse(Model("""
            readonly Conv2d[] none = [];
            Tensor Body(Tensor h)
            {
                foreach (var c in none) h = c.Forward(h);
                for (int i = 0; i < none.Length; i++) h = none[i].Forward(h);
                return h;
            }
            """));
        Assert.Equal(new[] { "head" }, Layers(ir));
    }

    [Fact]
    public void PoolsInAnArrayMayBeReused()
    {
        // Stateless layers (pools, dropout) may be applied more than once, as single fields may.
        var ir = Parse(Model("""
            readonly MaxPool2d[] pools = [new(1)];
            Tensor Body(Tensor h)
            {
                for (int i = 0; i < 3; i++) h = pools[0].Forward(h);
                return h;
            }
            """));
        Assert.Equal(3, ir.Nodes.Count(n => n.Op == "MaxPool"));
    }

    [Fact]
    public void ALoopOfManyIterationsUnrollsWithinTheLimits()
    {
        // 2,000 nodes from one loop: far below the limits, and quick.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ir = Parse(Model("""
            Tensor Body(Tensor h)
            {
                for (int i = 0; i < 2000; i++) h = h * 0.999f;
                return h;
            }
            """), compileOutput: false);
        Assert.Equal(2000, ir.Nodes.Count(n => n.Op == "Scalar"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }
}
