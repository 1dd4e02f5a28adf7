// Lowers the Forward method (and the helper methods it calls, inlined) to graph nodes. Tensor expressions become
// nodes; everything else is evaluated at compile time: constants, layers and layer arrays, and the control flow
// (ModelParser.Statements.cs unrolls loops and resolves constant conditions).
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
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
            return ExecAll(block.Operations, env) == Flow.Return ? env.Result : -1;
        }
        finally
        {
            _callStack.Pop();
        }
    }

    /// <summary>Binds a local or parameter to the value of <paramref name="value"/>: a tensor node, a layer, a layer
    /// array or a compile-time constant. What cannot be bound is reported once, and later reads stay quiet.</summary>
    void Assign(ISymbol symbol, ITypeSymbol type, IOperation value, Env env)
    {
        // The value is read before the symbol is rebound: `x = Relu(x)` reads the old x.
        if (IsValue(type))
        {
            int v = Eval(value, env);
            env.Forget(symbol);
            if (v >= 0) env.Values[symbol] = v;
            else env.Failed.Add(symbol);
            return;
        }
        if (IsLayerType(type))
        {
            var layer = Typed(LayerOf(value, env, value), type, value);
            env.Forget(symbol);
            if (layer is not null) env.Layers[symbol] = layer;
            else env.Failed.Add(symbol);
            return;
        }
        if (IsLayerArrayType(type))
        {
            var array = LayerArrayOf(value, env, quiet: false);
            env.Forget(symbol);
            if (array is not null) env.Arrays[symbol] = array;
            else env.Failed.Add(symbol);
            return;
        }
        var constant = Fold(value, env);
        bool mentionsFailed = constant is null && MentionsFailed(value, env);
        env.Forget(symbol);
        if (constant is not null && constant != Reported && IsConstantType(type))
        {
            env.Constants[symbol] = constant;
            return;
        }
        // Reported here once; reads of the local must not report it again as a non-constant argument.
        env.Failed.Add(symbol);
        if (constant == Reported || mentionsFailed) return;
        if (value is IInvalidOperation || value.Type is IErrorTypeSymbol)
        {
            _hasCompilerErrors = true;
            return;
        }
        var inner = Unwrap(value);
        if (inner is IInvocationOperation call)
            Report(DiagnosticDescriptors.UnknownCall, LocationInfo.From(call.Syntax), Short(call.Syntax.ToString()));
        else
            Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(value.Syntax), $"A non-constant local of type '{type.ToDisplayString()}'");
    }

    /// <summary>A graph value: a Tensor, or the Tokens a model reads.</summary>
    bool IsValue(ITypeSymbol? type) => IsTensor(type) || IsTokens(type);

    static bool IsConstantType(ITypeSymbol type) =>
        type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_Single or SpecialType.System_Double
            or SpecialType.System_Boolean or SpecialType.System_String;

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
        GotoStatementSyntax => "A goto statement",
        ExpressionStatementSyntax e => $"The statement '{Short(e.ToString())}'",
        _ => $"'{Short(syntax.ToString())}'",
    };

    static string Short(string s)
    {
        s = s.Replace("\r", " ").Replace("\n", " ");
        return s.Length <= 60 ? s : s.Substring(0, 57) + "...";
    }

    /// <summary>True when <paramref name="op"/> reads a local or parameter whose value was already reported.</summary>
    static bool MentionsFailed(IOperation op, Env env)
    {
        if (env.Failed.Count == 0) return false;
        foreach (var o in op.DescendantsAndSelf())
        {
            if (o is ILocalReferenceOperation l && env.Failed.Contains(l.Local)) return true;
            if (o is IParameterReferenceOperation p && env.Failed.Contains(p.Parameter)) return true;
        }
        return false;
    }

    /// <summary>A constant argument's value, reported when it is not one (unless that was already reported).</summary>
    object? ConstArg(IOperation op, Env env, string name, string owner, System.Func<object, bool> fits)
    {
        var c = Fold(op, env);
        if (c == Reported) return null;
        if (c is not null && fits(c)) return c;
        if (op is IInvalidOperation || op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return null; }
        if (MentionsFailed(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

    internal float? ConstFloat(IOperation op, Env env, string name, string owner) =>
        ConstArg(op, env, name, owner, c => c is float or double or int or long) switch
        {
            float f => f,
            double d => (float)d,
            int i => i,
            long l => l,
            _ => null,
        };

    internal string? ConstString(IOperation op, Env env, string name, string owner) => ConstArg(op, env, name, owner, c => c is string) as string;

    internal bool? ConstBool(IOperation op, Env env, string name, string owner) => ConstArg(op, env, name, owner, c => c is bool) as bool?;

    internal int? ConstInt(IOperation op, Env env, string name, string owner) => ConstArg(op, env, name, owner, c => c is int) as int?;

    internal int Eval(IOperation op, Env env)
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
                if (env.Failed.Contains(l.Local)) return -1;
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Reading '{l.Local.Name}' before it holds a tensor");
                return -1;
            case IParameterReferenceOperation p:
                if (env.Values.TryGetValue(p.Parameter, out int pv)) return pv;
                if (env.Failed.Contains(p.Parameter)) return -1;
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Parameter '{p.Parameter.Name}'");
                return -1;
            case IBinaryOperation b when b.OperatorMethod is { } m && IsTensor(m.ContainingType):
                return Operator(b.OperatorKind, b.LeftOperand, b.RightOperand, b.Syntax, env);
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Minus } u when u.OperatorMethod is { } m && IsTensor(m.ContainingType):
                {
                    int x = Eval(u.Operand, env);
                    return x < 0 ? -1 : ScalarOp.Apply(this, ScalarKind.Mul, -1f, x, LocationInfo.From(op.Syntax));
                }
            case IConditionalOperation { WhenFalse: { } whenFalse } cond:
                // `useSe ? Se(h) : h`: only the branch the constant condition picks is built (its layers are applied once).
                return Condition(cond.Condition, env, "conditional expression") switch
                {
                    true => Eval(cond.WhenTrue, env),
                    false => Eval(whenFalse, env),
                    null => -1,
                };
            case IInvocationOperation inv:
                return Invoke(inv, env);
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return -1; }
                return Unsupported(op);
        }
    }

    /// <summary>+, -, * and / between tensors, or between a tensor and a float constant (also as <c>h += x</c>).</summary>
    int Operator(BinaryOperatorKind kind, IOperation leftOperand, IOperation rightOperand, SyntaxNode syntax, Env env)
    {
        var loc = LocationInfo.From(syntax);
        bool left = IsTensor(leftOperand.Type), right = IsTensor(rightOperand.Type);
        string symbol = kind switch
        {
            BinaryOperatorKind.Add => "+",
            BinaryOperatorKind.Subtract => "-",
            BinaryOperatorKind.Multiply => "*",
            BinaryOperatorKind.Divide => "/",
            _ => "",
        };
        if (symbol.Length == 0)
        {
            Report(DiagnosticDescriptors.UnsupportedConstruct, loc, Describe(syntax));
            return -1;
        }
        if (left && right)
        {
            int x = Eval(leftOperand, env), y = Eval(rightOperand, env);
            if (x < 0 || y < 0) return -1;
            string op = symbol switch { "+" => OpKind.Add, "-" => OpKind.Sub, "*" => OpKind.Mul, _ => OpKind.Div };
            return BinaryOp.Apply(this, op, symbol, x, y, loc);
        }
        var tensor = left ? leftOperand : rightOperand;
        var scalar = left ? rightOperand : leftOperand;
        int t = Eval(tensor, env);
        float? c = ConstFloat(scalar, env, "scalar", $"'{symbol}'");
        if (t < 0 || c is null) return -1;
        // x - c is x + (-c) and -x is x * -1: both exact in float.
        return (symbol, left) switch
        {
            ("+", _) => ScalarOp.Apply(this, ScalarKind.Add, c.Value, t, loc),
            ("*", _) => ScalarOp.Apply(this, ScalarKind.Mul, c.Value, t, loc),
            ("-", true) => ScalarOp.Apply(this, ScalarKind.Add, -c.Value, t, loc),
            ("-", false) => ScalarOp.Apply(this, ScalarKind.RSub, c.Value, t, loc),
            ("/", true) => ScalarOp.Apply(this, ScalarKind.Div, c.Value, t, loc),
            _ => ScalarOp.Apply(this, ScalarKind.RDiv, c.Value, t, loc),
        };
    }

    internal int Unsupported(IOperation op)
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
        if (target.Name == "Forward" && IsLayerType(target.ContainingType) && inv.Instance is { } instance)
        {
            var layer = LayerOf(instance, env, inv);
            if (layer is null || inv.Arguments.Length != 1) return -1;
            int x = Eval(inv.Arguments[0].Value, env);
            return x < 0 ? -1 : CallLayer(layer, x, loc);
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
                var type = arg.Parameter.Type;
                if (IsValue(type))
                {
                    int v = Eval(arg.Value, env);
                    if (v < 0) return -1;
                    inner.Values[arg.Parameter] = v;
                }
                else if (IsLayerType(type))
                {
                    // A helper's layer parameter: `Tensor Block(Conv2d conv, Tensor x)` applies the layer passed in.
                    if (Typed(LayerOf(arg.Value, env, arg.Value), type, arg.Value) is not { } layer) return -1;
                    inner.Layers[arg.Parameter] = layer;
                }
                else if (IsLayerArrayType(type))
                {
                    if (LayerArrayOf(arg.Value, env, quiet: false) is not { } array) return -1;
                    inner.Arrays[arg.Parameter] = array;
                }
                else
                {
                    var c = Fold(arg.Value, env);
                    if (c == Reported || c is null && MentionsFailed(arg.Value, env)) return -1;
                    if (c is null || !IsConstantType(type))
                    {
                        if (arg.Value is IInvalidOperation) { _hasCompilerErrors = true; return -1; }
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

    int CallOp(IInvocationOperation inv, Env env)
    {
        string name = inv.TargetMethod.Name;
        if (OpRegistry.ForMethod(name) is { } def) return def.BindCall(this, new OpCall(this, inv, env));
        Report(DiagnosticDescriptors.UnknownCall, LocationInfo.From(inv.Syntax), Short(inv.Syntax.ToString()));
        return -1;
    }

    internal static IReadOnlyList<IOperation>? ArrayElements(IOperation op)
    {
        while (op is IConversionOperation c) op = c.Operand;
        return op switch
        {
            IArrayCreationOperation { Initializer: { } init } => init.ElementValues,
            ICollectionExpressionOperation coll => coll.Elements,
            _ => null,
        };
    }

    /// <summary>Applies a layer (primitive through its op definition, else a composite block).</summary>
    int CallLayer(LayerDecl layer, int x, LocationInfo? loc)
    {
        var def = OpRegistry.ForLayer(layer.Kind);
        // Layers with parameters or statistics hold state per use; pools and dropout do not.
        bool stateless = def?.LayerIsStateless ?? false;
        if (!_usedLayers.Add(layer.Name) && !stateless)
        {
            Report(DiagnosticDescriptors.LayerReused, loc, layer.Name);
            return -1;
        }
        return def is not null ? def.BindLayer(this, layer, x, loc) : CallBlock(layer, x, loc);
    }
}
