// Whole graphs through the builder by hand, as the generated ExportOnnx writes them (ExportTests checks the generated
// method itself): the FashionCnn sample's deploy model (every conv + BN folded) op by op, weights by state_dict name
// from its ParameterStore, against the model's own Infer; the training form with BatchNormalization nodes from
// running statistics, which the generated export never writes for this model; and the errors an export must raise
// instead of writing a wrong file.
// Tolerance: logits of a 10-layer float32 network whose intermediate sums run over up to 1,152 terms; ONNX Runtime
// and our kernels sum in different orders, so each layer adds relative error of order sqrt(K) u ~ 2e-6 and the
// logits (scale ~1) end up within a few 1e-6 of each other: 1e-4 absolute + 1e-4 relative leaves a wide margin
// for the accumulation through depth while still failing on any wrong weight, pad or stride (those move logits
// by 1e-2 or more).
using Authoring.Runtime;
using Authoring.Runtime.Cpu;
using Authoring.Runtime.Onnx;
using FashionCnn;

namespace Authoring.Onnx.Tests;

public class OnnxModelTests
{
    const double Tol = 1e-4;

    static Conv2dShape Conv(int cin, int hw, int cout, int k, int pad, int groups = 1) => new(cin, hw, hw, cout, k, k, 1, 1, pad, pad, 1, 1, groups);
    static Pool2dShape Pool2(int c, int hw) => new(c, hw, hw, 2, 2, 2, 2, 0, 0);

    /// <summary>SmallCnn's Forward, layer by layer. <paramref name="folded"/>: the deploy model (conv with bias, no BN);
    /// otherwise the trained model in evaluation mode (bias-free conv, then BatchNormalization).</summary>
    static OnnxGraphBuilder SmallCnnGraph(ParameterStore p, bool folded, int opset = OnnxGraphBuilder.DefaultOpset)
    {
        var b = new OnnxGraphBuilder(folded ? "SmallCnnDeploy" : "SmallCnn", opset);
        b.Metadata["source"] = "tests";
        string ConvBnRelu(string x, string conv, string bn, in Conv2dShape s) =>
            b.Relu(folded ? b.Conv(x, p, conv, s, hasBias: true) : b.BatchNormalization(b.Conv(x, p, conv, s, hasBias: false), p, bn));

        string x = b.Input("input", 1, 28, 28);
        x = ConvBnRelu(x, "stem", "stemBn", Conv(1, 28, 32, 3, 1));
        x = b.MaxPool(x, Pool2(32, 28));
        x = ConvBnRelu(x, "conv", "convBn", Conv(32, 14, 64, 3, 1));
        x = ConvBnRelu(x, "dw1", "dw1Bn", Conv(64, 14, 64, 3, 1, groups: 64));
        x = ConvBnRelu(x, "pw1", "pw1Bn", Conv(64, 14, 128, 1, 0));
        x = b.MaxPool(x, Pool2(128, 14));
        x = ConvBnRelu(x, "dw2", "dw2Bn", Conv(128, 7, 128, 3, 1, groups: 128));
        x = ConvBnRelu(x, "pw2", "pw2Bn", Conv(128, 7, 128, 1, 0));
        x = b.Flatten(b.GlobalAveragePool(x));   // dropout is the identity in evaluation
        b.Output(b.Linear(x, p, "head", hasBias: true, name: "logits"), 10);
        return b;
    }

    static SmallCnn Trained()
    {
        var model = new SmallCnn();
        model.Parameters.Initialize(5);
        // Non-trivial running statistics and affine parameters, so a BN mapped wrongly cannot pass.
        var rng = new Random(6);
        foreach (var info in model.Parameters.Infos.Where(i => !i.Name.EndsWith("weight", StringComparison.Ordinal) || i.Role == ParameterRole.NormWeight))
        {
            var v = model.Parameters.Value(info.Name);
            for (int i = 0; i < v.Length; i++)
                v[i] = info.Role switch
                {
                    ParameterRole.RunningVar => 0.5f + rng.NextSingle(),
                    ParameterRole.NormWeight => 0.5f + rng.NextSingle(),
                    _ => 0.2f * (rng.NextSingle() - 0.5f),
                };
        }
        return model;
    }

    [Theory]
    [InlineData(17)]
    [InlineData(20)]
    public void SmallCnnDeployRunsInOnnxRuntimeAsInfer(int opset)
    {
        var deploy = Trained().ToDeploy();
        byte[] file = SmallCnnGraph(deploy.Parameters, folded: true, opset).ToBytes();
        foreach (int n in new[] { 4, 1 })   // one file, two batch sizes: the batch is symbolic
        {
            var x = Ort.Random(30 + n, n * 784, 0f, 1f);
            var got = Ort.Run(file, "input", x, [n, 1, 28, 28], out var shape);
            Assert.Equal([n, 10L], shape);
            var want = new float[n * 10];
            deploy.Infer(x, n, want);
            Ort.Close(got, want, Tol, Tol, $"SmallCnnDeploy logits (batch {n})");
        }
    }

    [Fact]
    public void SmallCnnWithBatchNormalizationNodesMatchesEvaluationMode()
    {
        var model = Trained();
        byte[] file = SmallCnnGraph(model.Parameters, folded: false).ToBytes();
        const int n = 3;
        var x = Ort.Random(40, n * 784, 0f, 1f);
        var got = Ort.Run(file, "input", x, [n, 1, 28, 28], out _);
        var want = new float[n * 10];
        model.Infer(x, n, want);
        Ort.Close(got, want, Tol, Tol, "SmallCnn logits");
    }

    [Fact]
    public void SavedFileIsTheSameBytesAndDeclaresItsOpsetAndSymbolicBatch()
    {
        var deploy = Trained().ToDeploy();
        var b = SmallCnnGraph(deploy.Parameters, folded: true);
        string path = Path.Combine(Path.GetTempPath(), $"authoring-onnx-{Environment.ProcessId}.onnx");
        try
        {
            b.Save(path);
            Assert.Equal(b.ToBytes(), File.ReadAllBytes(path));
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
            var input = session.InputMetadata["input"];
            Assert.Equal([-1, 1, 28, 28], input.Dimensions);            // -1: symbolic
            Assert.Equal(OnnxGraphBuilder.BatchDimension, input.SymbolicDimensions[0]);
            Assert.Equal("Authoring", session.ModelMetadata.ProducerName);
            Assert.Equal("SmallCnnDeploy", session.ModelMetadata.GraphName);
            Assert.Equal("tests", session.ModelMetadata.CustomMetadataMap["source"]);
            Assert.Equal(["logits"], session.OutputNames);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ParametersAreInitializersNamedAsTheStateDict()
    {
        var deploy = Trained().ToDeploy();
        var b = SmallCnnGraph(deploy.Parameters, folded: true);
        byte[] file = b.ToBytes();
        // Every state_dict name appears in the file exactly as a length-prefixed string (a TensorProto name).
        foreach (var info in deploy.Parameters.Infos)
        {
            byte[] name = System.Text.Encoding.UTF8.GetBytes(info.Name);
            byte[] field = [0x42, (byte)name.Length, .. name];   // field 8 (name), wire type 2
            Assert.True(file.AsSpan().IndexOf(field) >= 0, $"no initializer named '{info.Name}'");
        }
        // Asking twice for a parameter gives the one initializer; a different shape for it is an error.
        Assert.Equal("head.bias", b.Parameter(deploy.Parameters, "head.bias"));
        Assert.Throws<OnnxExportException>(() => b.Parameter(deploy.Parameters, "head.bias", [10, 1, 1]));
        var e = Assert.Throws<OnnxExportException>(() => b.Parameter(deploy.Parameters, "head.scale"));
        Assert.Contains("head.scale", e.Message);
    }

    [Fact]
    public void AnOpWithoutMappingFailsTheExportWithItsName()
    {
        var b = new OnnxGraphBuilder("Net");
        b.Input("x", 3);
        var e = Assert.Throws<OnnxExportException>(() => b.Unsupported("LinearAttention", "field 'attn'"));
        Assert.Contains("LinearAttention", e.Message);
        Assert.Contains("field 'attn'", e.Message);
        Assert.Contains("no ONNX mapping", e.Message);
    }

    [Fact]
    public void MistakesAreErrorsNotBrokenFiles()
    {
        var b = new OnnxGraphBuilder("Net");
        string x = b.Input("x", 4);
        // A value nobody defined, a name used twice, no output, a wrong initializer size, an opset out of range.
        Assert.Contains("'y'", Assert.Throws<OnnxExportException>(() => b.Relu("y")).Message);
        Assert.Throws<OnnxExportException>(() => b.Relu(x, name: "x"));
        Assert.Contains("no graph output", Assert.Throws<OnnxExportException>(() => b.ToBytes()).Message);
        Assert.Throws<OnnxExportException>(() => b.Initializer("w", new float[5], 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxGraphBuilder("Net", 16));
        Assert.Throws<OnnxExportException>(() => b.Output("nothing", 4));
        b.Output(b.Relu(x), 4);
        Assert.Throws<OnnxExportException>(() => b.Output("Relu_0", 4));
        Assert.NotEmpty(b.ToBytes());
    }
}
