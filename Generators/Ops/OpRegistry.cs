// The table of op definitions: the parser binds DSL calls through it, the passes and emitters look a node's
// definition up by name. Adding an op adds one line here (and its file).
using System;
using System.Collections.Generic;

namespace Authoring.Generators.Ops;

internal static class OpRegistry
{
    /// <summary>Every op the model compiler knows.</summary>
    public static readonly IReadOnlyList<OpDef> All = new OpDef[]
    {
        new InputOp(),
        new TokensOp(),
        new EmbeddingOp(),
        new Conv2dOp(),
        new LinearOp(),
        new BatchNormOp(),
        new MaxPoolOp(),
        new AvgPoolOp(),
        new GlobalAvgPoolOp(),
        new UpsampleNearestOp(),
        new DropoutOp(),
        new ConcatOp(),
        new SliceOp(),
        new ReshapeOp(),
        new ActivationOp(),
        new AddOp(),
        new MulOp(),
        new SubOp(),
        new DivOp(),
        new ScalarOp(),
        new EluOp(),
        new LayerNormOp(),
        new SoftmaxOp(),
        new MatMulOp(),
        new ScaledDotProductAttentionOp(),
        new LinearAttentionOp(),
        new TransposeOp(),
        new MeanOp(),
        new SumOp(),
        new NeuronOp(),
        new ParametricNeuronOp(),
        new RepeatOp(),
        new PoissonOp(),
        new MeanOverTimeOp(),
        new SignOp(),
        new RSignOp(),
        new RPReluOp(),
        new PRepBNMixOp(),
        new BinaryConv2dOp(),
        new BinaryLinearOp(),
        new BinaryPackOp(),
        new PackedBinaryConv2dOp(),
        new PackedBinaryLinearOp(),
        new PackedSignBitsOp(),
    };

    static readonly Dictionary<string, OpDef> ByName = new(StringComparer.Ordinal);
    static readonly Dictionary<string, OpDef> ByMethod = new(StringComparer.Ordinal);
    static readonly Dictionary<string, OpDef> ByLayer = new(StringComparer.Ordinal);

    static OpRegistry()
    {
        foreach (var def in All)
        {
            ByName.Add(def.Name, def);
            foreach (var m in def.OpsMethods) ByMethod.Add(m, def);
            foreach (var l in def.LayerTypes) ByLayer.Add(l, def);
        }
    }

    /// <summary>The definition of a node's op.</summary>
    public static OpDef Get(string name) =>
        ByName.TryGetValue(name, out var def) ? def : throw new InvalidOperationException($"no op definition named '{name}'");

    /// <summary>The definition binding <c>Authoring.Ops.{method}</c>, if any.</summary>
    public static OpDef? ForMethod(string method) => ByMethod.TryGetValue(method, out var def) ? def : null;

    /// <summary>The definition binding layer class <paramref name="type"/>, if any.</summary>
    public static OpDef? ForLayer(string type) => ByLayer.TryGetValue(type, out var def) ? def : null;

    /// <summary>Layer classes with a primitive definition.</summary>
    public static IEnumerable<string> LayerTypes => ByLayer.Keys;
}
