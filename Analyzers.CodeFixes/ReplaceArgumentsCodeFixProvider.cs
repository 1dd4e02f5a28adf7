// Rewrites integer (or boolean) literal arguments of layer constructors for any rule whose diagnostic carries
// FixProperties.Replacements (today MDL0001, MDL0003, MDL0012, and MDL0023's boolean). The analyzer lists every literal that
// must change together (additional locations), the new texts and the fix's title; this fixer only
// substitutes them, in one document edit, so a new rule with such a fix needs no new fixer.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Authoring.Analyzers.Core;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.CodeFixes;

[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ReplaceArgumentsCodeFixProvider)), Shared]
public sealed class ReplaceArgumentsCodeFixProvider : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = RuleRegistry.Ids.ToImmutableArray();

    public override FixAllProvider? GetFixAllProvider() => null;

    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(FixProperties.Replacements, out var text) || text is null) continue;
            var values = text.Split(';');
            var locations = diagnostic.AdditionalLocations;
            if (values.Length != locations.Count || locations.Any(l => l.SourceTree is null)) continue;
            if (!diagnostic.Properties.TryGetValue(FixProperties.Title, out var title) || title is null) continue;
            context.RegisterCodeFix(CodeAction.Create(title, ct => Apply(context.Document, locations, values, ct), diagnostic.Id), diagnostic);
        }
        return Task.CompletedTask;
    }

    static async Task<Document> Apply(Document document, IReadOnlyList<Location> locations, string[] values, CancellationToken ct)
    {
        var root = await document.GetSyntaxRootAsync(ct).ConfigureAwait(false);
        if (root is null) return document;
        var map = new Dictionary<SyntaxNode, SyntaxNode>();
        for (int i = 0; i < locations.Count; i++)
        {
            if (locations[i].SourceTree?.FilePath != root.SyntaxTree.FilePath) continue;
            if (root.FindNode(locations[i].SourceSpan, getInnermostNodeForTie: true) is not LiteralExpressionSyntax lit) continue;
            if (values[i] is "true" or "false")
            {
                // A switch argument (MDL0023's scaled: false).
                map[lit] = SyntaxFactory.LiteralExpression(values[i] == "true" ? SyntaxKind.TrueLiteralExpression : SyntaxKind.FalseLiteralExpression).WithTriviaFrom(lit);
                continue;
            }
            if (!int.TryParse(values[i], out int v)) continue;
            map[lit] = SyntaxFactory.LiteralExpression(SyntaxKind.NumericLiteralExpression, SyntaxFactory.Literal(v)).WithTriviaFrom(lit);
        }
        return document.WithSyntaxRoot(root.ReplaceNodes(map.Keys, (old, _) => map[old]));
    }
}
