// The training losses a model declares ([Model(Loss = ...)]), one definition each: which outputs it can train
// (anything else is AUT0012 at the returned value), what targets a step takes, and its kernel, which writes the
// mean loss and the output's gradient. PyTorch's definitions with mean reduction.
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;

namespace Authoring.Generators.Ops;

internal abstract class LossDef
{
    /// <summary>The Authoring.Loss member's name.</summary>
    public abstract string Name { get; }

    /// <summary>Integer labels (cross-entropy) or float targets.</summary>
    public abstract bool TakesLabels { get; }

    /// <summary>Why an output of this shape cannot be trained with this loss (with what to do), or null.</summary>
    public virtual string? Check(IReadOnlyList<int> output) => null;

    /// <summary>Labels or target floats per sample.</summary>
    public virtual int TargetSize(Node output) => output.Size;

    /// <summary>Leading axes the kernel folds into its rows.</summary>
    public virtual int Fold(Node output) => 1;

    /// <summary>Io: output, output gradient. Sets the step's result.</summary>
    public abstract Kernel Kernel { get; }
}

internal static class LossRegistry
{
    static readonly Dictionary<string, LossDef> ByName = new()
    {
        ["CrossEntropy"] = new CrossEntropyLoss(),
        ["Mse"] = new ElementLoss("Mse", 0, "MeanSquaredError"),
        ["L1"] = new ElementLoss("L1", 1, "MeanAbsoluteError"),
        ["BceWithLogits"] = new ElementLoss("BceWithLogits", 2, "BceWithLogits"),
    };

    public static LossDef? Find(string name) => ByName.TryGetValue(name, out var d) ? d : null;

    public static LossDef Get(string name) => ByName[name];
}

/// <summary>Softmax cross-entropy over the last axis: one label per sample for (classes), one per position for
/// (N, classes); label smoothing from the model; label -100 ignored.</summary>
internal sealed class CrossEntropyLoss : LossDef
{
    public override string Name => "CrossEntropy";

    public override bool TakesLabels => true;

    public override string? Check(IReadOnlyList<int> output)
    {
        if (output.Count > 2)
            return "cross-entropy trains (classes) logits, one label per sample, or (N, classes), one label per position; "
                + "a feature map needs GlobalAvgPool or Flatten then a Linear to the classes";
        return output[output.Count - 1] >= 2 ? null
            : "a softmax over a single class is always 1, so the loss is 0 and nothing trains; for one output declare "
              + "[Model(Loss = Loss.Mse)] (regression) or Loss.BceWithLogits (a yes/no label)";
    }

    static int Classes(Node output) => output.Shape[output.Shape.Count - 1];

    public override int TargetSize(Node output) => output.Size / Classes(output);

    public override int Fold(Node output) => TargetSize(output);

    public override Kernel Kernel { get; } = new("Loss",
        (c, s) => c.Line($"result = {EmitCommon.CpuNs}.LossKernel.CrossEntropy({c.N}, {Classes(s.Node!)}, {c.V(s.Io[0])}, labels, {EmitCommon.F(c.Model.LabelSmoothing)}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.CrossEntropy({g.N}, {Classes(s.Node!)}, {g.V(s.Io[0])}, __labels!.View.SubView(0, {g.N}), {EmitCommon.F(g.Model.LabelSmoothing)}, {g.V(s.Io[1])}, __result.View);"));
}

/// <summary>MSE, L1 and BCE with logits: every element of the output against a float target of the same place.</summary>
internal sealed class ElementLoss : LossDef
{
    readonly string _name;

    public ElementLoss(string name, int gpuKind, string cpuMethod)
    {
        _name = name;
        Kernel = new Kernel("Loss",
            (c, s) => c.Line($"result = {EmitCommon.CpuNs}.LossKernel.{cpuMethod}(n, {s.Node!.Size}, {c.V(s.Io[0])}, targets, {c.V(s.Io[1])});"),
            (g, s) => g.Line($"__k.ElementLoss({gpuKind}, n, {s.Node!.Size}, {g.V(s.Io[0])}, __targets!.View.SubView(0, (long)n * {s.Node.Size}), {g.V(s.Io[1])}, __result.View);"));
    }

    public override string Name => _name;

    public override bool TakesLabels => false;

    public override Kernel Kernel { get; }
}
