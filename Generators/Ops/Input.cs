// The model's input: a float tensor of the [Shape] per sample, copied into the arena by the generated entry
// points. No kernel computes it.
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Input = "Input";
}

internal sealed class InputOp : OpDef
{
    public override string Name => OpKind.Input;

    public override void Lower(Lowering cx, Node n)
    {
        // Written by the entry point's copy-in.
    }

    public override string? Onnx(Emit.OnnxContext o, Node n) => $"b.Input(\"input\", {string.Join(", ", n.Shape)})";
}
