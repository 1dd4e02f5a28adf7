// MDL0013: Flatten(Reshape(x, ...)) -> Flatten(x), Reshape(Flatten(x), s) -> Reshape(x, s); when the
// chain restores x's shape (the analyzer says "cancel"), the whole chain becomes x.
using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(CollapseReshapeChainCodeFixProvider)), Shared]
public sealed class CollapseReshapeChainCodeFixProvider : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("MDL0013");

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    static bool IsReshape(ExpressionSyntax e, out InvocationExpressionSyntax call)
    {
        call = (e as InvocationExpressionSyntax)!;
        if (call is null || call.ArgumentList.Arguments.Count == 0) return false;
        string? name = call.Expression switch
        {
            IdentifierNameSyntax id => id.Identifier.ValueText,
            MemberAccessExpressionSyntax ma => ma.Name.Identifier.ValueText,
            _ => null,
        };
        return name is "Flatten" or "Reshape";
    }

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FixProperties.ReshapeChain, out var mode) || root is null) continue;
            if (root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not ExpressionSyntax outerExpr
                || !IsReshape(outerExpr, out var outer)) continue;
            // The innermost source: descend through directly nested Flatten/Reshape calls.
            var source = outer.ArgumentList.Arguments[0].Expression;
            while (IsReshape(source, out var inner)) source = inner.ArgumentList.Arguments[0].Expression;
            SyntaxNode replacement = mode == "cancel"
                ? source.WithTriviaFrom(outer)
                : outer.WithArgumentList(outer.ArgumentList.WithArguments(
                    outer.ArgumentList.Arguments.Replace(outer.ArgumentList.Arguments[0], outer.ArgumentList.Arguments[0].WithExpression(source))));
            string title = mode == "cancel" ? "Remove the reshapes (they restore the input shape)" : "Merge the reshapes into one";
            context.RegisterCodeFix(CodeAction.Create(title,
                _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(outer, replacement))), "MDL0013"), diagnostic);
        }
    }
}
