// Composite blocks (Dsl/Blocks.cs, Parsing/ModelParser.Blocks.cs): each expands into the primitive graph of its
// reference PyTorch code, with that code's state_dict names under the field and PyTorch's shapes, and the
// generated code compiles. The Ghost concat and slice cost no copy in either program.
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Parsing;

public class BlockExpansionTests
{
    /// <summary>A model named Net with <paramref name="fields"/> and a Forward over (<paramref name="input"/>)
    /// returning head(GlobalAvgPool(<paramref name="body"/>)) where head is Linear(<paramref name="outChannels"/>, 2).</summary>
    static string Model(string fields, string input, string body, int outChannels) => $$"""
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        [Model]
        public partial class Net
        {
            {{fields}}
            readonly Linear head = new({{outChannels}}, 2);
            Tensor Forward([Shape({{input}})] Tensor x) => head.Forward(GlobalAvgPool({{body}}));
        }
        """;

    static ModelIr Parse(string source)
    {
        var compilation = GeneratorHarness.Compile((GeneratorHarness.ModelPath, source));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        var ir = ModelParser.Parse(compilation.GetTypeByMetadataName("Test.Net")!, compilation, CancellationToken.None);
        Assert.True(ir.IsValid, "diagnostics: " + string.Join("; ", ir.Diagnostics.Select(d => d.Id + " " + string.Join(", ", d.Args))));
        // The generated code compiles cleanly too.
        var run = GeneratorHarness.Run(source);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
        return ir;
    }

    /// <summary>"name [d0, d1, ...]" per parameter, in store order, the head's left out.</summary>
    static string[] Params(ModelIr ir) =>
        ir.Params.Where(p => !p.Name.StartsWith("head.", StringComparison.Ordinal))
            .Select(p => $"{p.Name} [{string.Join(", ", p.Shape)}]").ToArray();

    static string[] Bn(string name, int c) =>
        new[] { $"{name}.weight [{c}]", $"{name}.bias [{c}]", $"{name}.running_mean [{c}]", $"{name}.running_var [{c}]" };

    static string[] Ops(ModelIr ir) => ir.Nodes.Skip(1).Select(n => n.Op == OpKind.Activation ? ((ActKind)n.Ints[0]).ToString() : n.Op.ToString())
        .SkipLast(2).ToArray();   // GlobalAvgPool and the head

    [Fact]
    public void GhostModuleWithOddOutputSlicesTheConcat()
    {
        // init = ceil(5 / 2) = 3, new = 3: cat gives 6 channels, the first 5 are the output.
        var ir = Parse(Model("readonly GhostModule g1 = new(4, 5);", "4, 6, 6", "g1.Forward(x)", 5));
        Assert.Equal(new[] { "primary_conv.0.weight [3, 4, 1, 1]" }.Concat(Bn("primary_conv.1", 3))
            .Append("cheap_operation.0.weight [3, 1, 3, 3]").Concat(Bn("cheap_operation.1", 3)).Select(s => "g1." + s), Params(ir));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Relu", "Conv2d", "BatchNorm", "Relu", "Concat", "Slice" }, Ops(ir));
        var slice = ir.Nodes.Single(n => n.Op == OpKind.Slice);
        Assert.Equal(new[] { 0, 5 }, slice.Ints.ToArray());
        Assert.Equal(new[] { 5, 6, 6 }, slice.Shape.ToArray());
        // Sub-layer nodes carry the parameter prefix; diagnostics of the call point at it.
        Assert.Equal(new[] { "g1.primary_conv.0", "g1.primary_conv.1", "g1.cheap_operation.0", "g1.cheap_operation.1" },
            ir.Nodes.Where(n => n.Layer.Length > 0 && n.Op != OpKind.Linear).Select(n => n.Layer));
    }

    [Fact]
    public void GhostModuleRatioKernelStrideNoRelu()
    {
        // ratio 3: init = ceil(6 / 3) = 2, new = 4 (a grouped, not depthwise, cheap conv); out = 6 exactly: no slice.
        var ir = Parse(Model("readonly GhostModule g = new(4, 6, kernel: 3, ratio: 3, dwSize: 5, stride: 2, relu: false);", "4, 7, 7", "g.Forward(x)", 6));
        Assert.Equal(new[] { "primary_conv.0.weight [2, 4, 3, 3]" }.Concat(Bn("primary_conv.1", 2))
            .Append("cheap_operation.0.weight [4, 1, 5, 5]").Concat(Bn("cheap_operation.1", 4)).Select(s => "g." + s), Params(ir));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Concat" }, Ops(ir));
        var primary = new ConvAttrs(ir.Nodes.First(n => n.Op == OpKind.Conv2d));
        Assert.Equal((2, 1, 1, false), (primary.Sh, primary.Ph, primary.Groups, primary.Bias));   // padding kernel / 2
        var cheap = new ConvAttrs(ir.Nodes.Last(n => n.Op == OpKind.Conv2d));
        Assert.Equal((1, 2, 2), (cheap.Sh, cheap.Ph, cheap.Groups));                               // groups = init
        Assert.Equal(new[] { 6, 4, 4 }, ir.Nodes.Single(n => n.Op == OpKind.Concat).Shape.ToArray());
    }

    [Fact]
    public void GhostModuleWithDfcAttention()
    {
        // GhostNetV2 'attn': short_conv on the 2x2-pooled input (7x7 -> 3x3), sigmoid, resized back to 7x7 by
        // nearest (not an exact 2x), multiplying the sliced concat.
        var ir = Parse(Model("readonly GhostModule g = new(4, 5, attention: true);", "4, 7, 7", "g.Forward(x)", 5));
        var expected = new List<string> { "short_conv.0.weight [5, 4, 1, 1]" };
        expected.AddRange(Bn("short_conv.1", 5));
        expected.Add("short_conv.2.weight [5, 1, 1, 5]");
        expected.AddRange(Bn("short_conv.3", 5));
        expected.Add("short_conv.4.weight [5, 1, 5, 1]");
        expected.AddRange(Bn("short_conv.5", 5));
        expected.Add("primary_conv.0.weight [3, 4, 1, 1]");
        expected.AddRange(Bn("primary_conv.1", 3));
        expected.Add("cheap_operation.0.weight [3, 1, 3, 3]");
        expected.AddRange(Bn("cheap_operation.1", 3));
        Assert.Equal(expected.Select(s => "g." + s), Params(ir));
        Assert.Equal(new[]
        {
            "AvgPool", "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Conv2d", "BatchNorm",   // short_conv
            "Conv2d", "BatchNorm", "Relu", "Conv2d", "BatchNorm", "Relu", "Concat", "Slice",
            "Sigmoid", "UpsampleNearest", "Mul",
        }, Ops(ir));
        var convs = ir.Nodes.Where(n => n.Op == OpKind.Conv2d).Select(n => new ConvAttrs(n)).ToArray();
        Assert.Equal((1, 5, 0, 2, 5), (convs[1].Kh, convs[1].Kw, convs[1].Ph, convs[1].Pw, convs[1].Groups));
        Assert.Equal((5, 1, 2, 0, 5), (convs[2].Kh, convs[2].Kw, convs[2].Ph, convs[2].Pw, convs[2].Groups));
        Assert.Equal(new[] { 5, 3, 3 }, ir.Nodes.Single(n => n.Op == OpKind.Activation && n.Ints[0] == (int)ActKind.Sigmoid).Shape.ToArray());
        Assert.Equal(new[] { 5, 7, 7 }, ir.Nodes.Single(n => n.Op == OpKind.UpsampleNearest).Shape.ToArray());
    }

    [Fact]
    public void GhostBottleneckStridedWithSqueezeExciteAndConvShortcut()
    {
        // mid 12, seRatio 0.25: reduced = _make_divisible(3, 4) = 4.
        var ir = Parse(Model("readonly GhostBottleneck b = new(4, 12, 8, dwKernel: 3, stride: 2, seRatio: 0.25f);", "4, 6, 6", "b.Forward(x)", 8));
        var expected = new List<string>();
        expected.Add("ghost1.primary_conv.0.weight [6, 4, 1, 1]");
        expected.AddRange(Bn("ghost1.primary_conv.1", 6));
        expected.Add("ghost1.cheap_operation.0.weight [6, 1, 3, 3]");
        expected.AddRange(Bn("ghost1.cheap_operation.1", 6));
        expected.Add("conv_dw.weight [12, 1, 3, 3]");
        expected.AddRange(Bn("bn_dw", 12));
        expected.AddRange(new[] { "se.conv_reduce.weight [4, 12, 1, 1]", "se.conv_reduce.bias [4]", "se.conv_expand.weight [12, 4, 1, 1]", "se.conv_expand.bias [12]" });
        expected.Add("ghost2.primary_conv.0.weight [4, 12, 1, 1]");
        expected.AddRange(Bn("ghost2.primary_conv.1", 4));
        expected.Add("ghost2.cheap_operation.0.weight [4, 1, 3, 3]");
        expected.AddRange(Bn("ghost2.cheap_operation.1", 4));
        expected.Add("shortcut.0.weight [4, 1, 3, 3]");
        expected.AddRange(Bn("shortcut.1", 4));
        expected.Add("shortcut.2.weight [8, 4, 1, 1]");
        expected.AddRange(Bn("shortcut.3", 8));
        Assert.Equal(expected.Select(s => "b." + s), Params(ir));
        Assert.Equal(new[]
        {
            "Conv2d", "BatchNorm", "Relu", "Conv2d", "BatchNorm", "Relu", "Concat",          // ghost1 (12 = 6 + 6)
            "Conv2d", "BatchNorm",                                                           // conv_dw, bn_dw
            "GlobalAvgPool", "Reshape", "Conv2d", "Relu", "Conv2d", "HardSigmoid", "Mul",    // se
            "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Concat",                          // ghost2, no ReLU
            "Conv2d", "BatchNorm", "Conv2d", "BatchNorm",                                    // shortcut
            "Add",
        }, Ops(ir));
        Assert.Equal(new[] { 8, 3, 3 }, ir.Nodes.Single(n => n.Op == OpKind.Add).Shape.ToArray());
    }

    [Fact]
    public void GhostBottleneckIdentityShortcut()
    {
        var ir = Parse(Model("readonly GhostBottleneck b = new(6, 10, 6);", "6, 5, 5", "b.Forward(x)", 6));
        Assert.DoesNotContain(ir.Params, p => p.Name.Contains("shortcut") || p.Name.Contains("_dw") || p.Name.Contains(".se."));
        var add = ir.Nodes.Single(n => n.Op == OpKind.Add);
        Assert.Equal(0, add.Inputs[1]);   // the model input itself
    }

    [Theory]
    [InlineData(0.25f, 16, 4)]    // 16 * 0.25 = 4
    [InlineData(0.25f, 20, 8)]    // 5 rounds to 8 (int(5 + 2) // 4 * 4 = 4 is more than 10% below 5)
    [InlineData(0.1f, 20, 4)]     // 2 -> at least the divisor
    [InlineData(0.25f, 72, 20)]   // GhostNet's own 72 * 0.25 = 18 -> 20
    [InlineData(0.25f, 120, 32)]  // 30 -> 32
    public void SqueezeExciteReducedChannelsFollowMakeDivisible(float ratio, int mid, int reduced)
    {
        var ir = Parse(Model($"readonly GhostBottleneck b = new(4, {mid}, 4, seRatio: {ratio.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}f);",
            "4, 3, 3", "b.Forward(x)", 4));
        Assert.Equal(new[] { reduced, mid, 1, 1 }, ir.Params.Single(p => p.Name == "b.se.conv_reduce.weight").Shape.ToArray());
    }

    [Fact]
    public void RepVggBlockWithIdentityBranch()
    {
        var ir = Parse(Model("readonly RepVggBlock r = new(4, 4);", "4, 5, 5", "r.Forward(x)", 4));
        Assert.Equal(new[] { "rbr_dense.conv.weight [4, 4, 3, 3]" }.Concat(Bn("rbr_dense.bn", 4))
            .Append("rbr_1x1.conv.weight [4, 4, 1, 1]").Concat(Bn("rbr_1x1.bn", 4))
            .Concat(Bn("rbr_identity", 4)).Select(s => "r." + s), Params(ir));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Add", "BatchNorm", "Add", "Relu" }, Ops(ir));
        Assert.Equal(0, ir.Nodes.Single(n => n.Layer == "r.rbr_identity").Inputs[0]);
        Assert.Equal(1, new ConvAttrs(ir.Nodes.First(n => n.Op == OpKind.Conv2d)).Ph);
    }

    [Fact]
    public void RepVggBlockStridedGroupedHasNoIdentity()
    {
        var ir = Parse(Model("readonly RepVggBlock r = new(4, 8, stride: 2, groups: 2);", "4, 5, 5", "r.Forward(x)", 8));
        Assert.Equal(new[] { "rbr_dense.conv.weight [8, 2, 3, 3]" }.Concat(Bn("rbr_dense.bn", 8))
            .Append("rbr_1x1.conv.weight [8, 2, 1, 1]").Concat(Bn("rbr_1x1.bn", 8)).Select(s => "r." + s), Params(ir));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Add", "Relu" }, Ops(ir));
        Assert.All(ir.Nodes.Where(n => n.Op == OpKind.Conv2d), n => Assert.Equal((2, 2), (new ConvAttrs(n).Sh, new ConvAttrs(n).Groups)));
    }

    [Fact]
    public void MobileOneDepthwiseThenPointwise()
    {
        // The paper's block: depthwise 3x3 (scale branch, skip, 2 conv branches), then pointwise (no scale branch).
        var ir = Parse(Model("""
            readonly MobileOneBlock dw = new(4, 4, kernel: 3, padding: 1, groups: 4, branches: 2);
                readonly MobileOneBlock pw = new(4, 6, kernel: 1, branches: 2);
            """, "4, 5, 5", "pw.Forward(dw.Forward(x))", 6));
        var expected = new List<string> { "dw.rbr_scale.conv.weight [4, 1, 1, 1]" };
        expected.AddRange(Bn("dw.rbr_scale.bn", 4));
        expected.AddRange(Bn("dw.rbr_skip", 4));
        foreach (int i in new[] { 0, 1 })
        {
            expected.Add($"dw.rbr_conv.{i}.conv.weight [4, 1, 3, 3]");
            expected.AddRange(Bn($"dw.rbr_conv.{i}.bn", 4));
        }
        foreach (int i in new[] { 0, 1 })
        {
            expected.Add($"pw.rbr_conv.{i}.conv.weight [6, 4, 1, 1]");
            expected.AddRange(Bn($"pw.rbr_conv.{i}.bn", 6));
        }
        Assert.Equal(expected, Params(ir));
        Assert.Equal(new[]
        {
            "Conv2d", "BatchNorm", "BatchNorm", "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Add", "Add", "Add", "Relu",
            "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "Add", "Relu",
        }, Ops(ir));
        // (scale + skip) + conv0, then + conv1, as the reference accumulates.
        var adds = ir.Nodes.Where(n => n.Op == OpKind.Add).Take(3).ToArray();
        Assert.Equal("dw.rbr_skip", ir.Nodes[adds[0].Inputs[1]].Layer);
        Assert.Equal(adds[0].Id, adds[1].Inputs[0]);
        Assert.Equal("dw.rbr_conv.1.bn", ir.Nodes[adds[2].Inputs[1]].Layer);
    }

    [Fact]
    public void RepGhostModule()
    {
        var ir = Parse(Model("readonly RepGhostModule m = new(4, 6, kernel: 1, dwSize: 3);", "4, 5, 5", "m.Forward(x)", 6));
        Assert.Equal(new[] { "primary_conv.0.weight [6, 4, 1, 1]" }.Concat(Bn("primary_conv.1", 6))
            .Append("cheap_operation.0.weight [6, 1, 3, 3]").Concat(Bn("cheap_operation.1", 6))
            .Concat(Bn("fusion_bn.0", 6)).Select(s => "m." + s), Params(ir));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Relu", "Conv2d", "BatchNorm", "BatchNorm", "Add", "Relu" }, Ops(ir));
        var relu = ir.Nodes.First(n => n.Op == OpKind.Activation);
        Assert.Equal(relu.Id, ir.Nodes.Single(n => n.Layer == "m.fusion_bn.0").Inputs[0]);   // fusion_bn reads x1 after its ReLU
        var noRelu = Parse(Model("readonly RepGhostModule m = new(4, 6, relu: false);", "4, 5, 5", "m.Forward(x)", 6));
        Assert.Equal(new[] { "Conv2d", "BatchNorm", "Conv2d", "BatchNorm", "BatchNorm", "Add" }, Ops(noRelu));
    }

    [Theory]
    [InlineData("readonly GhostModule g = new(4, 5);", "g.Forward(x)", 5)]                        // ReLU: BN + ReLU fused, slice
    [InlineData("readonly GhostModule g = new(4, 6, relu: false);", "g.Forward(x)", 6)]           // BN alone (folded at inference)
    [InlineData("readonly GhostBottleneck g = new(4, 7, 4, seRatio: 0.25f);", "g.Forward(x)", 4)] // both modules, slices, residual
    [InlineData("readonly GhostModule g = new(4, 5, attention: true);", "g.Forward(x)", 5)]      // the slice feeds the attention Mul
    public void GhostConcatAndSliceCostNoCopy(string field, string body, int channels)
    {
        var plan = Planner.Build(Parse(Model(field, "4, 6, 6", body, channels)));
        foreach (var (program, name) in new[] { (plan.Infer, "inference"), (plan.Train, "training") })
        {
            Assert.DoesNotContain(program.Steps, s => s.Kernel == Utility.Copy);
            foreach (var concat in plan.Model.Nodes.Where(n => n.Op == OpKind.Concat))
            {
                // Both parts live in the concat's buffer, back to back; a slice of it is a view at the same place.
                var at = program.Values[concat.Id];
                int shift = at.Shift;
                foreach (int part in concat.Inputs)
                {
                    Assert.True(program.Values[part] == new Ref(at.Buffer, shift), $"{name}: part {part} of concat {concat.Id} is not in its buffer");
                    shift += plan.Model.Nodes[part].Size;
                }
                foreach (var slice in plan.Model.Nodes.Where(n => n.Op == OpKind.Slice && n.Inputs[0] == concat.Id))
                    Assert.Equal(at, program.Values[slice.Id]);
                if (program == plan.Train)
                    foreach (int part in concat.Inputs)
                        Assert.Equal(program.Grads[concat.Id].Buffer, program.Grads[part].Buffer);
            }
        }
    }
}
