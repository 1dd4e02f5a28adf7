// Emits the training model's ToDeploy methods: copy the tensors the deploy graph keeps, and replay each
// fold the Deploy pass derived through Authoring.Runtime.FoldedKernel (double precision, one rounding).
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit;

internal static class DeployEmitter
{
    public static string Emit(ModelIr m, DeployModel d)
    {
        var src = Offsets(m);
        var dst = Offsets(d.Ir);
        var w = new CodeWriter();
        Header(w, m);
        string deploy = d.Ir.ClassName;
        w.Line($"// Deployment of {m.ClassName}: {d.Folds.Count} re-parameterized conv/linear layer(s).");
        w.Open($"partial class {m.ClassName}");
        w.Line($"/// <summary>Folds this model's evaluation-mode graph into <see cref=\"{deploy}\"/> (BatchNorms into the preceding conv or linear, parallel branches into one conv). Uses the running statistics; the two models then agree in evaluation mode.</summary>");
        w.Line($"public {deploy} ToDeploy() => ToDeploy(__parameters);");
        w.Line();
        w.Line($"/// <summary>Folds trained tensors laid out as <see cref=\"ParameterInfos\"/> (from this model, its GPU twin or a checkpoint) into a new <see cref=\"{deploy}\"/>.</summary>");
        w.Open($"public static {deploy} ToDeploy({Rt}.ParameterStore trained)");
        w.Line("global::System.ArgumentNullException.ThrowIfNull(trained);");
        w.Line($"if (trained.Infos.Count != ParameterInfos.Count || trained.Values.Length != {m.Params.Sum(p => p.Length)})");
        w.Line($"    throw new global::System.ArgumentException(\"The store does not hold {m.ClassName}'s tensors.\", nameof(trained));");
        w.Line($"var deploy = new {deploy}();");
        w.Line("float[] s = trained.Values, d = deploy.Parameters.Values;");
        foreach (var p in d.Params)
        {
            if (p.CopyFrom is null) continue;
            w.Line($"global::System.Array.Copy(s, {src[p.CopyFrom]}, d, {dst[p.Spec.Name]}, {p.Spec.Length}); // {p.Spec.Name}");
        }
        foreach (var f in d.Folds)
        {
            w.Line($"// {f.WeightName}, {f.BiasName}");
            w.Line($"{Expr(m, src, f, f.Expr)}");
            w.Line($"    .WriteTo(d, {dst[f.WeightName]}, {dst[f.BiasName]});");
        }
        if (d.Packed.Count > 0 || d.Thresholds.Count > 0) Binary(w, m, d, src);
        w.Line("return deploy;");
        w.Close();
        w.Close();
        return w.ToString();
    }

    /// <summary>Packs each binary layer's latent weights into the deploy BitStore with its folded epilogue, and turns
    /// RSign shifts into packing thresholds (Runtime BinaryDeployFold).</summary>
    static void Binary(CodeWriter w, ModelIr m, DeployModel d, Dictionary<string, int> src)
    {
        var dst = Offsets(d.Ir);
        var bitDst = BitOffsets(d.Ir);
        string Off(string name) => src.TryGetValue(name, out int o) ? o.ToString() : "-1";
        if (d.Packed.Count > 0) w.Line("ulong[] bits = deploy.Parameters.Bits!.Words;");
        foreach (var p in d.Packed)
        {
            var h = p.Host;
            bool conv = h.Op == OpKind.BinaryConv2d;
            bool scaled = conv ? h.Ints[12] != 0 : h.Ints[3] != 0;
            string l = h.Layer;
            string bn = p.Bn is { } b
                ? $"{src[b.Layer + ".weight"]}, {src[b.Layer + ".bias"]}, {src[b.Layer + ".running_mean"]}, {src[b.Layer + ".running_var"]}, {F(b.F0)}"
                : "-1, -1, -1, -1, 0f";
            string tail = $"{(scaled ? "true" : "false")}, {Off(l + ".bias")}, {bn}, bits, {bitDst[l + ".weight_bits"]}, d, {dst[l + ".scale"]}, {dst[l + ".shift"]}";
            w.Line($"// {l}: 1-bit weights, scale and shift{(p.Bn is null ? "" : " (with " + p.Bn.Layer + ")")}");
            w.Line(conv
                ? $"{CpuNs}.BinaryDeployFold.Conv(new {CpuNs}.Conv2dShape{Conv2dOp.ShapeArgs(m, h)}, s, {src[l + ".weight"]}, {tail});"
                : $"{CpuNs}.BinaryDeployFold.Linear({h.Ints[0]}, {h.Ints[1]}, s, {src[l + ".weight"]}, {tail});");
        }
        foreach (var t in d.Thresholds)
            w.Line($"{CpuNs}.BinaryDeployFold.Threshold(s, {src[t.Sign.Layer + ".bias"]}, {t.Sign.Ints[1]}, d, {dst[t.Name]}); // {t.Name}");
        if (d.Packed.Count > 0) w.Line("deploy.Parameters.Bits!.MarkChanged();");
    }

    static string Expr(ModelIr m, Dictionary<string, int> src, DeployFold f, FoldExpr e)
    {
        string fresh = $"new {Rt}.FoldedKernel({f.Cout}, {f.CinPerGroup}, {f.Kh}, {f.Kw})";
        switch (e.Kind)
        {
            case FoldKind.Term:
                {
                    var n = e.Node!;
                    bool conv = n.Op == OpKind.Conv2d;
                    int th = conv ? new ConvAttrs(n).Kh : 1, tw = conv ? new ConvAttrs(n).Kw : 1;
                    bool bias = conv ? new ConvAttrs(n).Bias : n.Ints[2] != 0;
                    int b = bias ? src[n.Layer + ".bias"] : -1;
                    return $"{fresh}.AddTerm(s, {src[n.Layer + ".weight"]}, {b}, {th}, {tw}, {e.Dy}, {e.Dx})";
                }
            case FoldKind.Identity:
                return $"{fresh}.AddIdentity({e.Dy}, {e.Dx})";
            case FoldKind.Bn:
                {
                    var n = e.Node!;
                    string l = n.Layer;
                    return $"{Expr(m, src, f, e.Kids[0])}.BatchNorm(s, {src[l + ".weight"]}, {src[l + ".bias"]}, {src[l + ".running_mean"]}, {src[l + ".running_var"]}, {F(n.F0)})";
                }
            case FoldKind.PreRepBn:
                {
                    string l = e.Aux!.Layer;
                    return $"{Expr(m, src, f, e.Kids[0])}.PrecedeRepBatchNorm(s, {src[l + ".weight"]}, {src[l + ".bias"]}, {src[l + ".running_mean"]}, {src[l + ".running_var"]}, {F(e.Aux.F0)}, {src[e.Node!.Layer + PRepBNMixOp.Suffixes[0]]})";
                }
            default:
                return string.Join(".Add(", e.Kids.Select(k => Expr(m, src, f, k))) + new string(')', e.Kids.Length - 1);
        }
    }
}
