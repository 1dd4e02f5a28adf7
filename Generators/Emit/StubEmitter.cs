// The members of a model that cannot be compiled. Without them every use of the model (new Net(), model.Parameters,
// model.TrainStep(...), new Net.Gpu(device, parameters), model.ToDeploy(), model.ExportOnnx(path)) would be a CS1061 or CS0246 of its own,
// burying the one diagnostic that says what is wrong. With them the code using the model compiles, the model's AUT
// diagnostics (or the C# errors the parser stopped on) are the only errors, and anything that still runs the model
// throws an InvalidOperationException naming the model and its first diagnostic. The surface is the union of what
// generated models offer (EntryPoints.cs): every IModel overload, whatever the model takes and trains on.
using System.Globalization;
using System.IO;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit;

internal static class StubEmitter
{
    const string Span = "global::System.Span";
    const string ReadOnlySpan = "global::System.ReadOnlySpan";
    const string List = "global::System.Collections.Generic.IReadOnlyList";

    /// <summary>What the stub's members throw: the model, why it was not compiled, and where.</summary>
    public static string Reason(ModelIr m, EquatableArray<DiagnosticInfo> diagnostics)
    {
        if (diagnostics.Count == 0) return $"Model '{m.ClassName}' was not compiled: its source has C# errors. Fix them; until then the model has no code.";
        var d = diagnostics[0];
        string where = d.Location is { } loc
            ? $" at {Path.GetFileName(loc.FilePath)}({loc.LineSpan.Start.Line + 1},{loc.LineSpan.Start.Character + 1})"
            : "";
        string message = d.ToDiagnostic().GetMessage(CultureInfo.InvariantCulture);
        string more = diagnostics.Count > 1 ? $" (and {diagnostics.Count - 1} more)" : "";
        return $"Model '{m.ClassName}' was not compiled: {d.Id}{where}: {message}{more}. Fix the model's errors; until then it has no code.";
    }

    /// <summary>The stub of <paramref name="m"/>'s class (and its Gpu twin when the project references Authoring.Gpu).</summary>
    public static string Emit(ModelIr m, string reason, bool hasGpu)
    {
        var w = new CodeWriter();
        Header(w, m);
        string deploy = m.ClassName + "Deploy";
        w.Line($"/// <summary><c>{m.ClassName}</c> could not be compiled; these members only let the code that uses it compile, and throw.</summary>");
        w.Line(GeneratedCode);
        w.Open($"partial class {m.ClassName} : {Rt}.IModel");
        w.Line($"internal const string __NotCompiled = {EmitCommon.Literal(reason)};");
        w.Line();
        w.Line("static global::System.InvalidOperationException __Fail() => new(__NotCompiled);");
        w.Line();
        w.Line("/// <summary>Not available: the model was not compiled.</summary>");
        w.Line($"public static {List}<{Rt}.ParameterInfo> ParameterInfos => throw __Fail();");
        w.Line("/// <summary>Not available: the model was not compiled.</summary>");
        w.Line("public static int ArenaFloatsPerSample => throw __Fail();");
        Members(w);
        ExportOnnx(w);
        if (m.DeployNameFree)
        {
            w.Line($"/// <summary>Not available: the model was not compiled.</summary>");
            w.Line($"public {deploy} ToDeploy() => throw __Fail();");
            w.Line($"/// <summary>Not available: the model was not compiled.</summary>");
            w.Line($"public static {deploy} ToDeploy({Rt}.ParameterStore trained) => throw __Fail();");
        }
        if (hasGpu)
        {
            w.Line();
            w.Line("/// <summary>Not available: the model was not compiled.</summary>");
            w.Line(GeneratedCode);
            w.Open($"public sealed class Gpu : {Rt}.IModel, global::System.IDisposable");
            w.Line("/// <summary>Not available: the model was not compiled.</summary>");
            w.Line($"public Gpu(global::Authoring.Gpu.GpuDevice device, {Rt}.ParameterStore? parameters = null) => throw __Fail();");
            Members(w);
            w.Line("/// <inheritdoc/>");
            w.Line("public void Dispose() { }");
            w.Close();
        }
        w.Close();
        if (m.DeployNameFree)
        {
            // ToDeploy's result type: a declaration that uses it (`NetDeploy d = net.ToDeploy();`) compiles too.
            w.Line();
            w.Line($"/// <summary>The deploy form of <c>{m.ClassName}</c>, which could not be compiled; its members throw.</summary>");
            w.Line(GeneratedCode);
            w.Open($"{m.Modifiers} sealed partial class {deploy} : {Rt}.IModel");
            w.Line($"static global::System.InvalidOperationException __Fail() => new({m.ClassName}.__NotCompiled);");
            w.Line();
            w.Line("/// <summary>Not available: the model was not compiled.</summary>");
            w.Line($"public static {List}<{Rt}.ParameterInfo> ParameterInfos => throw __Fail();");
            Members(w);
            ExportOnnx(w);
            w.Close();
        }
        return w.ToString();
    }

    /// <summary>Every IModel member and every overload a generated model declares, each throwing.</summary>
    static void Members(CodeWriter w)
    {
        void Line(string member)
        {
            w.Line("/// <summary>Not available: the model was not compiled.</summary>");
            w.Line(member);
        }
        Line("public string Name => throw __Fail();");
        Line($"public {List}<int> InputShape => throw __Fail();");
        Line($"public {List}<int> OutputShape => throw __Fail();");
        Line("public int InputSize => throw __Fail();");
        Line("public int OutputSize => throw __Fail();");
        Line($"public {Rt}.InputKind InputKind => throw __Fail();");
        Line("public global::Authoring.Loss Loss => throw __Fail();");
        Line("public int TargetSize => throw __Fail();");
        Line($"public {Rt}.ParameterStore Parameters => throw __Fail();");
        Line("public ulong DropoutSeed { get => throw __Fail(); set => throw __Fail(); }");
        Line("public ulong TrainSteps { get => throw __Fail(); set => throw __Fail(); }");
        Line($"public void Infer({ReadOnlySpan}<float> input, int batch, {Span}<float> output) => throw __Fail();");
        Line($"public void Infer({ReadOnlySpan}<int> tokens, int batch, {Span}<float> output) => throw __Fail();");
        Line($"public {Rt}.StepResult TrainStep({ReadOnlySpan}<float> input, {ReadOnlySpan}<int> labels, int batch) => throw __Fail();");
        Line($"public {Rt}.StepResult TrainStep({ReadOnlySpan}<float> input, {ReadOnlySpan}<float> targets, int batch) => throw __Fail();");
        Line($"public {Rt}.StepResult TrainStep({ReadOnlySpan}<int> tokens, {ReadOnlySpan}<int> labels, int batch) => throw __Fail();");
        Line($"public {Rt}.StepResult TrainStep({ReadOnlySpan}<int> tokens, {ReadOnlySpan}<float> targets, int batch) => throw __Fail();");
    }

    /// <summary>The generated ExportOnnx overloads (OnnxEmitter), throwing: models and deploy twins have them, Gpu twins do not.</summary>
    static void ExportOnnx(CodeWriter w)
    {
        w.Line("/// <summary>Not available: the model was not compiled.</summary>");
        w.Line("public void ExportOnnx(string path, int opset = global::Authoring.Runtime.Onnx.OnnxGraphBuilder.DefaultOpset) => throw __Fail();");
        w.Line("/// <summary>Not available: the model was not compiled.</summary>");
        w.Line("public void ExportOnnx(global::System.IO.Stream stream, int opset = global::Authoring.Runtime.Onnx.OnnxGraphBuilder.DefaultOpset) => throw __Fail();");
    }
}
