// What a rule sees of one model: the graph, the target profile, the model's symbol (for layer
// declarations) and a Report method that maps IR locations back to source locations.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Analyzers.Core;

internal sealed class RuleContext
{
    readonly Compilation _compilation;
    readonly System.Action<Diagnostic> _report;
    readonly Dictionary<string, LayerSite?> _sites = new();
    Dictionary<string, SyntaxTree>? _trees;

    public RuleContext(ModelGraph graph, TargetProfile profile, bool deploy, INamedTypeSymbol type, Compilation compilation,
        System.Action<Diagnostic> report, CancellationToken ct)
    {
        Graph = graph;
        Profile = profile;
        Deploy = deploy;
        Type = type;
        _compilation = compilation;
        _report = report;
        CancellationToken = ct;
    }

    public ModelGraph Graph { get; }
    public TargetProfile Profile { get; }
    public bool Deploy { get; }
    public INamedTypeSymbol Type { get; }
    public CancellationToken CancellationToken { get; }

    public IEnumerable<Node> Nodes(string op) => Graph.Nodes.Where(n => n.Op == op);

    /// <summary>The declaration of the layer that owns <paramref name="n"/>'s parameters, if it is a layer call: its
    /// field, its array element, or (for a composite block's sub-layer) the block's declaration.</summary>
    public LayerSite? Layer(Node n)
    {
        if (string.IsNullOrEmpty(n.Layer)) return null;
        if (!_sites.TryGetValue(n.Layer, out var site))
        {
            // Blocks expand into convolutions and BatchNorms only (Parsing/ModelParser.Blocks.cs).
            string subKind = n.Op == OpKind.BatchNorm ? "BatchNorm2d" : n.Op == OpKind.Conv2d ? "Conv2d" : n.Op;
            _sites[n.Layer] = site = LayerSite.Find(Type, n.Layer, subKind, _compilation, CancellationToken);
        }
        return site;
    }

    HashSet<LocationInfo>? _blockCalls;

    /// <summary>True when <paramref name="n"/> comes from expanding a composite block (GhostModule, RepVggBlock...): the
    /// parser gives every node of an expansion the block call's location, and the call applies a block's sub-layers.
    /// What such a node does is the block's reference design, not something written at the call.</summary>
    public bool FromBlock(Node n)
    {
        if (n.Location is null) return false;
        if (_blockCalls is null)
        {
            _blockCalls = new HashSet<LocationInfo>();
            foreach (var m in Graph.Nodes)
                if (m.Location is not null && m.Layer.IndexOf('.') >= 0 && Layer(m) is { InBlock: true })
                    _blockCalls.Add(m.Location);
        }
        return _blockCalls.Contains(n.Location);
    }

    /// <summary>The integer literal a const field of the model is initialised with, if it is one.</summary>
    public Location? ConstDeclarationLiteral(IFieldSymbol field) =>
        field.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(CancellationToken) is VariableDeclaratorSyntax
        { Initializer.Value: LiteralExpressionSyntax lit } && lit.IsKind(SyntaxKind.NumericLiteralExpression) ? lit.GetLocation() : null;

    /// <summary>How many times the model class's source names <paramref name="field"/> (by simple name).</summary>
    public int CountReferences(IFieldSymbol field)
    {
        int count = 0;
        foreach (var reference in Type.DeclaringSyntaxReferences)
        {
            var root = reference.GetSyntax(CancellationToken);
            SemanticModel? model = null;
            foreach (var id in root.DescendantNodes().OfType<IdentifierNameSyntax>())
            {
                if (id.Identifier.ValueText != field.Name) continue;
                model ??= _compilation.GetSemanticModel(root.SyntaxTree);
                if (SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(id, CancellationToken).Symbol, field)) count++;
            }
        }
        return count;
    }

    /// <summary>The node's source location (a call in Forward, or the input parameter).</summary>
    public Location Location(Node n) => Map(n.Location);

    Location Map(LocationInfo? info)
    {
        if (info is not null)
        {
            _trees ??= _compilation.SyntaxTrees.GroupBy(t => t.FilePath).ToDictionary(g => g.Key, g => g.First());
            if (_trees.TryGetValue(info.FilePath, out var tree) && info.Span.End <= tree.Length)
                return Microsoft.CodeAnalysis.Location.Create(tree, info.Span);
        }
        return Type.Locations.FirstOrDefault() ?? Microsoft.CodeAnalysis.Location.None;
    }

    readonly HashSet<(string Id, string? Path, Microsoft.CodeAnalysis.Text.TextSpan Span)> _reported = new();

    public void Report(DiagnosticDescriptor descriptor, Location location, params object[] args) =>
        Report(descriptor, location, null, null, args);

    /// <summary>Reports once per rule and place: the sub-layers of one block share the block's declaration, and the
    /// nodes a loop unrolls share their call, so a second report there would repeat the first.</summary>
    public void Report(DiagnosticDescriptor descriptor, Location location, IEnumerable<Location>? additional,
        ImmutableDictionary<string, string?>? properties, params object[] args)
    {
        if (!_reported.Add((descriptor.Id, location.SourceTree?.FilePath, location.SourceSpan))) return;
        _report(Diagnostic.Create(descriptor, location, additional, properties, args));
    }
}
