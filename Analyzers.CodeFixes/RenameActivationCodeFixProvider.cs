// MDL0010: replace a costly activation call with its hard counterpart (Sigmoid -> HardSigmoid), keeping
// how it was written (Sigmoid(x) or Ops.Sigmoid(x)).
using System.Composition;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(RenameActivationCodeFixProvider)), Shared]
public sealed class RenameActivationCodeFixProvider : SyntaxRewriteCodeFixProvider
{
    protected override string DiagnosticId => "MDL0010";

    protected override string PropertyKey => FixProperties.RenameTo;

    protected override Rewrite? Compute(SyntaxNode flagged, string? name)
    {
        if (name is null || flagged is not InvocationExpressionSyntax call || Callee(call) is not { } callee) return null;
        var renamed = callee.WithIdentifier(SyntaxFactory.Identifier(name).WithTriviaFrom(callee.Identifier));
        return new Rewrite(callee, renamed, $"Use {name}", "MDL0010:" + name);
    }
}
