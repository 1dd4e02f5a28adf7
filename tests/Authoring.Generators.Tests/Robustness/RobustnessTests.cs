// The generator must never crash (a crash is a silent CS8785 warning and missing code) and must stay
// quiet about models that are not yet valid C#: while the user types, the compiler's errors are the answer.
// Fuzzing found two bugs: AUT0099 on every half-typed Forward (planner run on a model with no output)
// and AUT0002/AUT0010 reported on classes cut short while typing.
using Authoring.Generators.Tests.Harness;
using Microsoft.CodeAnalysis;

namespace Authoring.Generators.Tests.Robustness;

public class RobustnessTests
{
    const string Usings = """
        using System;
        using Authoring;
        using static Authoring.Ops;

        namespace Test;

        """;

    public static TheoryData<string, string> HalfTyped => new()
    {
        { "cut inside a call", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    return head.Forw
            """ },
        { "missing semicolon", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    x = Relu(x)
                    return head.Forward(x);
                }
            }
            """ },
        { "undefined layer", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(Relu(missing.Forward(x)));
            }
            """ },
        { "wrong argument type", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(MaxPool(x, "2")));
            }
            """ },
        { "unknown layer type", """
            [Model]
            public partial class Net
            {
                readonly Conv3d conv = new(1, 4, 3);
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(conv.Forward(x)));
            }
            """ },
        { "layer argument of the wrong type", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, "two");
                Tensor Forward([Shape(4)] Tensor x) => head.Forward(x);
            }
            """ },
        { "shape argument not an int", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4.5)] Tensor x) => head.Forward(x);
            }
            """ },
        { "undefined local", """
            [Model]
            public partial class Net
            {
                readonly Linear head = new(4, 2);
                Tensor Forward([Shape(4)] Tensor x)
                {
                    var y = Relu(z);
                    return head.Forward(y);
                }
            }
            """ },
    };

    [Theory]
    [MemberData(nameof(HalfTyped))]
    public void HalfTypedModelGetsNoModelDiagnostics(string what, string body)
    {
        var run = GeneratorHarness.Run(Usings + body);
        Assert.True(run.Result.Exception is null, $"{what}: generator threw {run.Result.Exception}");
        Assert.False(run.InputErrors.IsEmpty, $"{what}: the test source was meant to have C# errors");
        Assert.True(run.AutDiagnostics.IsEmpty, $"{what}: " + string.Join("\n", run.AutDiagnostics));
    }

    /// <summary>Every prefix at a stride of 7 characters, as if the file were being typed.</summary>
    static IEnumerable<string> Prefixes(string source)
    {
        for (int n = 0; n < source.Length; n += 7) yield return source.Substring(0, n);
    }

    /// <summary>Edits a typing or refactoring user makes: lines deleted, numbers made
    /// zero or negative, names misspelt, modifiers dropped, brackets unbalanced.</summary>
    static IEnumerable<string> Variants(string source)
    {
        var lines = source.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            yield return string.Join('\n', lines.Where((_, j) => j != i));
        foreach (var (from, to) in new[]
        {
            ("1", "0"), ("2", "-2"), ("3", "-1"), ("28", "0"), ("(1, ", "("), ("Tensor", "Tensr"), ("Forward", "Forwad"),
            ("partial ", ""), ("const ", ""), ("readonly ", "static readonly "), ("[Model]", "[Model, Model]"),
            ("(x)", "()"), ("(x)", "(x, x)"), (")", ""), ("}", ""), ("{", "{{"), ("new(", "new Conv2d("), ("x = ", "var x = "),
            ("Relu", "Sigmoid"), ("Relu(", "Relu(Relu("), ("GlobalAvgPool", "Flatten"), ("MaxPool(x, 2)", "MaxPool(x, 2, 2, 1)"),
        })
        {
            // One occurrence at a time (the interesting breakage is in one place), at most four spread
            // over the file: each run costs a compilation, and the whole class must stay fast.
            var at = new List<int>();
            for (int i = source.IndexOf(from, StringComparison.Ordinal); i >= 0; i = source.IndexOf(from, i + 1, StringComparison.Ordinal))
                at.Add(i);
            foreach (int i in at.Where((_, k) => at.Count <= 4 || k % ((at.Count + 3) / 4) == 0))
                yield return source.Substring(0, i) + to + source.Substring(i + from.Length);
        }
    }

    static void AssertNeverCrashes(IEnumerable<string> sources)
    {
        var failures = new List<string>();
        int count = 0;
        foreach (var source in sources)
        {
            count++;
            var run = GeneratorHarness.Run(source);
            if (run.Result.Exception is not null)
                failures.Add($"threw {run.Result.Exception.GetType().Name}: {run.Result.Exception.Message}");
            foreach (var d in run.GeneratorDiagnostics.Where(d => d.Id is "CS8785" or "AUT0099"))
                failures.Add(d.ToString());
            // Syntax errors only: they are free to ask for, and mean the user is still typing.
            bool typing = run.Input.SyntaxTrees.Any(t => t.GetDiagnostics().Any(d => d.Severity == DiagnosticSeverity.Error));
            if (typing && !run.AutDiagnostics.IsEmpty)
                failures.Add("model diagnostics on code with syntax errors: " + string.Join("; ", run.AutDiagnostics));
            if (failures.Count > 0)
            {
                failures.Add("on source:\n" + source);
                break;
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(count > 50, $"only {count} sources were tried");
    }

    [Fact]
    public void PrefixesOfTheSampleNeverCrash() => AssertNeverCrashes(Prefixes(TestModels.SmallCnn));

    [Fact]
    public void PrefixesOfTheGhostModelNeverCrash() => AssertNeverCrashes(Prefixes(TestModels.Ghost));

    [Fact]
    public void MalformedVariantsOfTheSampleNeverCrash() => AssertNeverCrashes(Variants(TestModels.SmallCnn));

    [Fact]
    public void MalformedVariantsOfTheGhostModelNeverCrash() => AssertNeverCrashes(Variants(TestModels.Ghost));
}
