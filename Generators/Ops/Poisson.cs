// Poisson(x, T): rate coding, (...) to (T, ...) spikes, 1 where u <= x (SpikingJelly's encoding.PoissonEncoder).
// Uniforms come from the counter-based generator dropout uses: a training step seeds it with the step's seed (the
// model's DropoutSeed and step counter) plus the node id, an inference call with a counter of its own, so both backends
// draw the same spikes. Not differentiable: x gets a zero gradient (SpikingJelly's comparison has none).
using System.Collections.Generic;
using Authoring.Generators.Emit;
using Authoring.Generators.Ir;
using Authoring.Generators.Parsing;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Ops;

internal static partial class OpKind
{
    public const string Poisson = "Poisson";
}

/// <summary>Poisson attributes: Ints [steps].</summary>
internal sealed class PoissonOp : OpDef
{
    public override string Name => OpKind.Poisson;

    public override IEnumerable<string> OpsMethods => new[] { "Poisson" };

    public override int BindCall(ModelParser p, OpCall call) => RepeatOp.Bind(p, call, Name);

    /// <summary>Rate coding as ONNX: the input tiled over T, then u &lt;= x with u from RandomUniformLike. Same rule and
    /// distribution as our spikes, not the same draws: ONNX has no form of our generator.</summary>
    public override string? Onnx(OnnxContext o, Node n)
    {
        var repeats = new long[n.Shape.Count + 1];
        for (int i = 0; i < repeats.Length; i++) repeats[i] = 1;
        repeats[1] = n.Ints[0];
        var unit = n.Shape.ToArray();
        unit[0] = 1;
        return $"b.RateSpikes(b.Tile(b.ReshapeSamples({o.In(n, 0)}, {OnnxContext.Ints(unit)}), {OnnxContext.Longs(repeats)}))";
    }

    public override void Lower(Lowering cx, Node n) =>
        cx.Add(new Step(Forward, n, cx.Value(n.Inputs[0]), cx.Value(n.Id)) { Owner = this });

    public override void Backward(Autodiff cx, Step f)
    {
        // A value upstream still reads its gradient: it is zero (the first writer clears it, later ones add nothing).
        int x = f.Node!.Inputs[0];
        if (cx.NeedsGrad(x)) cx.Contribute(x, new Step(ZeroGrad, f.Node, cx.Grad(x)) { Size = cx.Node(x).Size }, 0);
    }

    static string Dims(Node n) => $"{n.Shape[0]}, {n.Size / n.Shape[0]}";

    /// <summary>A training step's seed is the step's; an inference call draws a fresh one.</summary>
    static string Seed(EmitContext c, Step s)
    {
        if (c.Train) return $"seed + {s.Node!.Id}UL";
        c.Member("__encodeDraws", w =>
        {
            w.Line("ulong __encodeDraws;");
            w.Line("/// <summary>Seed of an inference call's Poisson encoding: the dropout seed and a count of such calls.</summary>");
            w.Line("ulong __NextEncodeSeed() => unchecked(DropoutSeed + 0xD1B54A32D192ED03UL * ++__encodeDraws);");
        });
        return $"unchecked(__NextEncodeSeed() + {s.Node!.Id}UL)";
    }

    /// <summary>Io: x, y.</summary>
    static readonly Kernel Forward = new("Poisson",
        (c, s) => c.Line($"{EmitCommon.CpuNs}.Spiking.SpikeEncoding.PoissonForward(n, {Dims(s.Node!)}, {Seed(c, s)}, {c.V(s.Io[0])}, {c.V(s.Io[1])});"),
        (g, s) => g.Line($"__k.SpikePoissonForward(n, {Dims(s.Node!)}, {Seed(g, s)}, {g.V(s.Io[0])}, {g.V(s.Io[1])});"));

    /// <summary>Io: dx; Size floats per sample. Writes zeros unless accumulating (then there is nothing to add).</summary>
    static readonly Kernel ZeroGrad = new("PoissonZeroGrad",
        (c, s) =>
        {
            if (s.Accumulate) return;
            var b = c.Program.Buffers[s.Io[0].Buffer];
            c.Line($"for (int b = 0; b < n; b++) global::System.Array.Clear(A, n * {b.Offset} + {s.Io[0].Shift} + b * {b.PerSample}, {s.Size});");
        },
        (g, s) =>
        {
            if (s.Accumulate) return;
            var b = g.Program.Buffers[s.Io[0].Buffer];
            if (s.Io[0].Shift == 0 && b.PerSample == s.Size) g.Line($"__k.Clear(A.SubView((long)n * {b.Offset}, n * {s.Size}));");
            else g.Line($"for (int b = 0; b < n; b++) __k.Clear(A.SubView((long)n * {b.Offset} + {s.Io[0].Shift} + (long)b * {b.PerSample}, {s.Size}));");
        });
}
