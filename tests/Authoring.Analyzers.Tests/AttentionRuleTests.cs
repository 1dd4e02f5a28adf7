// MDL0017 quadratic attention on a long sequence: silent below 1,024 tokens; ScaledDotProductAttention over a long
// sequence is flagged with a fix to LinearAttention (a positional causal argument gets its name); a hand-written
// Softmax(MatMul(q, k^T)) over long rows is flagged without a fix.
using Authoring.Analyzers.CodeFixes;

namespace Authoring.Analyzers.Tests;

public class AttentionRuleTests
{
    const string Model = Refs.Usings + """
        [Model]
        public partial class M
        {
            const int N = SEQ, D = 16;
            readonly Linear q = new(D, D);
            readonly Linear head = new(D, 10);

            Tensor Forward([Shape(N, D)] Tensor x) => head.Forward(Mean(ATT, 0));
        }
        """;

    static string Make(int seq, string att) => Model.Replace("SEQ", seq.ToString()).Replace("ATT", att);

    [Fact]
    public Task MDL0017_Negative_ShortSequence() =>
        Verify.Analyzer(Make(1023, "ScaledDotProductAttention(q.Forward(x), x, x, 2, true)"), Verify.Avx2);

    [Fact]
    public Task MDL0017_Negative_LinearAttention() =>
        Verify.Analyzer(Make(4096, "LinearAttention(q.Forward(x), x, x, 2, causal: true)"), Verify.Avx2);

    [Fact]
    public Task MDL0017_FixNamesAPositionalCausal() => Verify.Fix<UseLinearAttentionCodeFixProvider>(
        Make(1024, "{|MDL0017:ScaledDotProductAttention(q.Forward(x), x, x, 2, true)|}"),
        Make(1024, "LinearAttention(q.Forward(x), x, x, 2, causal: true)"));

    [Fact]
    public Task MDL0017_FixKeepsNamedArgumentsAndQualifiedName() => Verify.Fix<UseLinearAttentionCodeFixProvider>(
        Make(2048, "{|MDL0017:Ops.ScaledDotProductAttention(q.Forward(x), x, x, heads: 4)|}"),
        Make(2048, "Ops.LinearAttention(q.Forward(x), x, x, heads: 4)"));

    [Fact]
    public Task MDL0017_HandWrittenSoftmaxAttentionHasNoFix() => Verify.Fix<UseLinearAttentionCodeFixProvider>(
        Make(1024, "MatMul({|MDL0017:Softmax(MatMul(q.Forward(x), x, transposeB: true) * 0.25f)|}, x)"),
        Make(1024, "MatMul({|MDL0017:Softmax(MatMul(q.Forward(x), x, transposeB: true) * 0.25f)|}, x)"), iterations: 0);
}
