// Lowers the Forward method (and Tensor helper methods it calls, inlined) to graph nodes. Straight-line
// code only: locals, assignments, returns, layer and op calls, + and * on tensors.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    int InlineBody(IMethodSymbol method, Env env)
    {
        var decl = method.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_ct)).OfType<MethodDeclarationSyntax>()
            .FirstOrDefault(d => d.Body is not null || d.ExpressionBody is not null);
        if (decl is null)
        {
            Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(method.Locations.FirstOrDefault()), $"A method without a body ('{method.Name}')");
            return -1;
        }
        var model = _compilation.GetSemanticModel(decl.SyntaxTree);
        if (model.GetOperation(decl, _ct) is not IMethodBodyOperation body)
        {
            _hasCompilerErrors = true;
            return -1;
        }
        var block = body.BlockBody ?? body.ExpressionBody;
        if (block is null) return -1;
        _callStack.Push(method);
        try
        {
            foreach (var statement in block.Operations)
            {
                _ct.ThrowIfCancellationRequested();
                switch (statement)
                {
                    case IVariableDeclarationGroupOperation group:
                        foreach (var declaration in group.Declarations)
                        foreach (var d in declaration.Declarators)
                        {
                            var init = d.Initializer?.Value ?? declaration.Initializer?.Value;
                            if (init is null)
                            {
                                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(d.Syntax), "A local without an initializer");
                                continue;
                            }
                            Bind(d.Symbol, init, env);
                        }
                        break;
                    case IExpressionStatementOperation { Operation: ISimpleAssignmentOperation { Target: ILocalReferenceOperation target } assign }:
                        Bind(target.Local, assign.Value, env);
                        break;
                    case IExpressionStatementOperation { Operation: ISimpleAssignmentOperation { Target: IParameterReferenceOperation target } assign } when IsTensor(target.Parameter.Type):
                        env.Values[target.Parameter] = Eval(assign.Value, env);
                        break;
                    case IReturnOperation ret:
                        return ret.ReturnedValue is null ? -1 : Eval(ret.ReturnedValue, env);
                    case IInvalidOperation:
                        _hasCompilerErrors = true;
                        break;
                    case IEmptyOperation:
                        break;
                    default:
                        Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(statement.Syntax), Describe(statement.Syntax));
                        break;
                }
            }
            return -1;
        }
        finally
        {
            _callStack.Pop();
        }
    }

    void Bind(ILocalSymbol local, IOperation value, Env env)
    {
        if (IsTensor(local.Type))
        {
            env.Values[local] = Eval(value, env);
            return;
        }
        var constant = Constant(value, env);
        if (constant is not null && local.Type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_Boolean)
            env.Constants[local] = constant;
        else if (value is IInvalidOperation || value.Type is IErrorTypeSymbol)
            _hasCompilerErrors = true;
        else
        {
            // Reported here once; reads of the local must not report it again as a non-constant argument.
            env.Failed.Add(local);
            var inner = value;
            while (inner is IConversionOperation c) inner = c.Operand;
            if (inner is IInvocationOperation call)
                Report(DiagnosticDescriptors.UnknownCall, LocationInfo.From(call.Syntax), Short(call.Syntax.ToString()));
            else
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(value.Syntax), $"A non-constant local of type '{local.Type.ToDisplayString()}'");
        }
    }

    static string Describe(SyntaxNode syntax) => syntax switch
    {
        IfStatementSyntax => "An if statement",
        ForStatementSyntax => "A for loop",
        ForEachStatementSyntax => "A foreach loop",
        WhileStatementSyntax => "A while loop",
        DoStatementSyntax => "A do loop",
        SwitchStatementSyntax => "A switch statement",
        TryStatementSyntax => "A try statement",
        ThrowStatementSyntax or ThrowExpressionSyntax => "Throwing",
        LambdaExpressionSyntax => "A lambda",
        ConditionalExpressionSyntax => "A conditional expression",
        LocalFunctionStatementSyntax => "A local function",
        ExpressionStatementSyntax e => $"The statement '{Short(e.ToString())}'",
        _ => $"'{Short(syntax.ToString())}'",
    };

    static string Short(string s)
    {
        s = s.Replace("\r", " ").Replace("\n", " ");
        return s.Length <= 60 ? s : s.Substring(0, 57) + "...";
    }

    object? Constant(IOperation? op, Env env)
    {
        while (op is IConversionOperation c && !op.ConstantValue.HasValue) op = c.Operand;
        if (op is null) return null;
        if (op.ConstantValue.HasValue) return op.ConstantValue.Value;
        return op switch
        {
            IParameterReferenceOperation p when env.Constants.TryGetValue(p.Parameter, out var v) => v,
            ILocalReferenceOperation l when env.Constants.TryGetValue(l.Local, out var v) => v,
            _ => null,
        };
    }

    static bool IsFailedLocal(IOperation op, Env env)
    {
        while (op is IConversionOperation c) op = c.Operand;
        return op is ILocalReferenceOperation l && env.Failed.Contains(l.Local);
    }

    int? ConstInt(IOperation op, Env env, string name, string owner)
    {
        var c = Constant(op, env);
        if (c is int i) return i;
        if (op is IInvalidOperation) { _hasCompilerErrors = true; return null; }
        if (IsFailedLocal(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

    int Eval(IOperation op, Env env)
    {
        _ct.ThrowIfCancellationRequested();
        switch (op)
        {
            case IInvalidOperation:
                _hasCompilerErrors = true;
                return -1;
            case IConversionOperation c:
                return Eval(c.Operand, env);
            case ILocalReferenceOperation l:
                if (env.Values.TryGetValue(l.Local, out int lv)) return lv;
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Reading '{l.Local.Name}' before it holds a tensor");
                return -1;
            case IParameterReferenceOperation p:
                if (env.Values.TryGetValue(p.Parameter, out int pv)) return pv;
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Parameter '{p.Parameter.Name}'");
                return -1;
            case IBinaryOperation b when b.OperatorMethod is { } m && IsTensor(m.ContainingType):
                {
                    int x = Eval(b.LeftOperand, env), y = Eval(b.RightOperand, env);
                    if (x < 0 || y < 0) return -1;
                    return b.OperatorKind switch
                    {
                        BinaryOperatorKind.Add => Binary(OpKind.Add, "+", x, y, LocationInfo.From(op.Syntax)),
                        BinaryOperatorKind.Multiply => Binary(OpKind.Mul, "*", x, y, LocationInfo.From(op.Syntax)),
                        _ => Unsupported(op),
                    };
                }
            case IInvocationOperation inv:
                return Invoke(inv, env);
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return -1; }
                return Unsupported(op);
        }
    }

    int Unsupported(IOperation op)
    {
        Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), Describe(op.Syntax));
        return -1;
    }

    int Invoke(IInvocationOperation inv, Env env)
    {
        var target = inv.TargetMethod;
        var loc = LocationInfo.From(inv.Syntax);
        var owner = target.ContainingType?.ToDisplayString();
        if (owner == Ns + ".Ops") return CallOp(inv, env);
        if (target.Name == "Forward" && IsLayerType(target.ContainingType))
        {
            if (inv.Instance is IFieldReferenceOperation fr && SymbolEqualityComparer.Default.Equals(fr.Field.ContainingType, _type))
            {
                if (!_layers.TryGetValue(fr.Field.Name, out var layer)) return -1; // its declaration already reported
                int x = Eval(inv.Arguments[0].Value, env);
                return x < 0 ? -1 : CallLayer(layer, x, loc);
            }
            Report(DiagnosticDescriptors.UnknownCall, loc, Short(inv.Syntax.ToString()));
            return -1;
        }
        if (SymbolEqualityComparer.Default.Equals(target.ContainingType, _type))
        {
            if (_callStack.Any(m => SymbolEqualityComparer.Default.Equals(m, target.OriginalDefinition)))
            {
                Report(DiagnosticDescriptors.Recursion, loc, target.Name);
                return -1;
            }
            if (!IsTensor(target.ReturnType))
            {
                Report(DiagnosticDescriptors.UnknownCall, loc, Short(inv.Syntax.ToString()));
                return -1;
            }
            var inner = new Env();
            foreach (var arg in inv.Arguments)
            {
                if (arg.Parameter is null) { _hasCompilerErrors = true; return -1; }
                if (IsTensor(arg.Parameter.Type))
                {
                    int v = Eval(arg.Value, env);
                    if (v < 0) return -1;
                    inner.Values[arg.Parameter] = v;
                }
                else
                {
                    var c = Constant(arg.Value, env);
                    if (c is null && IsFailedLocal(arg.Value, env)) return -1;
                    if (c is null)
                    {
                        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(arg.Syntax), arg.Parameter.Name, $"'{target.Name}'");
                        return -1;
                    }
                    inner.Constants[arg.Parameter] = c;
                }
            }
            return InlineBody(target.OriginalDefinition, inner);
        }
        Report(DiagnosticDescriptors.UnknownCall, loc, Short(inv.Syntax.ToString()));
        return -1;
    }

    int Binary(OpKind kind, string name, int a, int b, LocationInfo? loc)
    {
        var (shape, error) = OpRules.Elementwise(ShapeOf(a), ShapeOf(b));
        if (shape is null)
        {
            Report(DiagnosticDescriptors.ShapeMismatch, loc, name, error!);
            return -1;
        }
        return Add(kind, new[] { a, b }, shape, System.Array.Empty<int>(), 0, 0, "", loc);
    }

    int Shaped(OpKind kind, string what, int[] inputs, (int[]? Shape, string? Error) rule, int[] ints, float f0, float f1, string layer, LocationInfo? loc)
    {
        if (rule.Shape is null)
        {
            Report(DiagnosticDescriptors.ShapeMismatch, loc, what, rule.Error!);
            return -1;
        }
        return Add(kind, inputs, rule.Shape, ints, f0, f1, layer, loc);
    }

    int CallOp(IInvocationOperation inv, Env env)
    {
        string name = inv.TargetMethod.Name;
        var loc = LocationInfo.From(inv.Syntax);
        var args = inv.Arguments;
        int Tensor(int i) => Eval(args[i].Value, env);
        int? Int(int i) => ConstInt(args[i].Value, env, args[i].Parameter?.Name ?? "argument", name);

        ActKind? act = name switch
        {
            "Relu" => ActKind.Relu,
            "Relu6" => ActKind.Relu6,
            "HardSwish" => ActKind.HardSwish,
            "HardSigmoid" => ActKind.HardSigmoid,
            "Sigmoid" => ActKind.Sigmoid,
            "Tanh" => ActKind.Tanh,
            _ => null,
        };
        if (act is { } a)
        {
            int x = Tensor(0);
            return x < 0 ? -1 : Add(OpKind.Activation, new[] { x }, ShapeOf(x), new[] { (int)a }, 0, 0, "", loc);
        }
        switch (name)
        {
            case "Add":
            case "Mul":
                {
                    int x = Tensor(0), y = Tensor(1);
                    if (x < 0 || y < 0) return -1;
                    return Binary(name == "Add" ? OpKind.Add : OpKind.Mul, name, x, y, loc);
                }
            case "Concat":
                {
                    var parts = ArrayElements(args[0].Value);
                    if (parts is null) return Unsupported(args[0].Value);
                    var ids = new List<int>();
                    foreach (var p in parts)
                    {
                        int v = Eval(p, env);
                        if (v < 0) return -1;
                        ids.Add(v);
                    }
                    return Shaped(OpKind.Concat, "Concat", ids.ToArray(), OpRules.Concat(ids.Select(ShapeOf).ToList()), System.Array.Empty<int>(), 0, 0, "", loc);
                }
            case "Slice":
                {
                    int x = Tensor(0);
                    int? start = Int(1), count = Int(2);
                    if (x < 0 || start is null || count is null) return -1;
                    return Shaped(OpKind.Slice, "Slice", new[] { x }, OpRules.Slice(ShapeOf(x), start.Value, count.Value), new[] { start.Value, count.Value }, 0, 0, "", loc);
                }
            case "GlobalAvgPool":
                {
                    int x = Tensor(0);
                    if (x < 0) return -1;
                    var s = ShapeOf(x);
                    if (s.Length != 3)
                    {
                        Report(DiagnosticDescriptors.ShapeMismatch, loc, "GlobalAvgPool", $"expects a (C, H, W) input, got {OpRules.Format(s)}");
                        return -1;
                    }
                    return Add(OpKind.GlobalAvgPool, new[] { x }, new[] { s[0] }, System.Array.Empty<int>(), 0, 0, "", loc);
                }
            case "Flatten":
                {
                    int x = Tensor(0);
                    if (x < 0) return -1;
                    return Add(OpKind.Reshape, new[] { x }, new[] { _nodes[x].Size }, System.Array.Empty<int>(), 0, 0, "", loc);
                }
            case "Reshape":
                {
                    int x = Tensor(0);
                    if (x < 0) return -1;
                    var dims = ArrayElements(args[1].Value);
                    if (dims is null) return Unsupported(args[1].Value);
                    var target = new List<int>();
                    foreach (var d in dims)
                    {
                        int? v = ConstInt(d, env, "shape", "Reshape");
                        if (v is null) return -1;
                        target.Add(v.Value);
                    }
                    return Shaped(OpKind.Reshape, "Reshape", new[] { x }, OpRules.Reshape(ShapeOf(x), target.ToArray()), System.Array.Empty<int>(), 0, 0, "", loc);
                }
            case "UpsampleNearest":
                {
                    int x = Tensor(0);
                    int? h = Int(1), w = Int(2);
                    if (x < 0 || h is null || w is null) return -1;
                    bool ok = true;
                    for (int i = 1; i <= 2; i++)
                    {
                        var bad = OpRules.UpsampleSize(args[i].Parameter?.Name ?? "size", i == 1 ? h.Value : w.Value);
                        if (bad is null) continue;
                        Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(args[i].Syntax), name, bad);
                        ok = false;
                    }
                    if (!ok) return -1;
                    return Shaped(OpKind.UpsampleNearest, name, new[] { x }, OpRules.UpsampleNearest(ShapeOf(x), h.Value, w.Value), System.Array.Empty<int>(), 0, 0, "", loc);
                }
            case "MaxPool":
            case "AvgPool":
                {
                    int x = Tensor(0);
                    int? k = Int(1), s = Int(2), p = Int(3);
                    if (x < 0 || k is null || s is null || p is null) return -1;
                    return Pool(name == "MaxPool" ? OpKind.MaxPool : OpKind.AvgPool, name, x, k.Value, s.Value == 0 ? k.Value : s.Value, p.Value, "", loc);
                }
            default:
                Report(DiagnosticDescriptors.UnknownCall, loc, Short(inv.Syntax.ToString()));
                return -1;
        }
    }

    static IReadOnlyList<IOperation>? ArrayElements(IOperation op)
    {
        while (op is IConversionOperation c) op = c.Operand;
        return op switch
        {
            IArrayCreationOperation { Initializer: { } init } => init.ElementValues,
            ICollectionExpressionOperation coll => coll.Elements,
            _ => null,
        };
    }

    int Pool(OpKind kind, string what, int x, int k, int s, int p, string layer, LocationInfo? loc) =>
        Shaped(kind, what, new[] { x }, OpRules.Pool(ShapeOf(x), k, k, s, s, p, p), new[] { k, k, s, s, p, p }, 0, 0, layer, loc);

    int CallLayer(LayerDecl layer, int x, LocationInfo? loc)
    {
        // Layers with parameters or statistics hold state per use; pools and dropout do not.
        bool stateless = layer.Kind is "MaxPool2d" or "AvgPool2d" or "Dropout";
        if (!_usedLayers.Add(layer.Name) && !stateless)
        {
            Report(DiagnosticDescriptors.LayerReused, loc, layer.Name);
            return -1;
        }
        string what = $"{layer.Name} ({layer.Kind})";
        switch (layer.Kind)
        {
            case "Conv2d":
            case "DepthwiseConv2d":
                {
                    bool dw = layer.Kind == "DepthwiseConv2d";
                    int cin = dw ? layer.Int("channels") : layer.Int("inChannels");
                    int cout = dw ? cin : layer.Int("outChannels");
                    int kh = layer.Int("kernel"), kwArg = layer.Int("kernelWidth"), stride = layer.Int("stride"), dil = layer.Int("dilation");
                    int ph = layer.Int("padding"), pwArg = layer.Int("paddingWidth");
                    int groups = dw ? cin : layer.Int("groups");
                    bool bias = layer.Bool("bias");
                    var (hyper, culprit) = OpRules.ConvHyper(cin, cout, kh, kwArg, stride, ph, pwArg, dil, groups);
                    if (hyper is not null)
                    {
                        Report(DiagnosticDescriptors.InvalidHyperParameter, layer.LocationOf(culprit), what, hyper);
                        return -1;
                    }
                    int kw = kwArg == 0 ? kh : kwArg, pw = pwArg == -1 ? ph : pwArg;
                    int id = Shaped(OpKind.Conv2d, what, new[] { x }, OpRules.Conv2d(ShapeOf(x), cin, cout, kh, kw, stride, stride, ph, pw, dil, dil, groups),
                        new[] { cin, cout, kh, kw, stride, stride, ph, pw, dil, dil, groups, bias ? 1 : 0 }, 0, 0, layer.Name, loc);
                    if (id < 0) return -1;
                    // PyTorch's fan-in / fan-out of a [cout, cin/groups, kh, kw] weight.
                    int fanIn = cin / groups * kh * kw;
                    _params.Add(new ParamSpec(layer.Name + ".weight", new[] { cout, cin / groups, kh, kw }.ToEquatableArray(), "Weight", "KaimingUniform", fanIn, cout / groups * kh * kw));
                    if (bias) _params.Add(new ParamSpec(layer.Name + ".bias", new[] { cout }.ToEquatableArray(), "Bias", "BiasUniform", fanIn, cout));
                    return id;
                }
            case "Linear":
                {
                    int inF = layer.Int("inFeatures"), outF = layer.Int("outFeatures");
                    bool bias = layer.Bool("bias");
                    if (inF <= 0 || outF <= 0)
                    {
                        Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, "feature counts must be positive");
                        return -1;
                    }
                    var rule = OpRules.Linear(ShapeOf(x), inF, outF);
                    // A flattened input hides the shape that explains the count: name it.
                    if (rule.Error is not null && _nodes[x].Op == OpKind.Reshape)
                        rule = (null, rule.Error + $" (the flattened {OpRules.Format(_nodes[_nodes[x].Inputs[0]].Shape)})");
                    int id = Shaped(OpKind.Linear, what, new[] { x }, rule, new[] { inF, outF, bias ? 1 : 0 }, 0, 0, layer.Name, loc);
                    if (id < 0) return -1;
                    _params.Add(new ParamSpec(layer.Name + ".weight", new[] { outF, inF }.ToEquatableArray(), "Weight", "KaimingUniform", inF, outF));
                    if (bias) _params.Add(new ParamSpec(layer.Name + ".bias", new[] { outF }.ToEquatableArray(), "Bias", "BiasUniform", inF, outF));
                    return id;
                }
            case "BatchNorm2d":
            case "BatchNorm1d":
                {
                    bool twoD = layer.Kind == "BatchNorm2d";
                    int c = twoD ? layer.Int("channels") : layer.Int("features");
                    float eps = layer.Float("eps"), momentum = layer.Float("momentum");
                    if (c <= 0 || eps <= 0 || momentum < 0 || momentum > 1)
                    {
                        Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, "channels and eps must be positive and momentum within [0, 1]");
                        return -1;
                    }
                    int id = Shaped(OpKind.BatchNorm, what, new[] { x }, OpRules.BatchNorm(ShapeOf(x), c, twoD), new[] { c }, eps, momentum, layer.Name, loc);
                    if (id < 0) return -1;
                    var shape = new[] { c }.ToEquatableArray();
                    _params.Add(new ParamSpec(layer.Name + ".weight", shape, "NormWeight", "Ones", 0, 0));
                    _params.Add(new ParamSpec(layer.Name + ".bias", shape, "NormBias", "Zeros", 0, 0));
                    _params.Add(new ParamSpec(layer.Name + ".running_mean", shape, "RunningMean", "Zeros", 0, 0));
                    _params.Add(new ParamSpec(layer.Name + ".running_var", shape, "RunningVar", "Ones", 0, 0));
                    return id;
                }
            case "MaxPool2d":
            case "AvgPool2d":
                {
                    int k = layer.Int("kernel"), s = layer.Int("stride"), p = layer.Int("padding");
                    return Pool(layer.Kind == "MaxPool2d" ? OpKind.MaxPool : OpKind.AvgPool, what, x, k, s == 0 ? k : s, p, layer.Name, loc);
                }
            case "Dropout":
                {
                    float p = layer.Float("p");
                    if (p < 0 || p >= 1)
                    {
                        Report(DiagnosticDescriptors.InvalidHyperParameter, layer.Location, what, "p must be in [0, 1)");
                        return -1;
                    }
                    return Add(OpKind.Dropout, new[] { x }, ShapeOf(x), System.Array.Empty<int>(), p, 0, layer.Name, loc);
                }
            default:
                return CallBlock(layer, x, loc);   // composite blocks, ModelParser.Blocks.cs
        }
    }
}
