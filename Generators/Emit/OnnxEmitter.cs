// Emits ExportOnnx: the model's evaluation graph written op by op through Authoring.Runtime.Onnx.OnnxGraphBuilder.
// A model with a deploy twin exports the twin (BatchNorms folded, parallel branches merged: ToDeploy first); one
// without exports its own graph in evaluation mode. Each node the output depends on is written by its op's hook
// (OpDef.Onnx); when one has no mapping, the generated method throws OnnxExportException naming the op and the layer
// instead of writing a file that computes something else. docs/onnx.md describes the result.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;
using static Authoring.Generators.Emit.EmitCommon;

namespace Authoring.Generators.Emit;

internal static class OnnxEmitter
{
    const string Builder = "global::Authoring.Runtime.Onnx.OnnxGraphBuilder";
    const string Stream = "global::System.IO.Stream";

    /// <summary>The file with ExportOnnx for <paramref name="m"/> (and its deploy twin <paramref name="d"/>, if any).</summary>
    public static string Emit(ModelIr m, DeployModel? d)
    {
        var w = new CodeWriter();
        Header(w, m);
        if (d is not null)
        {
            string deploy = d.Ir.ClassName;
            w.Line($"// ONNX export of {m.ClassName}: its deploy form {deploy}, written op by op.");
            w.Open($"partial class {m.ClassName}");
            Doc(w, $"Writes this model's deploy form (<see cref=\"ToDeploy()\"/>: BatchNorms folded, parallel branches merged) to <paramref name=\"path\"/> as an ONNX file; evaluation semantics, running statistics.", "path", "The file to write.");
            w.Line($"public void ExportOnnx(string path, int opset = {Builder}.DefaultOpset) => ToDeploy().ExportOnnx(path, opset);");
            w.Line();
            Doc(w, "Writes this model's deploy form to <paramref name=\"stream\"/> as an ONNX file.", "stream", "Where the file's bytes go.");
            w.Line($"public void ExportOnnx({Stream} stream, int opset = {Builder}.DefaultOpset) => ToDeploy().ExportOnnx(stream, opset);");
            w.Close();
            w.Line();
            Graph(w, d.Ir, $"This deploy model (folded from <c>{m.ClassName}</c>)");
        }
        else
        {
            w.Line($"// ONNX export of {m.ClassName}, written op by op (nothing to fold for deployment).");
            Graph(w, m, "This model in evaluation mode (running statistics, no dropout)");
        }
        return w.ToString();
    }

    static void Doc(CodeWriter w, string summary, string param, string paramDoc)
    {
        w.Line($"/// <summary>{summary}</summary>");
        w.Line($"/// <param name=\"{param}\">{paramDoc}</param>");
        w.Line("/// <param name=\"opset\">ONNX opset, 17 to 22.</param>");
        w.Line($"/// <exception cref=\"global::Authoring.Runtime.Onnx.OnnxExportException\">An op of the model has no ONNX mapping (nothing is written).</exception>");
    }

    static void Graph(CodeWriter w, ModelIr m, string what)
    {
        w.Open($"partial class {m.ClassName}");
        string input = m.TakesTokens ? "int64 token ids" : "float32";
        w.Line($"/// <summary>{what}, written to <paramref name=\"path\"/> as an ONNX file.</summary>");
        w.Line($"/// <remarks>Input <c>input</c> ({input}), output <c>output</c> (float32), both with a symbolic first dimension <c>batch</c>; weights are initializers under their state_dict names. See docs/onnx.md.</remarks>");
        w.Line("/// <param name=\"path\">The file to write (written beside, then moved into place).</param>");
        w.Line("/// <param name=\"opset\">ONNX opset, 17 to 22.</param>");
        w.Line($"/// <exception cref=\"global::Authoring.Runtime.Onnx.OnnxExportException\">An op of the model has no ONNX mapping (nothing is written).</exception>");
        w.Line($"public void ExportOnnx(string path, int opset = {Builder}.DefaultOpset) => __OnnxGraph(opset).Save(path);");
        w.Line();
        w.Line($"/// <summary>{what}, written to <paramref name=\"stream\"/> as an ONNX file.</summary>");
        w.Line("/// <param name=\"stream\">Where the file's bytes go.</param>");
        w.Line("/// <param name=\"opset\">ONNX opset, 17 to 22.</param>");
        w.Line($"/// <exception cref=\"global::Authoring.Runtime.Onnx.OnnxExportException\">An op of the model has no ONNX mapping (nothing is written).</exception>");
        w.Line($"public void ExportOnnx({Stream} stream, int opset = {Builder}.DefaultOpset) => __OnnxGraph(opset).Save(stream);");
        w.Line();
        w.Open($"{Builder} __OnnxGraph(int opset)");
        w.Line($"var b = new {Builder}(\"{m.ClassName}\", opset);");
        w.Block(Body(m));
        w.Line("return b;");
        w.Close();
        w.Close();
    }

    /// <summary>The statements after the builder's creation: every node the output depends on, in order, then the
    /// output; or the call that fails the export at the first node without a mapping.</summary>
    static string Body(ModelIr m)
    {
        var live = new bool[m.Nodes.Count];
        live[m.Output] = true;
        for (int i = m.Output; i >= 0; i--)
            if (live[i])
                foreach (int j in m.Nodes[i].Inputs) live[j] = true;

        var body = new CodeWriter();
        var values = new Dictionary<int, string>();
        var o = new OnnxContext(m, body, values);
        body.Line("var p = Parameters;");
        foreach (var n in m.Nodes)
        {
            if (!live[n.Id]) continue;
            string where = n.Layer.Length > 0 ? $"layer '{n.Layer}'" : $"node {n.Id}, an Ops.{n.Op} call";
            string? expr;
            try
            {
                expr = n.Def.Onnx(o, n);
            }
            catch (System.Exception e) when (e is not System.OperationCanceledException)
            {
                // A hook's bug must not cost the model its compiled code (AUT0099 would stub the whole model): the
                // export alone fails, saying why.
                return $"b.Unsupported({OnnxContext.Str(n.Op)}, {OnnxContext.Str(where + " (the generator could not map it: " + e.GetType().Name + ")")});";
            }
            if (expr is null) return $"b.Unsupported({OnnxContext.Str(n.Op)}, {OnnxContext.Str(where)});";
            string v = "v" + n.Id;
            body.Line($"string {v} = {expr};");
            values[n.Id] = v;
        }
        body.Line($"b.Output(b.Identity({values[m.Output]}, \"output\"), {string.Join(", ", m.Nodes[m.Output].Shape)});");
        return body.ToString();
    }
}
