// MDL0017: ScaledDotProductAttention(q, k, v, heads, causal) -> LinearAttention(q, k, v, heads, causal: causal). The
// operands and their layout are the same; only a positional causal argument needs its name, because LinearAttention
// takes its featureMap in that place.
using System.Composition;
using System.Linq;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(UseLinearAttentionCodeFixProvider)), Shared]
public sealed class UseLinearAttentionCodeFixProvider : SyntaxRewriteCodeFixProvider
{
    protected override string DiagnosticId => "MDL0017";

    protected override string PropertyKey => FixProperties.RenameTo;

    protected override Rewrite? Compute(SyntaxNode flagged, string? name)
    {
        if (name is null || flagged is not InvocationExpressionSyntax call || Callee(call) is not { } callee) return null;
        var args = call.ArgumentList.Arguments;
        for (int i = 0; i < args.Count; i++)
        {
            // A positional argument after the fourth is causal (ScaledDotProductAttention has five parameters).
            if (i == 4 && args[i].NameColon is null)
                args = args.Replace(args[i], args[i].WithNameColon(SyntaxFactory.NameColon("causal")).WithTriviaFrom(args[i]));
        }
        var renamed = call.ReplaceNode(callee, callee.WithIdentifier(SyntaxFactory.Identifier(name).WithTriviaFrom(callee.Identifier)));
        renamed = renamed.WithArgumentList(renamed.ArgumentList.WithArguments(args));
        return new Rewrite(call, renamed, "Use LinearAttention (O(N))", "MDL0017:" + name);
    }
}
