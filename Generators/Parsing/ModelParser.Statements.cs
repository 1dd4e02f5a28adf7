// The statements of Forward and its helpers, executed at compile time: locals and assignments, returns, blocks,
// `if` on a constant condition, and loops unrolled from constant bounds (`for` over an int variable, `foreach` over
// a layer array or an array of constants) with break and continue. Limits keep the generator finite: at most
// MaxIterations unrolled iterations and MaxNodes graph nodes per model, and cancellation is checked on every
// iteration.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    /// <summary>Unrolled loop iterations per model, all loops together.</summary>
    internal const int MaxIterations = 100_000;

    /// <summary>Graph nodes per model.</summary>
    internal const int MaxNodes = 100_000;

    int _iterations;

    /// <summary>Headers of the loops being unrolled, outermost first: where a limit is reported.</summary>
    readonly List<LocationInfo?> _loops = new();

    /// <summary>Stops parsing once a limit was reported: nothing after it could be compiled.</summary>
    sealed class LimitReached : System.Exception
    {
    }

    enum Flow { Next, Break, Continue, Return }

    Flow ExecAll(IEnumerable<IOperation> statements, Env env)
    {
        foreach (var statement in statements)
        {
            var flow = Exec(statement, env);
            if (flow != Flow.Next) return flow;
        }
        return Flow.Next;
    }

    Flow Exec(IOperation statement, Env env)
    {
        _ct.ThrowIfCancellationRequested();
        switch (statement)
        {
            case IBlockOperation block:
                return ExecAll(block.Operations, env);
            case IVariableDeclarationGroupOperation group:
                foreach (var declaration in group.Declarations)
                foreach (var d in declaration.Declarators)
                {
                    var init = d.Initializer?.Value ?? declaration.Initializer?.Value;
                    if (init is null)
                    {
                        env.Failed.Add(d.Symbol);
                        Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(d.Syntax), "A local without an initializer");
                        continue;
                    }
                    Assign(d.Symbol, d.Symbol.Type, init, env);
                }
                return Flow.Next;
            case IExpressionStatementOperation e:
                ExecExpression(e.Operation, e, env);
                return Flow.Next;
            case IReturnOperation ret:
                env.Result = ret.ReturnedValue is null ? -1 : Eval(ret.ReturnedValue, env);
                return Flow.Return;
            case IConditionalOperation cond:
                switch (Condition(cond.Condition, env, "if statement"))
                {
                    case true:
                        return Exec(cond.WhenTrue, env);
                    case false:
                        return cond.WhenFalse is null ? Flow.Next : Exec(cond.WhenFalse, env);
                    default:
                        // Neither branch runs: what they assign is unknown from here on, and reads of it stay quiet.
                        Poison(cond, env);
                        return Flow.Next;
                }
            case IForLoopOperation loop:
                return For(loop, env);
            case IForEachLoopOperation loop:
                return ForEach(loop, env);
            case IBranchOperation { BranchKind: BranchKind.Break } when _loops.Count > 0:
                return Flow.Break;
            case IBranchOperation { BranchKind: BranchKind.Continue } when _loops.Count > 0:
                return Flow.Continue;
            case IInvalidOperation:
                _hasCompilerErrors = true;
                return Flow.Next;
            case IEmptyOperation:
                return Flow.Next;
            default:
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(statement.Syntax), Describe(statement.Syntax));
                Poison(statement, env);
                return Flow.Next;
        }
    }

    /// <summary>Assignments, compound assignments and ++/-- of locals and parameters.</summary>
    void ExecExpression(IOperation op, IOperation statement, Env env)
    {
        switch (op)
        {
            case ISimpleAssignmentOperation { Target: ILocalReferenceOperation t } a:
                Assign(t.Local, t.Local.Type, a.Value, env);
                return;
            case ISimpleAssignmentOperation { Target: IParameterReferenceOperation t } a:
                Assign(t.Parameter, t.Parameter.Type, a.Value, env);
                return;
            case ICompoundAssignmentOperation { Target: ILocalReferenceOperation or IParameterReferenceOperation } c:
                {
                    var symbol = Symbol(c.Target)!;
                    var type = c.Target.Type!;
                    if (IsTensor(type))
                    {
                        // h += x is h = h + x: the tensor operator, with the node at the whole statement.
                        int v = Operator(c.OperatorKind, c.Target, c.Value, c.Syntax, env);
                        env.Forget(symbol);
                        if (v >= 0) env.Values[symbol] = v;
                        else env.Failed.Add(symbol);
                        return;
                    }
                    var left = Fold(c.Target, env);
                    var right = Fold(c.Value, env);
                    var result = left is null || right is null || left == Reported || right == Reported ? null : Arith(c.OperatorKind, left, right, type, c.Syntax);
                    SetConstant(symbol, type, result, c, env);
                    return;
                }
            case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation or IParameterReferenceOperation } inc:
                {
                    var symbol = Symbol(inc.Target)!;
                    var type = inc.Target.Type!;
                    var value = Fold(inc.Target, env);
                    var kind = inc.Kind is OperationKind.Increment ? BinaryOperatorKind.Add : BinaryOperatorKind.Subtract;
                    var result = value is null || value == Reported ? null : Arith(kind, value, 1, type, inc.Syntax);
                    SetConstant(symbol, type, result, inc, env);
                    return;
                }
            case IInvalidOperation:
                _hasCompilerErrors = true;
                return;
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return; }
                Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(statement.Syntax), Describe(statement.Syntax));
                Poison(statement, env);
                return;
        }
    }

    static ISymbol? Symbol(IOperation target) => target switch
    {
        ILocalReferenceOperation l => l.Local,
        IParameterReferenceOperation p => p.Parameter,
        _ => null,
    };

    void SetConstant(ISymbol symbol, ITypeSymbol type, object? result, IOperation op, Env env)
    {
        bool failed = env.Failed.Contains(symbol);
        env.Forget(symbol);
        if (result is not null && result != Reported && IsConstantType(type))
        {
            env.Constants[symbol] = result;
            return;
        }
        env.Failed.Add(symbol);
        if (result == Reported || failed || MentionsFailed(op, env)) return;
        Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"A non-constant update of '{symbol.Name}'");
    }

    /// <summary>A compound assignment's arithmetic: both sides promoted as C# does, the result converted back to the
    /// target's type (overflow reported, as everywhere in compile-time arithmetic).</summary>
    object? Arith(BinaryOperatorKind kind, object left, object right, ITypeSymbol type, SyntaxNode syntax)
    {
        static int Rank(object v) => v switch { int => 0, long => 1, float => 2, double => 3, _ => -1 };
        int rank = System.Math.Max(Rank(left), Rank(right));
        if (Rank(left) < 0 || Rank(right) < 0) return left is string ls && right is string rs && kind == BinaryOperatorKind.Add ? ls + rs : null;
        object? Promote(object v) => rank switch
        {
            0 => v,
            1 => System.Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture),
            2 => System.Convert.ToSingle(v, System.Globalization.CultureInfo.InvariantCulture),
            _ => System.Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture),
        };
        try
        {
            object? r = (Promote(left), Promote(right)) switch
            {
                (int x, int y) => Int(kind, x, y),
                (long x, long y) => Long(kind, x, y),
                (float x, float y) => Real(kind, x, y) is double d ? (float)d : null,
                (double x, double y) => Real(kind, x, y),
                _ => null,
            };
            if (r is null) return null;
            double value = System.Convert.ToDouble(r, System.Globalization.CultureInfo.InvariantCulture);
            switch (type.SpecialType)
            {
                case SpecialType.System_Int32:
                    if (r is int) return r;
                    if (double.IsNaN(value) || System.Math.Truncate(value) > int.MaxValue || System.Math.Truncate(value) < int.MinValue) throw new System.OverflowException();
                    return (int)value;
                case SpecialType.System_Int64:
                    return r is long or int ? System.Convert.ToInt64(r, System.Globalization.CultureInfo.InvariantCulture) : checked((long)value);
                case SpecialType.System_Single:
                    return (float)value;
                case SpecialType.System_Double:
                    return value;
                default:
                    return null;
            }
        }
        catch (System.OverflowException)
        {
            Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(syntax), $"'{Short(syntax.ToString())}'",
                $"overflows {(type.SpecialType == SpecialType.System_Int64 ? "a long" : "an int")} ({Show(left)} and {Show(right)}); sizes must fit an int");
            return Reported;
        }
        catch (System.DivideByZeroException)
        {
            Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(syntax), $"'{Short(syntax.ToString())}'", "divides by zero");
            return Reported;
        }
    }

    Flow For(IForLoopOperation loop, Env env)
    {
        var header = Header(loop.Syntax);
        // The loop is unrolled from its header alone: a variable the body changes would make the count unknowable.
        var variables = new HashSet<ISymbol>(loop.Locals, SymbolEqualityComparer.Default);
        foreach (var s in loop.AtLoopBottom)
            foreach (var o in s.DescendantsAndSelf())
                if (AssignedSymbol(o) is { } updated) variables.Add(updated);
        foreach (var o in loop.Body.DescendantsAndSelf())
        {
            if (AssignedSymbol(o) is not { } assigned || !variables.Contains(assigned)) continue;
            Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(o.Syntax),
                $"The loop variable '{assigned.Name}' is assigned in the loop's body: loops are unrolled at compile time from their header, so change '{assigned.Name}' only in the for's increment");
            Poison(loop, env);
            return Flow.Next;
        }
        foreach (var s in loop.Before)
            if (Exec(s, env) != Flow.Next) return Flow.Next;
        return Unroll(loop, header, env, () =>
        {
            if (loop.Condition is null) return true;
            return Condition(loop.Condition, env, "for loop");
        }, () =>
        {
            foreach (var s in loop.AtLoopBottom) Exec(s, env);
        });
    }

    Flow ForEach(IForEachLoopOperation loop, Env env)
    {
        var header = Header(loop.Syntax);
        if (loop.LoopControlVariable is not IVariableDeclaratorOperation { Symbol: var local })
        {
            Unsupported(loop.LoopControlVariable);
            Poison(loop, env);
            return Flow.Next;
        }
        var collection = Unwrap(loop.Collection)!;
        var array = LayerArrayOf(collection, env, quiet: true);
        List<object>? constants = null;
        if (array is null)
        {
            if (MentionsFailed(collection, env) || collection is IFieldReferenceOperation fr && IsLayerType((fr.Field.Type as IArrayTypeSymbol)?.ElementType))
            {
                Poison(loop, env);
                return Flow.Next; // a layer-array field whose declaration was reported
            }
            constants = ConstantElements(collection, env);
            if (constants is null)
            {
                Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(collection.Syntax),
                    $"'{Short(collection.Syntax.ToString())}' cannot be unrolled at compile time: foreach iterates a layer array (a field such as 'readonly Conv2d[] convs = [...]', or a helper parameter holding one) or an array of constants");
                Poison(loop, env);
                return Flow.Next;
            }
        }
        int count = array?.Count ?? constants!.Count, k = 0;
        bool ok = true;
        return Unroll(loop, header, env, () =>
        {
            if (k >= count || !ok) return false;
            env.Forget(local);
            if (array is not null)
            {
                if (array.Elements[k] is { } layer) env.Layers[local] = layer;
                else env.Failed.Add(local);
            }
            else if (IsConstantType(local.Type) && constants![k] is { } c && c != Reported) env.Constants[local] = c;
            else env.Failed.Add(local);
            k++;
            return true;
        }, () => { });
    }

    /// <summary>The compile-time elements of an array of constants (<c>new[] { 16, 32 }</c>, <c>[16, 32]</c>).</summary>
    List<object>? ConstantElements(IOperation collection, Env env)
    {
        if (ArrayElements(collection) is not { } elements) return null;
        var values = new List<object>(elements.Count);
        foreach (var e in elements)
        {
            var v = Fold(e, env);
            if (v is null) return null;
            values.Add(v);
        }
        return values;
    }

    /// <summary>Runs a loop's iterations: <paramref name="next"/> decides whether another one runs (null: reported).
    /// An iteration that reported something ends the loop, so one mistake in a body is one diagnostic.</summary>
    Flow Unroll(ILoopOperation loop, LocationInfo? header, Env env, System.Func<bool?> next, System.Action step)
    {
        _loops.Add(header);
        try
        {
            while (true)
            {
                _ct.ThrowIfCancellationRequested();
                int before = _diagnostics.Count;
                var go = next();
                if (go is null || _diagnostics.Count > before)
                {
                    Poison(loop, env);
                    return Flow.Next;
                }
                if (go == false) return Flow.Next;
                if (++_iterations > MaxIterations)
                {
                    Report(DiagnosticDescriptors.CompileTimeControlFlow, header,
                        $"Forward unrolls more than {Count(MaxIterations)} loop iterations: loops are unrolled at compile time, so their counts must stay small (check the bound and the step of this loop)");
                    throw new LimitReached();
                }
                var flow = Exec(loop.Body, env);
                if (flow == Flow.Return) return Flow.Return;
                if (_diagnostics.Count > before || _hasCompilerErrors)
                {
                    Poison(loop, env);
                    return Flow.Next;
                }
                if (flow == Flow.Break) return Flow.Next;
                step();
            }
        }
        finally
        {
            _loops.RemoveAt(_loops.Count - 1);
        }
    }

    /// <summary>Called for every new node: past <see cref="MaxNodes"/>, reported at the outermost loop being unrolled.</summary>
    void CheckNodeLimit(LocationInfo? loc)
    {
        if (_nodes.Count < MaxNodes) return;
        Report(DiagnosticDescriptors.CompileTimeControlFlow, _loops.Count > 0 ? _loops[0] : loc,
            $"Forward unrolls to more than {Count(MaxNodes)} graph nodes: loops are unrolled at compile time, so the graph they build must stay small");
        throw new LimitReached();
    }

    static ISymbol? AssignedSymbol(IOperation o) => o switch
    {
        ISimpleAssignmentOperation a => Symbol(a.Target),
        ICompoundAssignmentOperation c => Symbol(c.Target),
        IIncrementOrDecrementOperation i => Symbol(i.Target),
        _ => null,
    };

    /// <summary>Forgets every local and parameter <paramref name="region"/> declares or assigns, after it could not be
    /// executed: reads of them are quiet, so one problem is one diagnostic.</summary>
    static void Poison(IOperation region, Env env)
    {
        foreach (var o in region.DescendantsAndSelf())
        {
            ISymbol? s = o switch
            {
                IVariableDeclaratorOperation d => d.Symbol,
                _ => AssignedSymbol(o),
            };
            if (s is null) continue;
            env.Forget(s);
            env.Failed.Add(s);
        }
        if (region is IForEachLoopOperation { LoopControlVariable: IVariableDeclaratorOperation v })
        {
            env.Forget(v.Symbol);
            env.Failed.Add(v.Symbol);
        }
    }

    /// <summary>A loop's header (<c>for (...)</c>, <c>foreach (...)</c>): where its count is reported.</summary>
    static LocationInfo? Header(SyntaxNode syntax)
    {
        var (start, end) = syntax switch
        {
            ForStatementSyntax f => (f.ForKeyword.SpanStart, f.CloseParenToken.Span.End),
            CommonForEachStatementSyntax f => (f.ForEachKeyword.SpanStart, f.CloseParenToken.Span.End),
            _ => (syntax.SpanStart, syntax.Span.End),
        };
        return LocationInfo.From(Location.Create(syntax.SyntaxTree, TextSpan.FromBounds(start, end)));
    }
}
