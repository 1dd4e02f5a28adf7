// MDL0010: replace a costly activation call with its hard counterpart (Sigmoid -> HardSigmoid), keeping
// how it was written (Sigmoid(x) or Ops.Sigmoid(x)).
using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RenameActivationCodeFixProvider)), Shared]
public sealed class RenameActivationCodeFixProvider : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("MDL0010");

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FixProperties.RenameTo, out var name) || name is null || root is null) continue;
            if (root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not InvocationExpressionSyntax call) continue;
            SimpleNameSyntax? callee = call.Expression switch
            {
                IdentifierNameSyntax id => id,
                MemberAccessExpressionSyntax ma => ma.Name,
                _ => null,
            };
            if (callee is null) continue;
            var renamed = callee.WithIdentifier(SyntaxFactory.Identifier(name).WithTriviaFrom(callee.Identifier));
            context.RegisterCodeFix(CodeAction.Create($"Use {name}",
                _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(callee, renamed))), "MDL0010:" + name), diagnostic);
        }
    }
}
