// Layers as values in Forward: a layer field, an element of a layer array (`stage[i]`, constant index), a local or
// helper parameter holding a layer (`foreach (var block in stage)`, `Tensor Block(Conv2d conv, Tensor x)`), or a
// constant `?:` between layers. All resolve at compile time to the one LayerDecl they name.
using System.Collections.Generic;
using Authoring.Generators.Diagnostics;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    /// <summary>The layer <paramref name="op"/> names; null after a diagnostic, or quietly when its declaration was
    /// already reported. <paramref name="use"/> is what an unknown layer expression is reported as (the call).</summary>
    LayerDecl? LayerOf(IOperation op, Env env, IOperation use)
    {
        op = Unwrap(op)!;
        switch (op)
        {
            case IInvalidOperation:
                _hasCompilerErrors = true;
                return null;
            case IFieldReferenceOperation fr when SymbolEqualityComparer.Default.Equals(fr.Field.ContainingType, _type)
                                                  && fr.Field.Type is not IArrayTypeSymbol:
                return _layers.TryGetValue(fr.Field.Name, out var field) ? field : null; // else its declaration was reported
            case IArrayElementReferenceOperation element:
                {
                    var array = LayerArrayOf(element.ArrayReference, env, quiet: false);
                    if (array is null || element.Indices.Length != 1) return null;
                    var indexOp = element.Indices[0];
                    var index = Fold(indexOp, env);
                    if (index == Reported || index is null && MentionsFailed(indexOp, env)) return null;
                    if (index is not int i)
                    {
                        Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(indexOp.Syntax),
                            $"The index '{Short(indexOp.Syntax.ToString())}' into '{array.Name}' is not a compile-time constant: layers are chosen at compile time, so index a layer array with a literal, a const or a loop variable");
                        return null;
                    }
                    if (i < 0 || i >= array.Count)
                    {
                        Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(indexOp.Syntax),
                            $"Index {i} is outside '{array.Name}', which has {array.Count} element{(array.Count == 1 ? "" : "s")}" +
                            (array.Count > 0 ? $" (0 to {array.Count - 1})" : ""));
                        return null;
                    }
                    return array.Elements[i]; // null: that element's declaration was reported
                }
            case ILocalReferenceOperation l:
                return Held(l.Local, env, op);
            case IParameterReferenceOperation p:
                return Held(p.Parameter, env, op);
            case IConditionalOperation { WhenFalse: { } whenFalse } cond:
                return Condition(cond.Condition, env, "conditional expression") switch
                {
                    true => LayerOf(cond.WhenTrue, env, use),
                    false => LayerOf(whenFalse, env, use),
                    null => null,
                };
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return null; }
                Report(DiagnosticDescriptors.UnknownCall, LocationInfo.From(use.Syntax), Short(use.Syntax.ToString()));
                return null;
        }
    }

    /// <summary>A layer bound to a local or parameter of a specific layer type must be of that type (C# casts through
    /// <c>Layer</c> are only checked at run time, which a model never reaches).</summary>
    LayerDecl? Typed(LayerDecl? layer, ITypeSymbol type, IOperation value)
    {
        if (layer is null || IsLayerBase(type) || type.Name == layer.Kind) return layer;
        Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(value.Syntax),
            $"'{Short(value.Syntax.ToString())}' is {layer.Name}, a {layer.Kind}, not a {type.Name}");
        return null;
    }

    LayerDecl? Held(ISymbol symbol, Env env, IOperation op)
    {
        if (env.Layers.TryGetValue(symbol, out var layer)) return layer;
        if (!env.Failed.Contains(symbol))
            Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax), $"Reading '{symbol.Name}' before it holds a layer");
        return null;
    }

    /// <summary>The layer array <paramref name="op"/> names (a layer-array field, or a local or parameter holding one);
    /// null after a diagnostic, or with no diagnostic when <paramref name="quiet"/> (the caller reports in its terms).</summary>
    LayerArray? LayerArrayOf(IOperation op, Env env, bool quiet)
    {
        op = Unwrap(op)!;
        switch (op)
        {
            case IInvalidOperation:
                _hasCompilerErrors = true;
                return null;
            case IFieldReferenceOperation fr when SymbolEqualityComparer.Default.Equals(fr.Field.ContainingType, _type) && IsLayerArrayType(fr.Field.Type):
                return _layerArrays.TryGetValue(fr.Field.Name, out var array) ? array : null;
            case ILocalReferenceOperation l when env.Arrays.TryGetValue(l.Local, out var la):
                return la;
            case IParameterReferenceOperation p when env.Arrays.TryGetValue(p.Parameter, out var pa):
                return pa;
            case ILocalReferenceOperation l when env.Failed.Contains(l.Local):
                return null;
            case IParameterReferenceOperation p when env.Failed.Contains(p.Parameter):
                return null;
            case IConditionalOperation { WhenFalse: { } whenFalse } cond when IsLayerArrayType(cond.Type):
                return Condition(cond.Condition, env, "conditional expression") switch
                {
                    true => LayerArrayOf(cond.WhenTrue, env, quiet),
                    false => LayerArrayOf(whenFalse, env, quiet),
                    null => null,
                };
            default:
                if (op.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return null; }
                if (!quiet)
                    Report(DiagnosticDescriptors.UnsupportedConstruct, LocationInfo.From(op.Syntax),
                        $"The layer array '{Short(op.Syntax.ToString())}' (only a layer-array field of the model, or a local or parameter holding one, is known at compile time)");
                return null;
        }
    }

    /// <summary>A condition that must be a compile-time constant (an if, a <c>?:</c>, a loop's); null after a diagnostic.</summary>
    bool? Condition(IOperation condition, Env env, string what)
    {
        var c = Fold(condition, env);
        if (c is bool b) return b;
        if (c == Reported || MentionsFailed(condition, env)) return null;
        if (condition is IInvalidOperation || condition.Type is IErrorTypeSymbol) { _hasCompilerErrors = true; return null; }
        Report(DiagnosticDescriptors.CompileTimeControlFlow, LocationInfo.From(condition.Syntax),
            $"The condition '{Short(condition.Syntax.ToString())}' of this {what} is not a compile-time constant: Forward is unrolled at compile time, so conditions and loop bounds must be built from literals, consts, constant parameters and loop variables");
        return null;
    }

    internal sealed class Env
    {
        public readonly Dictionary<ISymbol, int> Values = new(SymbolEqualityComparer.Default);
        public readonly Dictionary<ISymbol, object> Constants = new(SymbolEqualityComparer.Default);
        public readonly Dictionary<ISymbol, LayerDecl> Layers = new(SymbolEqualityComparer.Default);
        public readonly Dictionary<ISymbol, LayerArray> Arrays = new(SymbolEqualityComparer.Default);
        /// <summary>Locals and parameters whose value was already reported (or lost to code that was not unrolled):
        /// reading them yields nothing, quietly.</summary>
        public readonly HashSet<ISymbol> Failed = new(SymbolEqualityComparer.Default);
        /// <summary>The value a <c>return</c> produced (a tensor node; -1 after a diagnostic).</summary>
        public int Result = -1;

        public void Forget(ISymbol symbol)
        {
            Values.Remove(symbol);
            Constants.Remove(symbol);
            Layers.Remove(symbol);
            Arrays.Remove(symbol);
            Failed.Remove(symbol);
        }
    }
}
