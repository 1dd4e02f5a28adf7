// MDL0007: bn.Forward(Act(conv.Forward(x))) -> Act(bn.Forward(conv.Forward(x))). This changes the
// model's function (BatchNorm now normalizes pre-activations), so the model must be retrained; the
// fix's title says so.
using System.Composition;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(MoveBatchNormCodeFixProvider)), Shared]
public sealed class MoveBatchNormCodeFixProvider : SyntaxRewriteCodeFixProvider
{
    protected override string DiagnosticId => "MDL0007";

    protected override string PropertyKey => FixProperties.SwapWithActivation;

    protected override Rewrite? Compute(SyntaxNode flagged, string? property)
    {
        if (flagged is not InvocationExpressionSyntax bn) return null;
        if (bn.ArgumentList.Arguments.Count != 1 || bn.ArgumentList.Arguments[0].Expression is not InvocationExpressionSyntax act) return null;
        if (act.ArgumentList.Arguments.Count != 1) return null;
        var inner = act.ArgumentList.Arguments[0].Expression;
        var newBn = bn.WithArgumentList(bn.ArgumentList.WithArguments(
            SyntaxFactory.SingletonSeparatedList(bn.ArgumentList.Arguments[0].WithExpression(inner))));
        var newAct = act.WithArgumentList(act.ArgumentList.WithArguments(
            SyntaxFactory.SingletonSeparatedList(act.ArgumentList.Arguments[0].WithExpression(newBn.WithoutTrivia())))).WithTriviaFrom(bn);
        return new Rewrite(bn, newAct, "Apply BatchNorm before the activation (changes the model: retrain)", "MDL0007");
    }
}
