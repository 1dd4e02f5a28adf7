// Compile-time evaluation of the non-tensor expressions in Forward: C# constants, constant locals and helper
// parameters, loop variables, arithmetic, comparisons and logic over them, `?:` on a constant condition, and the
// Length of a layer array. Unrolling loops makes expressions such as `C << i` constants too. Arithmetic is checked:
// an int that overflows is a located AUT0011, never a wrapped size.
using System;
using Authoring.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    /// <summary>What <see cref="Fold"/> returns after it reported a diagnostic itself (an overflow, a division by zero).</summary>
    static readonly object Reported = new();

    /// <summary>The compile-time value of <paramref name="op"/> (int, long, float, double, bool or string), null when it
    /// is not one, or <see cref="Reported"/>.</summary>
    object? Fold(IOperation? op, Env env)
    {
        if (op is null) return null;
        if (op.ConstantValue.HasValue) return op.ConstantValue.Value;
        switch (op)
        {
            case IConversionOperation c:
                {
                    var v = Fold(c.Operand, env);
                    return v is null || v == Reported ? v : ConvertTo(v, c.Type, c);
                }
            case ILocalReferenceOperation l:
                return env.Constants.TryGetValue(l.Local, out var lv) ? lv : null;
            case IParameterReferenceOperation p:
                return env.Constants.TryGetValue(p.Parameter, out var pv) ? pv : null;
            case IBinaryOperation { OperatorMethod: null } b:
                return FoldBinary(b, env);
            case IUnaryOperation { OperatorMethod: null } u:
                return FoldUnary(u, env);
            case IConditionalOperation { WhenFalse: not null } cond when cond.Type is not null:
                {
                    var c = Fold(cond.Condition, env);
                    if (c is not bool b) return c == Reported ? c : null;
                    return Fold(b ? cond.WhenTrue : cond.WhenFalse, env);
                }
            case IPropertyReferenceOperation { Property.Name: "Length", Instance: { } instance } when instance.Type is IArrayTypeSymbol:
                return LayerArrayOf(instance, env, quiet: true) is { } array ? array.Count : null;
            default:
                return null;
        }
    }

    object? FoldBinary(IBinaryOperation b, Env env)
    {
        var kind = b.OperatorKind;
        if (kind is BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr)
        {
            // Short-circuit as C# does: `i > 0 && ...` must not need the right side when the left decides.
            var l = Fold(b.LeftOperand, env);
            if (l is not bool lb) return l == Reported ? l : null;
            if (lb == (kind == BinaryOperatorKind.ConditionalOr)) return lb;
            var r = Fold(b.RightOperand, env);
            return r is bool ? r : r == Reported ? r : null;
        }
        var left = Fold(b.LeftOperand, env);
        if (left is null || left == Reported) return left;
        var right = Fold(b.RightOperand, env);
        if (right is null || right == Reported) return right;
        try
        {
            object? result = (left, right) switch
            {
                (int x, int y) => Int(kind, x, y),
                (long x, long y) => Long(kind, x, y),
                (float x, float y) => Real(kind, x, y) is double d ? (float)d : Real(kind, x, y),
                (double x, double y) => Real(kind, x, y),
                (bool x, bool y) => Bool(kind, x, y),
                (string x, string y) => kind switch
                {
                    BinaryOperatorKind.Add => x + y,
                    BinaryOperatorKind.Equals => x == y,
                    BinaryOperatorKind.NotEquals => x != y,
                    _ => null,
                },
                _ => null,
            };
            return result;
        }
        catch (OverflowException)
        {
            Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(b.Syntax), $"'{Short(b.Syntax.ToString())}'",
                $"overflows {(left is long ? "a long" : "an int")} ({Show(left)} and {Show(right)}); sizes must fit an int");
            return Reported;
        }
        catch (DivideByZeroException)
        {
            Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(b.Syntax), $"'{Short(b.Syntax.ToString())}'", "divides by zero");
            return Reported;
        }
    }

    static string Show(object? v) => v switch
    {
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => System.Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "null",
    };

    static object? Int(BinaryOperatorKind k, int x, int y) => k switch
    {
        BinaryOperatorKind.Add => checked(x + y),
        BinaryOperatorKind.Subtract => checked(x - y),
        BinaryOperatorKind.Multiply => checked(x * y),
        // int.MinValue / -1 overflows in C# as well.
        BinaryOperatorKind.Divide => y == -1 ? checked(-x) : x / y,
        BinaryOperatorKind.Remainder => y == -1 ? 0 : x % y,
        BinaryOperatorKind.LeftShift => Shift(x, y),
        BinaryOperatorKind.RightShift => x >> y,
        BinaryOperatorKind.And => x & y,
        BinaryOperatorKind.Or => x | y,
        BinaryOperatorKind.ExclusiveOr => x ^ y,
        BinaryOperatorKind.Equals => x == y,
        BinaryOperatorKind.NotEquals => x != y,
        BinaryOperatorKind.LessThan => x < y,
        BinaryOperatorKind.LessThanOrEqual => x <= y,
        BinaryOperatorKind.GreaterThan => x > y,
        BinaryOperatorKind.GreaterThanOrEqual => x >= y,
        _ => null,
    };

    /// <summary>C#'s shift takes the count mod 32; a size built as <c>1 &lt;&lt; i</c> that leaves the int is an overflow here.</summary>
    static int Shift(int x, int y)
    {
        long r = (long)x << (y & 31);
        if (r > int.MaxValue || r < int.MinValue) throw new OverflowException();
        return (int)r;
    }

    static object? Long(BinaryOperatorKind k, long x, long y) => k switch
    {
        BinaryOperatorKind.Add => checked(x + y),
        BinaryOperatorKind.Subtract => checked(x - y),
        BinaryOperatorKind.Multiply => checked(x * y),
        BinaryOperatorKind.Divide => y == -1 ? checked(-x) : x / y,
        BinaryOperatorKind.Remainder => y == -1 ? 0L : x % y,
        BinaryOperatorKind.Equals => x == y,
        BinaryOperatorKind.NotEquals => x != y,
        BinaryOperatorKind.LessThan => x < y,
        BinaryOperatorKind.LessThanOrEqual => x <= y,
        BinaryOperatorKind.GreaterThan => x > y,
        BinaryOperatorKind.GreaterThanOrEqual => x >= y,
        _ => null,
    };

    static object? Real(BinaryOperatorKind k, double x, double y) => k switch
    {
        BinaryOperatorKind.Add => x + y,
        BinaryOperatorKind.Subtract => x - y,
        BinaryOperatorKind.Multiply => x * y,
        BinaryOperatorKind.Divide => x / y,
        BinaryOperatorKind.Remainder => x % y,
        BinaryOperatorKind.Equals => x == y,
        BinaryOperatorKind.NotEquals => x != y,
        BinaryOperatorKind.LessThan => x < y,
        BinaryOperatorKind.LessThanOrEqual => x <= y,
        BinaryOperatorKind.GreaterThan => x > y,
        BinaryOperatorKind.GreaterThanOrEqual => x >= y,
        _ => null,
    };

    static object? Bool(BinaryOperatorKind k, bool x, bool y) => k switch
    {
        BinaryOperatorKind.And => x & y,
        BinaryOperatorKind.Or => x | y,
        BinaryOperatorKind.ExclusiveOr => x ^ y,
        BinaryOperatorKind.Equals => x == y,
        BinaryOperatorKind.NotEquals => x != y,
        _ => null,
    };

    object? FoldUnary(IUnaryOperation u, Env env)
    {
        var v = Fold(u.Operand, env);
        if (v is null || v == Reported) return v;
        try
        {
            return (u.OperatorKind, v) switch
            {
                (UnaryOperatorKind.Plus, _) => v,
                (UnaryOperatorKind.Minus, int i) => checked(-i),
                (UnaryOperatorKind.Minus, long l) => checked(-l),
                (UnaryOperatorKind.Minus, float f) => -f,
                (UnaryOperatorKind.Minus, double d) => -d,
                (UnaryOperatorKind.BitwiseNegation, int i) => ~i,
                (UnaryOperatorKind.Not, bool b) => !b,
                _ => null,
            };
        }
        catch (OverflowException)
        {
            Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(u.Syntax), $"'{Short(u.Syntax.ToString())}'", "overflows an int");
            return Reported;
        }
    }

    /// <summary>A numeric conversion as C# performs it; narrowing that loses the value (a cast of 3e9 to int) is
    /// reported, since the result would be a size.</summary>
    object? ConvertTo(object v, ITypeSymbol? to, IConversionOperation c)
    {
        if (to is null) return null;
        double d = v switch { int i => i, long l => l, float f => f, double x => x, _ => double.NaN };
        bool numeric = v is int or long or float or double;
        switch (to.SpecialType)
        {
            case SpecialType.System_Int32:
                if (!numeric) return null;
                if (v is int) return v;
                if (double.IsNaN(d) || Math.Truncate(d) > int.MaxValue || Math.Truncate(d) < int.MinValue) return Overflow(c, v, "an int");
                return v is long l32 ? (int)l32 : (int)d;
            case SpecialType.System_Int64:
                if (!numeric) return null;
                if (v is int or long) return System.Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || Math.Truncate(d) >= 9.2233720368547758E18 || Math.Truncate(d) < long.MinValue) return Overflow(c, v, "a long");
                return (long)d;
            case SpecialType.System_Single:
                return numeric ? (v is long l ? (float)l : (float)d) : null;
            case SpecialType.System_Double:
                return numeric ? (v is long l2 ? (double)l2 : d) : null;
            case SpecialType.System_Boolean:
                return v is bool ? v : null;
            case SpecialType.System_String:
                return v as string;
            case SpecialType.System_Object:
                return v;
            default:
                return null;
        }
    }

    object Overflow(IConversionOperation c, object v, string what)
    {
        Report(DiagnosticDescriptors.InvalidHyperParameter, LocationInfo.From(c.Syntax), $"'{Short(c.Syntax.ToString())}'", $"{Show(v)} does not fit {what}");
        return Reported;
    }
}
