// Where a layer field is declared and how its constructor arguments are written, so rules about
// hyper-parameters can point at the argument itself and code fixes can rewrite it.
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Analyzers.Core;

internal sealed class LayerSite
{
    readonly IObjectCreationOperation _creation;

    LayerSite(string typeName, IObjectCreationOperation creation)
    {
        TypeName = typeName;
        _creation = creation;
    }

    /// <summary>The layer class name: Conv2d, DepthwiseConv2d, Linear, BatchNorm2d, ...</summary>
    public string TypeName { get; }

    public SyntaxNode Creation => _creation.Syntax;

    public static LayerSite? Find(INamedTypeSymbol type, string fieldName, Compilation compilation, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(fieldName)) return null;
        var field = type.GetMembers(fieldName).OfType<IFieldSymbol>().FirstOrDefault();
        if (field?.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(ct) is not VariableDeclaratorSyntax { Initializer: { } init } declarator)
            return null;
        var op = compilation.GetSemanticModel(declarator.SyntaxTree).GetOperation(init.Value, ct);
        while (op is IConversionOperation conv) op = conv.Operand;
        return op is IObjectCreationOperation creation ? new LayerSite(field.Type.Name, creation) : null;
    }

    /// <summary>The explicit argument's expression for <paramref name="parameter"/>, or null when it takes its default.</summary>
    public ExpressionSyntax? Argument(string parameter)
    {
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
        foreach (var arg in _creation.Arguments)
        {
            if (arg.Parameter?.Name != parameter || arg.ArgumentKind != ArgumentKind.Explicit) continue;
            var value = arg.Value;
            while (value is IConversionOperation conv) value = conv.Operand;
            return value is IFieldReferenceOperation { Field: { IsConst: true } field } ? field : null;
        }
        return null;
    }

    /// <summary>The argument's location when it is a plain integer literal (what a code fix may rewrite).</summary>
    public Location? LiteralLocation(string parameter) =>
        Argument(parameter) is LiteralExpressionSyntax lit && lit.IsKind(SyntaxKind.NumericLiteralExpression) ? lit.GetLocation() : null;
}
