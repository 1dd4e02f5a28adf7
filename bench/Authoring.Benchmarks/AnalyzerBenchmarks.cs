// Cost of the hardware-friendliness analyzers (issue 5: under 50 ms per 50-layer model file after
// warm-up). One generated model file with 50 layer fields (stem, 24 conv/depthwise + BatchNorm blocks
// with residual adds and a few costly activations, head), analysed by ModelAnalyzer through Roslyn's
// own analyzer driver (AnalyzeModelFile), and our parse + rules alone (ParseAndRulesOnly). No TorchSharp baseline: the figure to read is the median.
//
//   dotnet run -c Release --project bench/Authoring.Benchmarks -- --filter '*AnalyzerBenchmarks*'
using System.Collections.Immutable;
using System.Text;
using Authoring.Analyzers;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Authoring.Benchmarks;

public class AnalyzerBenchmarks
{
    CSharpCompilation _compilation = null!;
    ImmutableArray<DiagnosticAnalyzer> _analyzers;

    /// <summary>Layer fields in the generated model.</summary>
    public const int Layers = 50;

    [GlobalSetup]
    public void Setup()
    {
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
            .Append(typeof(Authoring.Tensor).Assembly.Location)
            .Distinct()
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
        var tree = CSharpSyntaxTree.ParseText(ModelSource(), path: "Model50.cs");
        _compilation = CSharpCompilation.Create("Bench", new[] { tree }, refs, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        _analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(new ModelAnalyzer());
        int found = Run(_compilation);
        if (found == 0) throw new InvalidOperationException("The 50-layer model should trip several rules.");
    }

    /// <summary>A fresh compilation each time (Clone drops bound state), so binding the model is included: what the IDE pays after an edit.</summary>
    [Benchmark]
    public int AnalyzeModelFile() => Run(_compilation.Clone());

    /// <summary>Only our work, on a fresh compilation: the shared parser (binding the model's Forward and layer
    /// initializers) and every rule, without the analyzer driver's whole-compilation pass.</summary>
    [Benchmark]
    public int ParseAndRulesOnly()
    {
        var compilation = _compilation.Clone();
        var type = compilation.GetTypeByMetadataName("Model50")!;
        int count = 0;
        ModelAnalyzer.Analyze(type, compilation.SyntaxTrees.First(), compilation, EmptyOptions.Instance, _ => count++, CancellationToken.None);
        return count;
    }

    sealed class EmptyOptions : AnalyzerConfigOptionsProvider
    {
        public static readonly EmptyOptions Instance = new();
        static readonly AnalyzerConfigOptions None = new Empty();
        public override AnalyzerConfigOptions GlobalOptions => None;
        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => None;
        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => None;

        sealed class Empty : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, out string value)
            {
                value = "";
                return false;
            }
        }
    }

    int Run(Compilation compilation) =>
        compilation.WithAnalyzers(_analyzers).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult().Length;

    /// <summary>Stem + 24 blocks of (conv or 7x7 depthwise) + BatchNorm, a residual add every second block, a head: 50 layers.</summary>
    public static string ModelSource()
    {
        const int blocks = (Layers - 2) / 2, c = 36; // 36 channels: MDL0001 on every dense conv
        var sb = new StringBuilder();
        sb.AppendLine("using Authoring;\nusing static Authoring.Ops;\n\n[Model]\npublic partial class Model50\n{");
        sb.AppendLine($"    readonly Conv2d stem = new(16, {c}, kernel: 3, padding: 1);");
        for (int i = 0; i < blocks; i++)
        {
            sb.AppendLine(i % 4 == 3
                ? $"    readonly DepthwiseConv2d conv{i} = new({c}, kernel: 7, padding: 3);"
                : $"    readonly Conv2d conv{i} = new({c}, {c}, kernel: 3, padding: 1, bias: false);");
            sb.AppendLine($"    readonly BatchNorm2d bn{i} = new({c});");
        }
        sb.AppendLine($"    readonly Linear head = new({c}, 10);\n");
        sb.AppendLine("    Tensor Forward([Shape(16, 16, 16)] Tensor x)\n    {");
        sb.AppendLine("        var h = Relu(stem.Forward(x));");
        for (int i = 0; i < blocks; i++)
        {
            string act = i % 6 == 5 ? "Sigmoid" : "Relu";
            sb.AppendLine(i % 2 == 1
                ? $"        h = {act}(bn{i}.Forward(conv{i}.Forward(h)) + h);"
                : $"        h = {act}(bn{i}.Forward(conv{i}.Forward(h)));");
        }
        sb.AppendLine("        return head.Forward(GlobalAvgPool(h));\n    }\n}");
        return sb.ToString();
    }
}
