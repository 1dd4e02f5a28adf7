// A call of an Authoring.Ops method as op definitions see it: its name and location, and its arguments read
// as tensors (evaluated in the caller's environment) or compile-time constants (reported when they are not).
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed class OpCall
{
    readonly ModelParser _p;
    readonly IInvocationOperation _inv;
    readonly ModelParser.Env _env;

    internal OpCall(ModelParser p, IInvocationOperation inv, ModelParser.Env env)
    {
        _p = p;
        _inv = inv;
        _env = env;
        Location = LocationInfo.From(inv.Syntax);
    }

    /// <summary>The Ops method's name.</summary>
    public string Name => _inv.TargetMethod.Name;

    /// <summary>The whole call, where shape problems are reported.</summary>
    public LocationInfo? Location { get; }

    public int Count => _inv.Arguments.Length;

    /// <summary>The argument of parameter <paramref name="i"/>. Roslyn lists arguments in evaluation order (named ones
    /// as written, then the defaults), so <c>MatMul(a, b, transposeB: true)</c> has transposeB third: look it up by the
    /// parameter's position instead.</summary>
    IArgumentOperation Arg(int i)
    {
        foreach (var a in _inv.Arguments)
            if (a.Parameter?.Ordinal == i) return a;
        return _inv.Arguments[i];
    }

    public string ArgName(int i) => Arg(i).Parameter?.Name ?? "argument";

    /// <summary>Where argument <paramref name="i"/> is written (the call when it takes its default).</summary>
    public LocationInfo? ArgLocation(int i) => Arg(i).ArgumentKind == ArgumentKind.Explicit ? LocationInfo.From(Arg(i).Syntax) : Location;

    /// <summary>The node of tensor argument <paramref name="i"/>; -1 after a diagnostic.</summary>
    public int Tensor(int i) => _p.Eval(Arg(i).Value, _env);

    /// <summary>A constant int argument; null after a diagnostic (AUT0005 when it is not constant).</summary>
    public int? Int(int i) => _p.ConstInt(Arg(i).Value, _env, ArgName(i), Name);

    /// <summary>A constant float (or int) argument; null after a diagnostic.</summary>
    public float? Float(int i) => _p.ConstFloat(Arg(i).Value, _env, ArgName(i), Name);

    /// <summary>A constant bool argument; null after a diagnostic.</summary>
    public bool? Bool(int i) => _p.ConstBool(Arg(i).Value, _env, ArgName(i), Name);

    /// <summary>A constant string argument; null after a diagnostic.</summary>
    public string? String(int i) => _p.ConstString(Arg(i).Value, _env, ArgName(i), Name);

    /// <summary>The tensors of a params/array argument; null after a diagnostic.</summary>
    public List<int>? Tensors(int i)
    {
        var parts = ModelParser.ArrayElements(Arg(i).Value);
        if (parts is null)
        {
            _p.Unsupported(Arg(i).Value);
            return null;
        }
        var ids = new List<int>();
        foreach (var part in parts)
        {
            int v = _p.Eval(part, _env);
            if (v < 0) return null;
            ids.Add(v);
        }
        return ids;
    }

    /// <summary>The constant ints of a params/array argument (named <paramref name="what"/> in messages); null after a diagnostic.</summary>
    public int[]? Ints(int i, string what)
    {
        var dims = ModelParser.ArrayElements(Arg(i).Value);
        if (dims is null)
        {
            _p.Unsupported(Arg(i).Value);
            return null;
        }
        var values = new int[dims.Count];
        for (int k = 0; k < dims.Count; k++)
        {
            int? v = _p.ConstInt(dims[k], _env, what, Name);
            if (v is null) return null;
            values[k] = v.Value;
        }
        return values;
    }
}
