// MDL0010: Sigmoid/Tanh in a [Model]'s forward pass, found through the generator's shared parser.
using Authoring.Analyzers.Rules;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;
using Verify = Authoring.Analyzers.Tests.Verifier<Authoring.Analyzers.Rules.CostlyActivationAnalyzer>;

namespace Authoring.Analyzers.Tests;

public class CostlyActivationAnalyzerTests
{
    const string Usings = """
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    [Fact]
    public async Task FlagsSigmoidAndTanhInForward()
    {
        await Verify.VerifyAsync(Usings + """
            [Model]
            public partial class Net
            {
                readonly Linear hidden = new(8, 8);
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x)
                {
                    var h = {|MDL0010:Tanh(hidden.Forward(x))|};
                    return head.Forward(x * {|MDL0010:Ops.Sigmoid(h)|});
                }
            }
            """);
    }

    [Fact]
    public async Task MessageNamesTheActivationAndTheReplacement()
    {
        await Verify.VerifyAsync(Usings + """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward({|#0:Sigmoid(x)|});
            }
            """,
            Verify.Diagnostic("MDL0010").WithSeverity(DiagnosticSeverity.Info).WithLocation(0)
                .WithArguments("Sigmoid", "HardSigmoid (or ReLU where no gate in [0, 1] is needed)"));
    }

    [Fact]
    public async Task FlagsSigmoidInAHelperMethodForwardCalls()
    {
        // The shared front end inlines helpers, so the call is found where it is written.
        await Verify.VerifyAsync(Usings + """
            [Model]
            public partial class Net
            {
                readonly Conv2d squeeze = new(8, 2, kernel: 1);
                readonly Conv2d excite = new(2, 8, kernel: 1);
                readonly Linear head = new(8, 2);
                Tensor Gate(Tensor t) => t * {|MDL0010:Sigmoid(excite.Forward(Relu(squeeze.Forward(Reshape(GlobalAvgPool(t), 8, 1, 1)))))|};
                Tensor Forward([Shape(8, 4, 4)] Tensor x) => head.Forward(GlobalAvgPool(Gate(x)));
            }
            """);
    }

    [Fact]
    public async Task HardActivationsAndNonModelsAreNotFlagged()
    {
        await Verify.VerifyAsync(Usings + """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x) => head.Forward(HardSwish(x) * HardSigmoid(x) + Relu6(Relu(x)));
            }

            // Not a model: the generator never compiles it, so there is nothing to make cheaper.
            public static class Blocks
            {
                public static Tensor Gate(Tensor t) => Sigmoid(t);
            }
            """);
    }

    [Fact]
    public async Task HalfTypedModelWithSemanticErrorsStillGetsTheHint()
    {
        // The parser stops quietly at the unknown name, keeping what it lowered before it.
        await Verify.VerifyAsync(Usings + """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x)
                {
                    var y = {|MDL0010:Sigmoid(x)|};
                    return head.Forward({|CS0103:missing|}.Forward(y));
                }
            }
            """);
    }

    [Fact]
    public async Task HalfTypedModelWithSyntaxErrorsDoesNotThrow()
    {
        var test = Verify.Create(Usings + """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(8, 2);
                Tensor Forward([Shape(8)] Tensor x)
                {
                    var y = Sigmoid(x);
                    return head.Forw
            """);
        // The compiler's own errors are not what this test is about; an analyzer exception (AD0001) would still fail it.
        test.CompilerDiagnostics = CompilerDiagnostics.None;
        await test.RunAsync();
    }

    [Fact]
    public async Task NoPrefixOfAModelMakesTheAnalyzerThrow()
    {
        const string model = Usings + """
            [Model]
            public partial class Net
            {
                const int C = 8;
                readonly Conv2d conv = new(C, C, kernel: 3, padding: 1);
                readonly Linear head = new(C, 2);
                Tensor Gate(Tensor t) => t * Sigmoid(t);
                Tensor Forward([Shape(C, 4, 4)] Tensor x) => head.Forward(GlobalAvgPool(Gate(Tanh(conv.Forward(x)))));
            }
            """;
        var references = LocalReferences.Framework().Add(MetadataReference.CreateFromFile(typeof(Authoring.ModelAttribute).Assembly.Location));
        var empty = CSharpCompilation.Create("Prefixes", references: references, options: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var failures = new List<string>();
        int flagged = 0;
        for (int n = 0; n <= model.Length; n += 5)
        {
            var compilation = empty.AddSyntaxTrees(CSharpSyntaxTree.ParseText(model.Substring(0, n), path: "/src/Model.cs"));
            var options = new CompilationWithAnalyzersOptions(new AnalyzerOptions(default), (ex, _, _) => failures.Add($"prefix {n}: {ex}"),
                concurrentAnalysis: false, logAnalyzerExecutionTime: false);
            var diagnostics = await compilation.WithAnalyzers([new CostlyActivationAnalyzer()], options).GetAnalyzerDiagnosticsAsync();
            failures.AddRange(diagnostics.Where(d => d.Id != "MDL0010").Select(d => $"prefix {n}: {d}"));
            if (n + 5 > model.Length) flagged = diagnostics.Count(d => d.Id == "MDL0010");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
        // The complete model (the last prefix) is flagged twice: the walk reached real code.
        Assert.Equal(2, flagged);
    }
}
