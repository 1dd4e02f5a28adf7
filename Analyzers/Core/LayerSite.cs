// Where a layer is declared and how its constructor arguments are written, so rules about hyper-parameters can
// point at the argument itself and code fixes can rewrite it. A layer is named as the parser names it: a field
// (`conv`), an element of a layer-array field (`stage.1`, its `new(...)` in the array's initializer), or a sub-layer
// of a composite block under either (`g.primary_conv.0`, `stage.1.rbr_dense.conv`). A sub-layer has no text of its
// own: its site is the block's `new(...)`, where the rules report it (naming the sub-layer) and no fix applies.
using System.Linq;
using System.Threading;
using Authoring.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Analyzers.Core;

internal sealed class LayerSite
{
    readonly IObjectCreationOperation _creation;

    LayerSite(string typeName, IObjectCreationOperation creation, string declared, string subLayer)
    {
        TypeName = typeName;
        _creation = creation;
        Declared = declared;
        SubLayer = subLayer;
    }

    /// <summary>The layer class name: Conv2d, DepthwiseConv2d, Linear, BatchNorm2d, ... (for a block's sub-layer, the
    /// primitive layer the block expands it into: Conv2d or BatchNorm2d).</summary>
    public string TypeName { get; }

    /// <summary>The name of the declaration: the field, or the array element (<c>stage.1</c>).</summary>
    public string Declared { get; }

    /// <summary>The path inside a composite block (<c>rbr_dense.conv</c>); empty for a layer written by the user.</summary>
    public string SubLayer { get; }

    /// <summary>True for a sub-layer of a composite block: its hyper-parameters are derived from the block's, so the
    /// site is the block's <c>new(...)</c> and there is no argument of its own to rewrite.</summary>
    public bool InBlock => SubLayer.Length > 0;

    /// <summary>The declared layer's class (the block's for a sub-layer).</summary>
    public string DeclaredType => _creation.Type?.Name ?? "";

    public SyntaxNode Creation => _creation.Syntax;

    /// <summary>The site of the layer the parser named <paramref name="layerName"/>, with <paramref name="subKind"/> the
    /// primitive layer kind of a block's sub-layer; null when it is not declared as a field or array element.</summary>
    public static LayerSite? Find(INamedTypeSymbol type, string layerName, string subKind, Compilation compilation, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(layerName)) return null;
        var parts = layerName.Split('.');
        var field = type.GetMembers(parts[0]).OfType<IFieldSymbol>().FirstOrDefault();
        if (field?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(ct) is not VariableDeclaratorSyntax { Initializer: { } init } declarator)
            return null;
        var op = Unwrap(compilation.GetSemanticModel(declarator.SyntaxTree).GetOperation(init.Value, ct));
        int used = 1;
        if (field.Type is IArrayTypeSymbol)
        {
            if (parts.Length < 2 || !int.TryParse(parts[1], out int index) || op is null) return null;
            var elements = ModelParser.ArrayElements(op);
            if (elements is null || index < 0 || index >= elements.Count) return null;
            op = Unwrap(elements[index]);
            used = 2;
        }
        if (op is not IObjectCreationOperation creation || creation.Type is null) return null;
        string sub = string.Join(".", parts.Skip(used));
        return new LayerSite(sub.Length > 0 ? subKind : creation.Type.Name, creation, string.Join(".", parts.Take(used)), sub);
    }

    static IOperation? Unwrap(IOperation? op)
    {
        while (op is IConversionOperation conv) op = conv.Operand;
        return op;
    }

    /// <summary>The explicit argument's expression for <paramref name="parameter"/>, or null when it takes its default
    /// (always null for a block's sub-layer: the block's arguments are not its own).</summary>
    public ExpressionSyntax? Argument(string parameter)
    {
        if (InBlock) return null;
        foreach (var arg in _creation.Arguments)
            if (arg.Parameter?.Name == parameter && arg.ArgumentKind == ArgumentKind.Explicit && arg.Syntax is ArgumentSyntax a)
                return a.Expression;
        return null;
    }

    /// <summary>The argument's location when written, else the whole <c>new(...)</c> expression.</summary>
    public Location LocationOf(string parameter) => (Argument(parameter) ?? (SyntaxNode)Creation).GetLocation();

    /// <summary>The model class's own const field the argument names (e.g. <c>new(3, C)</c>), if any.</summary>
    public IFieldSymbol? ConstField(string parameter)
    {
        if (InBlock) return null;
        foreach (var arg in _creation.Arguments)
        {
            if (arg.Parameter?.Name != parameter || arg.ArgumentKind != ArgumentKind.Explicit) continue;
            var value = Unwrap(arg.Value);
            return value is IFieldReferenceOperation { Field: { IsConst: true } field } ? field : null;
        }
        return null;
    }

    /// <summary>The argument's location when it is a plain integer literal (what a code fix may rewrite).</summary>
    public Location? LiteralLocation(string parameter) =>
        Argument(parameter) is LiteralExpressionSyntax lit && lit.IsKind(SyntaxKind.NumericLiteralExpression) ? lit.GetLocation() : null;
}
