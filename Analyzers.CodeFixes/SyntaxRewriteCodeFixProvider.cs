// The shape every single-edit fixer shares: for each diagnostic carrying the rule's fix property, find the
// flagged node, let the rule compute one replacement, and register it as a code action. Rules supply
// only the rewrite.
using System.Collections.Immutable;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

/// <summary>One node replaced by another, with the action's title and equivalence key.</summary>
public readonly record struct Rewrite(SyntaxNode Old, SyntaxNode New, string Title, string EquivalenceKey);

/// <summary>Base of fixers that replace one syntax node per diagnostic.</summary>
public abstract class SyntaxRewriteCodeFixProvider : CodeFixProvider
{
    /// <summary>The rule fixed.</summary>
    protected abstract string DiagnosticId { get; }

    /// <summary>The diagnostic property that marks a diagnostic as fixable (its value is passed on).</summary>
    protected abstract string PropertyKey { get; }

    /// <summary>The replacement for the flagged node, or null when this occurrence cannot be fixed.</summary>
    protected abstract Rewrite? Compute(SyntaxNode flagged, string? property);

    /// <inheritdoc/>
    public sealed override ImmutableArray<string> FixableDiagnosticIds => ImmutableArray.Create(DiagnosticId);

    /// <inheritdoc/>
    public sealed override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public sealed override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(PropertyKey, out var property)) continue;
            if (Compute(root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true), property) is not { } r) continue;
            context.RegisterCodeFix(CodeAction.Create(r.Title,
                _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(r.Old, r.New))), r.EquivalenceKey), diagnostic);
        }
    }

    /// <summary>The called method's name node, written plainly (<c>Sigmoid(x)</c>) or qualified (<c>Ops.Sigmoid(x)</c>).</summary>
    protected static SimpleNameSyntax? Callee(InvocationExpressionSyntax call) => call.Expression switch
    {
        IdentifierNameSyntax id => id,
        MemberAccessExpressionSyntax ma => ma.Name,
        _ => null,
    };
}
