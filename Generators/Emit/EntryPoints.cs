// The public surface of a generated model (Authoring.Runtime.IModel), the same for both backends: what the model
// takes and trains on, argument checks, the single-thread guard, inference in chunks that fit one arena, and the
// overloads that do not fit the model throwing with the call that does. Each backend supplies __InferCore and
// __TrainCore (copy in, the program's steps, copy out) and the constants __InferChunk and __MaxTrainBatch.
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit;

internal static class EntryPoints
{
    const string Span = "global::System.Span";
    const string ReadOnlySpan = "global::System.ReadOnlySpan";

    /// <summary>Elements one .NET array holds (Array.MaxLength): the CPU arena is one float array.</summary>
    public const long MaxArray = 0x7FFFFFC7;

    /// <summary>The vocabulary token ids are checked against: the smallest Embedding reading the input.</summary>
    public static int Vocabulary(ModelIr m) =>
        m.Nodes.Where(n => n.Op == OpKind.Embedding && n.Inputs[0] == 0).Select(n => n.Ints[0]).DefaultIfEmpty(int.MaxValue).Min();

    /// <summary>Constants and argument checks, written once in the model class (the GPU twin nests in it and uses them).</summary>
    public static void Shared(CodeWriter w, ModelIr m)
    {
        var loss = LossRegistry.Get(m.Loss);
        var output = m.Nodes[m.Output];
        w.Line($"const int __TargetSize = {loss.TargetSize(output)}, __Classes = {output.Shape[output.Shape.Count - 1]}, __Vocabulary = {Vocabulary(m)};");
        w.Line();
        w.Open($"static void __CheckBatch(int batch, long inputLength)");
        w.Line("if (batch <= 0) throw new global::System.ArgumentOutOfRangeException(nameof(batch), batch, \"Batch must be positive.\");");
        string unit = m.TakesTokens ? "token ids" : "floats";
        w.Line($"if (inputLength < (long)batch * __InputSize) throw new global::System.ArgumentException($\"Input holds {{inputLength}} {unit}; a batch of {{batch}} needs {{(long)batch * __InputSize}}.\", \"input\");");
        w.Close();
        w.Line();
        w.Open($"static void __CheckOutput(int batch, long outputLength)");
        w.Line("if (outputLength < (long)batch * __OutputSize) throw new global::System.ArgumentException($\"Output holds {outputLength} floats; a batch of {batch} needs {(long)batch * __OutputSize}.\", \"output\");");
        w.Close();
        w.Line();
        if (m.TakesTokens)
        {
            w.Open($"static void __CheckTokens({ReadOnlySpan}<int> tokens, int batch)");
            w.Line("for (int i = 0; i < batch * __InputSize; i++)");
            w.Line("    if ((uint)tokens[i] >= __Vocabulary) throw new global::System.ArgumentOutOfRangeException(\"tokens\", tokens[i], $\"Token id of sample {i / __InputSize}, position {i % __InputSize} is outside [0, {__Vocabulary}): the model's Embedding has {__Vocabulary} rows.\");");
            w.Close();
            w.Line();
        }
        if (loss.TakesLabels)
        {
            w.Open($"static void __CheckLabels({ReadOnlySpan}<int> labels, int batch)");
            w.Line("if (labels.Length < (long)batch * __TargetSize) throw new global::System.ArgumentException($\"Labels hold {labels.Length} entries; a batch of {batch} needs {(long)batch * __TargetSize} (one per \" + (__TargetSize == 1 ? \"sample).\" : $\"position, {__TargetSize} per sample).\"), \"labels\");");
            w.Line("for (int i = 0; i < batch * __TargetSize; i++)");
            w.Line($"    if ((uint)labels[i] >= __Classes && labels[i] != {CpuNs}.LossKernel.IgnoreIndex) throw new global::System.ArgumentOutOfRangeException(\"labels\", labels[i], $\"Label {{i}} (sample {{i / __TargetSize}}) is outside [0, {{__Classes}}) and not the ignored label {{({CpuNs}.LossKernel.IgnoreIndex)}}.\");");
            w.Close();
        }
        else
        {
            w.Open($"static void __CheckTargets({ReadOnlySpan}<float> targets, int batch)");
            w.Line("if (targets.Length < (long)batch * __TargetSize) throw new global::System.ArgumentException($\"Targets hold {targets.Length} floats; a batch of {batch} needs {(long)batch * __TargetSize} (the output's size per sample).\", \"targets\");");
            w.Line("for (int i = 0; i < batch * __TargetSize; i++)");
            w.Line("    if (!float.IsFinite(targets[i])) throw new global::System.ArgumentException($\"Target {i} (sample {i / __TargetSize}) is {targets[i]}: targets must be finite.\", \"targets\");");
            w.Close();
        }
        w.Line();
    }

    /// <summary>The IModel members of one backend's class.</summary>
    public static void Members(CodeWriter w, ModelIr m, string description)
    {
        var loss = LossRegistry.Get(m.Loss);
        string name = m.ClassName;
        w.Line("/// <inheritdoc/>");
        w.Line($"public string Name => \"{name}\";");
        w.Line("/// <inheritdoc/>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> InputShape {{ get; }} = {Shape(m.Nodes[0].Shape)};");
        w.Line("/// <inheritdoc/>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyList<int> OutputShape {{ get; }} = {Shape(m.Nodes[m.Output].Shape)};");
        w.Line("/// <inheritdoc/>");
        w.Line("public int InputSize => __InputSize;");
        w.Line("/// <inheritdoc/>");
        w.Line("public int OutputSize => __OutputSize;");
        w.Line("/// <inheritdoc/>");
        w.Line($"public {Rt}.InputKind InputKind => {Rt}.InputKind.{(m.TakesTokens ? "Tokens" : "Floats")};");
        w.Line("/// <inheritdoc/>");
        w.Line($"public global::Authoring.Loss Loss => global::Authoring.Loss.{m.Loss};");
        w.Line("/// <inheritdoc/>");
        w.Line("public int TargetSize => __TargetSize;");
        w.Line("/// <inheritdoc/>");
        w.Line($"public {Rt}.ParameterStore Parameters => __parameters;");
        w.Line($"/// <summary>Seed of the dropout masks; each training step draws fresh masks from it{description}.</summary>");
        w.Line("public ulong DropoutSeed { get; set; } = 0x5EEDUL;");
        w.Line("/// <summary>Training steps taken; with <see cref=\"DropoutSeed\"/> it seeds each step's dropout masks (checkpoints save it).</summary>");
        w.Line("public ulong TrainSteps { get => __steps; set => __steps = value; }");
        w.Line();
        w.Line("int __busy;");
        w.Line();
        w.Line("// One call at a time: the arena and state are the instance's. A second thread fails at once instead of");
        w.Line("// corrupting the first call's activations.");
        w.Open("void __Enter()");
        w.Line($"if (global::System.Threading.Interlocked.Exchange(ref __busy, 1) != 0) throw new global::System.InvalidOperationException(\"{name} is already running Infer or TrainStep on another thread: a model instance is single-threaded (its arena and state are shared between calls). Use one instance per thread; instances can share a ParameterStore for inference.\");");
        w.Close();
        w.Line();
        w.Line("void __Exit() => global::System.Threading.Volatile.Write(ref __busy, 0);");
        w.Line();

        string input = m.TakesTokens ? $"{ReadOnlySpan}<int> tokens" : $"{ReadOnlySpan}<float> input";
        string inputName = m.TakesTokens ? "tokens" : "input";
        string core = m.TakesTokens ? "default, tokens" : "input, default";

        // Inference, in chunks whose arena fits (the CPU arena is one array).
        w.Line("/// <inheritdoc/>");
        w.Open($"public void Infer({input}, int batch, {Span}<float> output)");
        w.Line($"__CheckBatch(batch, {inputName}.Length);");
        w.Line("__CheckOutput(batch, output.Length);");
        if (m.TakesTokens) w.Line("__CheckTokens(tokens, batch);");
        w.Line("__Enter();");
        w.Open("try");
        w.Open("for (int start = 0; start < batch; start += __InferChunk)");
        w.Line("int n = global::System.Math.Min(__InferChunk, batch - start);");
        w.Line($"__InferCore({(m.TakesTokens ? "default" : "input.Slice(start * __InputSize, n * __InputSize)")}, {(m.TakesTokens ? "tokens.Slice(start * __InputSize, n * __InputSize)" : "default")}, n, output.Slice(start * __OutputSize, n * __OutputSize));");
        w.Close();
        w.Close();
        w.Line("finally { __Exit(); }");
        w.Close();
        w.Line();
        if (m.TakesTokens)
        {
            w.Line("/// <inheritdoc/>");
            w.Line($"public void Infer({ReadOnlySpan}<float> input, int batch, {Span}<float> output) => throw new global::System.InvalidOperationException(\"{name} takes token ids: call Infer(ReadOnlySpan<int> tokens, batch, output).\");");
            w.Line();
        }

        // Training: one batch, one arena (splitting it would change BatchNorm's statistics).
        string targets = loss.TakesLabels ? $"{ReadOnlySpan}<int> labels" : $"{ReadOnlySpan}<float> targets";
        w.Line("/// <inheritdoc/>");
        w.Open($"public {Rt}.StepResult TrainStep({input}, {targets}, int batch)");
        w.Line($"__CheckBatch(batch, {inputName}.Length);");
        w.Line($"if (batch > __MaxTrainBatch) throw new global::System.ArgumentOutOfRangeException(nameof(batch), batch, $\"A training step of {name} on {{batch}} samples needs {{(long)batch * __TrainArena}} floats of activations, more than one arena holds (at most {{__MaxTrainBatch}} samples); use smaller batches (the model does not split one: BatchNorm's statistics would change).\");");
        if (m.TakesTokens) w.Line("__CheckTokens(tokens, batch);");
        w.Line(loss.TakesLabels ? "__CheckLabels(labels, batch);" : "__CheckTargets(targets, batch);");
        w.Line("__Enter();");
        w.Line($"try {{ return __TrainCore({core}, {(loss.TakesLabels ? "labels, default" : "default, targets")}, batch); }}");
        w.Line("finally { __Exit(); }");
        w.Close();
        w.Line();
        // The overload IModel requires whatever the model takes: float input with integer labels.
        if (m.TakesTokens || !loss.TakesLabels)
        {
            string right = $"TrainStep({(m.TakesTokens ? "ReadOnlySpan<int> tokens" : "input")}, {(loss.TakesLabels ? "ReadOnlySpan<int> labels" : "ReadOnlySpan<float> targets")}, batch)";
            string why = m.TakesTokens ? "takes token ids" : $"trains with Loss.{m.Loss} on float targets";
            w.Line("/// <inheritdoc/>");
            w.Line($"public {Rt}.StepResult TrainStep({ReadOnlySpan}<float> input, {ReadOnlySpan}<int> labels, int batch) => throw new global::System.InvalidOperationException(\"{name} {why}: call {right}.\");");
            w.Line();
        }
    }

    /// <summary>Signature of a backend's inference core (n samples, already checked).</summary>
    public static string InferCore => $"void __InferCore({ReadOnlySpan}<float> input, {ReadOnlySpan}<int> tokens, int n, {Span}<float> output)";

    /// <summary>Signature of a backend's training core.</summary>
    public static string TrainCore =>
        $"{Rt}.StepResult __TrainCore({ReadOnlySpan}<float> input, {ReadOnlySpan}<int> tokens, {ReadOnlySpan}<int> labels, {ReadOnlySpan}<float> targets, int n)";

    /// <summary>Largest chunk of samples whose arena of <paramref name="perSample"/> floats stays under <paramref name="limit"/>.</summary>
    public static int Chunk(long limit, int perSample) => (int)System.Math.Max(1, System.Math.Min(int.MaxValue, limit / System.Math.Max(1, perSample)));
}
