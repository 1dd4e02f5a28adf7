// MDL0020: Sign(Relu(e)) -> Sign(e). The analyzer offers it only when the activation is the Sign call's own argument;
// the fixer checks the written callee against the activation the graph saw, so a helper method that happens to
// return a ReLU is never unwrapped.
using System.Composition;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(DropActivationBeforeSignCodeFixProvider)), Shared]
public sealed class DropActivationBeforeSignCodeFixProvider : SyntaxRewriteCodeFixProvider
{
    protected override string DiagnosticId => "MDL0020";

    protected override string PropertyKey => FixProperties.DropActivation;

    protected override Rewrite? Compute(SyntaxNode flagged, string? property)
    {
        if (flagged is not InvocationExpressionSyntax sign || property is null) return null;
        if (sign.ArgumentList.Arguments.Count < 1 || sign.ArgumentList.Arguments[0].Expression is not InvocationExpressionSyntax act) return null;
        if (act.ArgumentList.Arguments.Count != 1 || Callee(act)?.Identifier.ValueText != property) return null;
        var inner = act.ArgumentList.Arguments[0].Expression.WithTriviaFrom(act);
        var args = sign.ArgumentList.Arguments.Replace(sign.ArgumentList.Arguments[0], sign.ArgumentList.Arguments[0].WithExpression(inner));
        var fixedSign = sign.WithArgumentList(sign.ArgumentList.WithArguments(args));
        return new Rewrite(sign, fixedSign, $"Binarise the pre-activation (remove {property}; retrain)", "MDL0020");
    }
}
