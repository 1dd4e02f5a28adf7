// Spiking rules: MDL0021 (float multiply on spikes, softmax attention over spikes) and MDL0022 (non-binary spike
// residual), positive and negative cases; and MDL0001 leaving a spiking classifier's head alone (its logits reach the
// output through MeanOverTime).
namespace Authoring.Analyzers.Tests;

public class SpikingRuleTests
{
    const string U = Refs.Usings;

    // ---- MDL0022: Add of two spike tensors feeding a neuron ----

    const string Residual = U + """
        [Model]
        public partial class M
        {
            readonly Conv2d c1 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b1 = new(8);
            readonly LIFNode n1 = new();
            readonly Conv2d c2 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b2 = new(8);
            readonly LIFNode n2 = new();
            readonly Conv2d c3 = new(8, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b3 = new(8);
            readonly LIFNode n3 = new();
            readonly Linear fc = new(8, 10);

            Tensor Forward([Shape(8, 4, 4)] Tensor x)
            {
                var m1 = b1.Forward(c1.Forward(Repeat(x, 4)));
                var s1 = n1.Forward(m1);
                var s2 = n2.Forward(b2.Forward(c2.Forward(s1)));
                BODY
                return fc.Forward(GlobalAvgPool(MeanOverTime(s3)));
            }
        }
        """;

    [Fact]
    public Task MDL0022_SpikeSumFeedsANeuron() => Verify.Analyzer(Residual.Replace("BODY", """
        var r = {|MDL0022:s1 + s2|};
                var s3 = n3.Forward(b3.Forward(c3.Forward(r)));
        """));

    [Fact]
    public Task MDL0022_SpikeSumThroughPoolingFeedsANeuron() => Verify.Analyzer(Residual.Replace("BODY", """
        var r = MaxPool({|MDL0022:Add(s1, s2)|}, 2, 1);
                var s3 = n3.Forward(b3.Forward(c3.Forward(UpsampleNearest(r, 4, 4))));
        """));

    [Fact]
    public Task MDL0022_Negative_MembraneShortcut() => Negative(Residual.Replace("BODY", """
        var s3 = n3.Forward(b3.Forward(c3.Forward(s2)) + m1);
        """));

    [Fact]
    public Task MDL0022_Negative_SumReadOnlyByTheReadout() => Negative(Residual.Replace("BODY", """
        var s3 = s1 + s2;
        """));

    // ---- MDL0021: spikes times a dense float activation ----

    [Fact]
    public Task MDL0021_SpikesTimesDenseActivation() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Linear fq = new(16, 16);
            readonly LIFNode nq = new();
            readonly Linear fd = new(16, 16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(4, 16)] Tensor x)
            {
                var q = nq.Forward(fq.Forward(x));
                var y = {|MDL0021:q * Relu(fd.Forward(x))|};
                return fc.Forward(MeanOverTime(y));
            }
        }
        """);

    [Fact]
    public Task MDL0021_MatMulOfSpikesAndDense() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Linear fq = new(16, 16);
            readonly LIFNode nq = new();
            readonly Linear fd = new(16, 16);
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(4, 16)] Tensor x)
            {
                var q = nq.Forward(fq.Forward(x));
                var a = {|MDL0021:MatMul(q, fd.Forward(x), transposeB: true)|};   // (4, 4)
                return fc.Forward(MeanOverTime(MatMul(a, x)));
            }
        }
        """);

    [Fact]
    public Task MDL0021_SoftmaxAttentionOverSpikes_ReportedOnce() => Verify.Analyzer(U + """
        [Model]
        public partial class M
        {
            readonly Linear fq = new(16, 16);
            readonly LIFNode nq = new();
            readonly Linear fk = new(16, 16);
            readonly LIFNode nk = new();
            readonly Linear fv = new(16, 16);
            readonly LIFNode nv = new();
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(4, 16)] Tensor x)
            {
                var q = nq.Forward(fq.Forward(x));
                var k = nk.Forward(fk.Forward(x));
                var v = nv.Forward(fv.Forward(x));
                var p = {|MDL0021:Softmax(MatMul(q, k, transposeB: true) * 0.25f)|};
                return fc.Forward(MeanOverTime(MatMul(p, v)));
            }
        }
        """);

    [Fact]
    public Task MDL0021_Negative_SpikeDrivenOps() => Negative(U + """
        [Model]
        public partial class M
        {
            readonly Linear fq = new(16, 16);
            readonly LIFNode nq = new();
            readonly Linear fk = new(16, 16);
            readonly LIFNode nk = new();
            readonly Linear fc = new(16, 10);

            Tensor Forward([Shape(4, 16)] Tensor x)
            {
                var q = nq.Forward(fq.Forward(x));                  // Linear on spikes: masked additions
                var k = nk.Forward(fk.Forward(q));
                var both = q * k;                                    // AND of two spike tensors
                var counts = MatMul(q, k, transposeA: true);         // spikes by spikes: integer counts, (16, 16)
                return fc.Forward(MeanOverTime(both * 0.5f) + Sum(counts, 0));
            }
        }
        """);

    // ---- MDL0001 and the spiking readout ----

    [Fact]
    public Task MDL0001_Negative_HeadAveragedOverTime() => Negative(U + """
        [Model]
        public partial class M
        {
            readonly Conv2d c1 = new(1, 8, kernel: 3, padding: 1, bias: false);
            readonly BatchNorm2d b1 = new(8);
            readonly LIFNode n1 = new();
            readonly Linear head = new(8 * 4 * 4, 10);

            Tensor Forward([Shape(1, 4, 4)] Tensor x)
            {
                var s = n1.Forward(b1.Forward(c1.Forward(Repeat(x, 4))));
                return MeanOverTime(head.Forward(Reshape(s, 4, 8 * 4 * 4)));
            }
        }
        """);


    /// <summary>No diagnostic, on a model the generator accepts: the analyzers are silent on invalid models, so a
    /// negative case on an invalid one would pass without checking anything.</summary>
    static Task Negative(string source)
    {
        var (diagnostics, _) = Harness.Generate(Harness.Compile(source));
        Assert.DoesNotContain(diagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        return Verify.Analyzer(source);
    }
}
