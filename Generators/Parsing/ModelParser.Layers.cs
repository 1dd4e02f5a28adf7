// Layer fields: their constructor arguments must be compile-time constants; each becomes a LayerDecl. A layer-array
// field (`readonly RepVggBlock[] stage = [new(32, 32), new(32, 32)];`) becomes one LayerDecl per element, named
// `stage.0`, `stage.1`... as PyTorch's nn.ModuleList / nn.Sequential name their children.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed record LayerDecl(string Name, string Kind, Dictionary<string, object> Args, LocationInfo? Location,
    Dictionary<string, LocationInfo?> ArgLocations)
{
    /// <summary>Where argument <paramref name="name"/> is written, or the field when it takes its default:
    /// a diagnostic about one hyper-parameter points at the text to change.</summary>
    public LocationInfo? LocationOf(string? name) =>
        name is not null && ArgLocations.TryGetValue(name, out var loc) && loc is not null ? loc : Location;

    public int Int(string name) => Args.TryGetValue(name, out var v) && v is int i ? i : 0;

    public float Float(string name) => Args.TryGetValue(name, out var v) ? v switch { float f => f, double d => (float)d, int i => i, _ => 0f } : 0f;

    public bool Bool(string name) => Args.TryGetValue(name, out var v) && v is true;

    public string Str(string name) => Args.TryGetValue(name, out var v) && v is string t ? t : "";
}

/// <summary>A layer-array field: its elements in order (null where an element's declaration was reported).</summary>
internal sealed record LayerArray(string Name, IReadOnlyList<LayerDecl?> Elements, LocationInfo? Location)
{
    public int Count => Elements.Count;
}

internal sealed partial class ModelParser
{
    /// <summary>Composite blocks (ModelParser.Blocks.cs); primitive layers come from the op registry.</summary>
    static readonly HashSet<string> BlockLayers = new()
    {
        "GhostModule", "GhostBottleneck", "RepVggBlock", "MobileOneBlock", "RepGhostModule", "TransformerBlock",
    };

    static bool IsKnownLayer(string type) => OpRegistry.ForLayer(type) is not null || BlockLayers.Contains(type);

    readonly Dictionary<string, LayerArray> _layerArrays = new(System.StringComparer.Ordinal);

    bool IsLayerType(ITypeSymbol? t)
    {
        for (var b = t; b is not null; b = b.BaseType)
            if (b.ToDisplayString() == Ns + ".Layer") return true;
        return false;
    }

    /// <summary>The abstract base <c>Authoring.Layer</c> itself: a field or array of it takes its kind from each <c>new</c>.</summary>
    static bool IsLayerBase(ITypeSymbol? t) => t?.ToDisplayString() == Ns + ".Layer";

    bool IsLayerArrayType(ITypeSymbol? t) => t is IArrayTypeSymbol { Rank: 1 } a && IsLayerType(a.ElementType);

    bool IsKnownLayerType(ITypeSymbol t) =>
        IsLayerBase(t) || IsKnownLayer(t.Name) && t.ContainingNamespace?.ToDisplayString() == Ns;

    void ReadLayers()
    {
        foreach (var field in _type.GetMembers().OfType<IFieldSymbol>())
        {
            _ct.ThrowIfCancellationRequested();
            if (field.IsImplicitlyDeclared) continue;
            bool array = field.Type is IArrayTypeSymbol;
            var elementType = field.Type is IArrayTypeSymbol at ? at.ElementType : field.Type;
            var innermost = elementType;
            while (innermost is IArrayTypeSymbol inner) innermost = inner.ElementType;
            if (!IsLayerType(innermost)) continue;
            var declarator = field.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_ct) as VariableDeclaratorSyntax;
            var loc = LocationInfo.From(declarator?.Identifier.GetLocation() ?? field.Locations.FirstOrDefault());
            if (field.Type is IArrayTypeSymbol { Rank: not 1 } || elementType is IArrayTypeSymbol)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, "only one-dimensional layer arrays are supported ('Layer[]', not jagged or multi-dimensional)");
                continue;
            }
            if (!IsKnownLayerType(elementType))
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, $"'{elementType.Name}' is not a layer the model compiler knows");
                continue;
            }
            if (field.IsStatic)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, "layers must be instance fields");
                continue;
            }
            string example = array ? $"'= [new(...), new(...)]' (new {elementType.Name}(...) with constant arguments)" : $"initialised with 'new {elementType.Name}(...)' and constant arguments";
            if (declarator?.Initializer is null)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, array ? $"needs an initializer such as {example}" : $"needs an initializer such as '= new {elementType.Name}(...)' with constant arguments");
                continue;
            }
            var model = _compilation.GetSemanticModel(declarator.SyntaxTree);
            var op = Unwrap(model.GetOperation(declarator.Initializer.Value, _ct));
            if (op is null || op is IInvalidOperation)
            {
                _hasCompilerErrors = true;
                continue;
            }
            if (!array)
            {
                if (ReadCreation(op, field.Name, field.Name, loc, LocationInfo.From(declarator.Initializer.Value), example) is { } layer)
                    _layers[field.Name] = layer;
                continue;
            }
            var elements = ArrayElements(op);
            if (elements is null)
            {
                Report(DiagnosticDescriptors.LayerField, LocationInfo.From(declarator.Initializer.Value), field.Name,
                    $"a layer array must be initialised in place with its elements, such as {example}");
                continue;
            }
            var decls = new List<LayerDecl?>();
            foreach (var element in elements)
            {
                string name = field.Name + "." + decls.Count;
                var elementLoc = LocationInfo.From(element.Syntax);
                var layer = ReadCreation(Unwrap(element), name, $"{field.Name}[{decls.Count}]", elementLoc, elementLoc,
                    $"'new {(IsLayerBase(elementType) ? "Conv2d" : elementType.Name)}(...)' with constant arguments, written in the array's initializer");
                if (layer is not null) _layers[name] = layer;
                decls.Add(layer);
            }
            _layerArrays[field.Name] = new LayerArray(field.Name, decls, loc);
        }
    }

    static IOperation? Unwrap(IOperation? op)
    {
        while (op is IConversionOperation conv) op = conv.Operand;
        return op;
    }

    /// <summary>A layer from <c>new Kind(constant arguments)</c>; null after a diagnostic. <paramref name="shown"/> names
    /// it in messages (a field, or an array element as <c>stage[1]</c>); <paramref name="loc"/> is where it is reported.</summary>
    LayerDecl? ReadCreation(IOperation? op, string name, string shown, LocationInfo? loc, LocationInfo? valueLoc, string example)
    {
        if (op is IInvalidOperation || op?.Type is IErrorTypeSymbol)
        {
            _hasCompilerErrors = true;
            return null;
        }
        if (op is not IObjectCreationOperation creation || creation.Constructor is null || creation.Type is null)
        {
            Report(DiagnosticDescriptors.LayerField, valueLoc, shown, $"must be {example}");
            return null;
        }
        var kind = creation.Type;
        if (!IsKnownLayer(kind.Name) || kind.ContainingNamespace?.ToDisplayString() != Ns)
        {
            Report(DiagnosticDescriptors.LayerField, valueLoc, shown, $"'{kind.Name}' is not a layer the model compiler knows");
            return null;
        }
        var args = new Dictionary<string, object>();
        var argLocations = new Dictionary<string, LocationInfo?>();
        bool ok = true;
        foreach (var arg in creation.Arguments)
        {
            if (arg.Parameter is null) { _hasCompilerErrors = true; ok = false; continue; }
            var value = arg.Value;
            if (!value.ConstantValue.HasValue || value.ConstantValue.Value is null)
            {
                Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(arg.Syntax), arg.Parameter.Name, $"{kind.Name} '{shown}'");
                ok = false;
                continue;
            }
            args[arg.Parameter.Name] = value.ConstantValue.Value;
            if (arg.ArgumentKind == ArgumentKind.Explicit) argLocations[arg.Parameter.Name] = LocationInfo.From(arg.Syntax);
        }
        return ok ? new LayerDecl(name, kind.Name, args, loc, argLocations) : null;
    }
}
