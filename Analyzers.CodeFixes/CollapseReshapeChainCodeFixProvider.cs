// MDL0013: Flatten(Reshape(x, ...)) -> Flatten(x), Reshape(Flatten(x), s) -> Reshape(x, s); when the
// chain restores x's shape (the analyzer says "cancel"), the whole chain becomes x.
using System.Composition;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(CollapseReshapeChainCodeFixProvider)), Shared]
public sealed class CollapseReshapeChainCodeFixProvider : SyntaxRewriteCodeFixProvider
{
    protected override string DiagnosticId => "MDL0013";

    protected override string PropertyKey => FixProperties.ReshapeChain;

    static bool IsReshape(SyntaxNode e, out InvocationExpressionSyntax call)
    {
        call = (e as InvocationExpressionSyntax)!;
        if (call is null || call.ArgumentList.Arguments.Count == 0) return false;
        return Callee(call)?.Identifier.ValueText is "Flatten" or "Reshape";
    }

    protected override Rewrite? Compute(SyntaxNode flagged, string? mode)
    {
        if (!IsReshape(flagged, out var outer)) return null;
        // The innermost source: descend through directly nested Flatten/Reshape calls.
        var source = outer.ArgumentList.Arguments[0].Expression;
        while (IsReshape(source, out var inner)) source = inner.ArgumentList.Arguments[0].Expression;
        SyntaxNode replacement = mode == "cancel"
            ? source.WithTriviaFrom(outer)
            : outer.WithArgumentList(outer.ArgumentList.WithArguments(
                outer.ArgumentList.Arguments.Replace(outer.ArgumentList.Arguments[0], outer.ArgumentList.Arguments[0].WithExpression(source))));
        string title = mode == "cancel" ? "Remove the reshapes (they restore the input shape)" : "Merge the reshapes into one";
        return new Rewrite(outer, replacement, title, "MDL0013");
    }
}
