// MDL0007: bn.Forward(Act(conv.Forward(x))) -> Act(bn.Forward(conv.Forward(x))). This changes the
// model's function (BatchNorm now normalizes pre-activations), so the model must be retrained; the
// fix's title says so.
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

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MoveBatchNormCodeFixProvider)), Shared]
public sealed class MoveBatchNormCodeFixProvider : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create("MDL0007");

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.ContainsKey(FixProperties.SwapWithActivation) || root is null) continue;
            if (root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not InvocationExpressionSyntax bn) continue;
            if (bn.ArgumentList.Arguments.Count != 1 || bn.ArgumentList.Arguments[0].Expression is not InvocationExpressionSyntax act) continue;
            if (act.ArgumentList.Arguments.Count != 1) continue;
            var inner = act.ArgumentList.Arguments[0].Expression;
            var newBn = bn.WithArgumentList(bn.ArgumentList.WithArguments(
                SyntaxFactory.SingletonSeparatedList(bn.ArgumentList.Arguments[0].WithExpression(inner))));
            var newAct = act.WithArgumentList(act.ArgumentList.WithArguments(
                SyntaxFactory.SingletonSeparatedList(act.ArgumentList.Arguments[0].WithExpression(newBn.WithoutTrivia())))).WithTriviaFrom(bn);
            context.RegisterCodeFix(CodeAction.Create("Apply BatchNorm before the activation (changes the model: retrain)",
                _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(bn, newAct))), "MDL0007"), diagnostic);
        }
    }
}
