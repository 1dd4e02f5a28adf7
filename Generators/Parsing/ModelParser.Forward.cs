// Lowers the Forward method (and Tensor helper methods it calls, inlined) to graph nodes. Straight-line
// code only: locals, assignments, returns, layer and op calls, + and * on tensors.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
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

    internal float? ConstFloat(IOperation op, Env env, string name, string owner)
    {
        var c = Constant(op, env);
        if (c is float f) return f;
        if (c is double d) return (float)d;
        if (c is int i) return i;
        if (op is IInvalidOperation) { _hasCompilerErrors = true; return null; }
        if (IsFailedLocal(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

    internal string? ConstString(IOperation op, Env env, string name, string owner)
    {
        var c = Constant(op, env);
        if (c is string str) return str;
        if (op is IInvalidOperation) { _hasCompilerErrors = true; return null; }
        if (IsFailedLocal(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

    internal bool? ConstBool(IOperation op, Env env, string name, string owner)
    {
        var c = Constant(op, env);
        if (c is bool b) return b;
        if (op is IInvalidOperation) { _hasCompilerErrors = true; return null; }
        if (IsFailedLocal(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

    internal int? ConstInt(IOperation op, Env env, string name, string owner)
    {
        var c = Constant(op, env);
        if (c is int i) return i;
        if (op is IInvalidOperation) { _hasCompilerErrors = true; return null; }
        if (IsFailedLocal(op, env)) return null;
        Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(op.Syntax), name, owner);
        return null;
    }

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
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Reading '{l.Local.Name}' before it holds a tensor");
                return -1;
            case IParameterReferenceOperation p:
                if (env.Values.TryGetValue(p.Parameter, out int pv)) return pv;
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Parameter '{p.Parameter.Name}'");
                return -1;
            case IBinaryOperation b when b.OperatorMethod is { } m && IsTensor(m.ContainingType):
                return Operator(b, env);
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Minus } u when u.OperatorMethod is { } m && IsTensor(m.ContainingType):
                {
                    int x = Eval(u.Operand, env);
                    return x < 0 ? -1 : ScalarOp.Apply(this, ScalarKind.Mul, -1f, x, LocationInfo.From(op.Syntax));
                }
            case IInvocationOperation inv:
                return Invoke(inv, env);
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return -1; }
                return Unsupported(op);
        }
    }

    /// <summary>+, -, * and / between tensors, or between a tensor and a float constant.</summary>
    int Operator(IBinaryOperation b, Env env)
    {
        var loc = LocationInfo.From(b.Syntax);
        bool left = IsTensor(b.LeftOperand.Type), right = IsTensor(b.RightOperand.Type);
        string symbol = b.OperatorKind switch
        {
            BinaryOperatorKind.Add => "+",
            BinaryOperatorKind.Subtract => "-",
            BinaryOperatorKind.Multiply => "*",
            BinaryOperatorKind.Divide => "/",
            _ => "",
        };
        if (symbol.Length == 0) return Unsupported(b);
        if (left && right)
        {
            int x = Eval(b.LeftOperand, env), y = Eval(b.RightOperand, env);
            if (x < 0 || y < 0) return -1;
            string op = symbol switch { "+" => OpKind.Add, "-" => OpKind.Sub, "*" => OpKind.Mul, _ => OpKind.Div };
            return BinaryOp.Apply(this, op, symbol, x, y, loc);
        }
        var tensor = left ? b.LeftOperand : b.RightOperand;
        var scalar = left ? b.RightOperand : b.LeftOperand;
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

    /// <summary>Applies a layer field (primitive through its op definition, else a composite block).</summary>
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
