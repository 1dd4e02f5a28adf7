// The generated ExportOnnx as text: a model whose graph holds an op without an ONNX mapping gets a body that fails
// at once, naming the op and its layer, and writes none of the graph; nodes the output does not read are left out.
// (tests/Authoring.Onnx.Tests runs the generated methods in ONNX Runtime.)
using Authoring.Generators.Tests.Harness;

namespace Authoring.Generators.Tests.Emit;

public class OnnxEmitTests
{
    static string OnnxFile(string source, string file)
    {
        var run = GeneratorHarness.Run(source);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.True(run.OutputDiagnostics.IsEmpty, string.Join("\n", run.OutputDiagnostics));
        Assert.True(run.Sources.TryGetValue(file, out var text), $"no {file} among {string.Join(", ", run.Sources.Keys)}");
        return text!;
    }

    [Fact]
    public void EveryOpHasAnOnnxMapping()
    {
        // An op whose hook returns null makes ExportOnnx refuse with the op and layer named (OnnxEmitter); today every op
        // of the registry writes its ONNX form, so that refusal is for ops added without one.
        var missing = Authoring.Generators.Ops.OpRegistry.All
            .Where(op => op.GetType().GetMethod(nameof(Authoring.Generators.Ops.OpDef.Onnx))!.DeclaringType == typeof(Authoring.Generators.Ops.OpDef))
            .Select(op => op.Name)
            .ToList();
        Assert.True(missing.Count == 0, "ops without an ONNX hook: " + string.Join(", ", missing));
    }

    [Fact]
    public void PoissonIsWrittenAsRateSpikes()
    {
        // Our seeded draws have no ONNX form: the file draws its own uniforms with the same rule (u <= x).
        string text = OnnxFile("""
            using Authoring;
            using static Authoring.Ops;

            namespace Test;

            [Model]
            public partial class Spiking
            {
                readonly Linear fc = new(6, 7);
                readonly LIFNode lif = new(tau: 2f);
                readonly Linear head = new(7, 3);
                Tensor Forward([Shape(6)] Tensor x) => head.Forward(MeanOverTime(lif.Forward(fc.Forward(Poisson(Sigmoid(x), 4)))));
            }
            """, "Test.Spiking.Onnx.g.cs");
        Assert.Contains("b.RateSpikes(b.Tile(", text);
        Assert.DoesNotContain("b.Unsupported(", text);
    }

    [Fact]
    public void NeuronLayersAreUnrolledByTheBuilder()
    {
        string text = OnnxFile("""
            using Authoring;
            using static Authoring.Ops;

            namespace Test;

            [Model]
            public partial class Spiking
            {
                readonly Linear fc = new(6, 7);
                readonly ParametricLIFNode plif = new(initTau: 3f, vReset: NeuronLayer.SoftReset);
                readonly Linear head = new(7, 3);
                Tensor Forward([Shape(4, 6)] Tensor x) => head.Forward(MeanOverTime(plif.Forward(fc.Forward(x))));
            }
            """, "Test.Spiking.Onnx.g.cs");
        Assert.DoesNotContain("b.Unsupported(", text);
        // T = 4 steps, not static, the PLIF's w read from the store by the layer's name.
        Assert.Contains("b.SpikingNeuron(", text);
        Assert.Contains(", 4, false, ", text);
        Assert.Contains("NeuronDynamics.ParametricLif(", text);
        Assert.Contains("p, \"plif\")", text);
    }

    [Fact]
    public void OnlyNodesTheOutputReadsAreWritten()
    {
        string text = OnnxFile("""
            using Authoring;
            using static Authoring.Ops;

            namespace Test;

            [Model]
            public partial class Dead
            {
                readonly Linear fc = new(6, 3);
                Tensor Forward([Shape(6)] Tensor x)
                {
                    var unused = Exp(x);
                    return fc.Forward(Tanh(x));
                }
            }
            """, "Test.Dead.Onnx.g.cs");
        Assert.Contains("b.Tanh(", text);
        Assert.DoesNotContain("b.Exp(", text);
        Assert.Contains("b.Output(b.Identity(", text);
    }
}
