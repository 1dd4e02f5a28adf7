// What an op's ONNX hook (OpDef.Onnx) sees while it writes the builder call for one node: the model, the C#
// variables holding its inputs' ONNX value names, and helpers for what several ops need (the per-sample shape seen
// with the batch in front, leading axes folded into the batch for the 4-D ops, constant arrays as C# literals).
// Generated code names the Authoring.Runtime.Onnx.OnnxGraphBuilder `b` and the model's ParameterStore `p`.
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;

namespace Authoring.Generators.Emit;

internal sealed class OnnxContext
{
    readonly CodeWriter _w;
    readonly Dictionary<int, string> _values;
    int _temps;

    public OnnxContext(ModelIr model, CodeWriter w, Dictionary<int, string> values)
    {
        Model = model;
        _w = w;
        _values = values;
    }

    public ModelIr Model { get; }

    /// <summary>The C# variable holding the ONNX name of input <paramref name="i"/> of <paramref name="n"/>.</summary>
    public string In(Node n, int i) => _values[n.Inputs[i]];

    /// <summary>Per-sample shape of value <paramref name="id"/> (ONNX tensors have the batch in front of it).</summary>
    public int[] ShapeOf(int id) => Model.Nodes[id].Shape.ToArray();

    /// <summary>Writes <c>string __oK = expr;</c> and returns the variable (for a value read more than once).</summary>
    public string Let(string expr)
    {
        string name = "__o" + _temps++;
        _w.Line($"string {name} = {expr};");
        return name;
    }

    /// <summary>Input <paramref name="i"/> of <paramref name="n"/> as (M, C, H, W) for the 4-D ONNX ops: leading per-sample
    /// axes (T of (T, C, H, W)) are folded into the batch, as our kernels fold them.</summary>
    public string Images(Node n, int i)
    {
        var s = ShapeOf(n.Inputs[i]);
        if (s.Length == 3) return In(n, i);
        int r = s.Length;
        return $"b.Reshape({In(n, i)}, {Longs(new long[] { -1, s[r - 3], s[r - 2], s[r - 1] })})";
    }

    /// <summary>A 4-D op over <see cref="Images"/> of input 0, then the result given back its per-sample leading axes.</summary>
    public string PerImage(Node n, System.Func<string, string> op)
    {
        string y = op(Images(n, 0));
        return ShapeOf(n.Inputs[0]).Length == 3 ? y : Reshape(y, n.Shape);
    }

    /// <summary>Reshape of <paramref name="expr"/> to (batch, <paramref name="shape"/>...), the batch inferred (-1):
    /// right also when the batch axis of <paramref name="expr"/> holds folded leading axes.</summary>
    public static string Reshape(string expr, IEnumerable<int> shape) => $"b.Reshape({expr}, {Longs(new long[] { -1 }.Concat(shape.Select(d => (long)d)))})";

    public static string Ints(IEnumerable<int> v) => "new int[] { " + string.Join(", ", v) + " }";

    public static string Longs(IEnumerable<long> v) => "new long[] { " + string.Join(", ", v) + " }";

    public static string F(float f) => EmitCommon.F(f);

    public static string Bool(bool b) => b ? "true" : "false";

    /// <summary>A C# string literal (layer names are C# identifiers joined by dots: nothing to escape).</summary>
    public static string Str(string s) => EmitCommon.Literal(s);

    public static string Int(int i) => i.ToString(CultureInfo.InvariantCulture);
}
