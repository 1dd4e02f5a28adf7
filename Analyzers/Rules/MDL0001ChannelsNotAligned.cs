// MDL0001: a Conv2d/Linear output width that is not a multiple of the profile's vector/tile width.
// Flagged where the width is chosen (the producing layer), not at every layer that inherits it.
using System.Collections.Generic;
using System.Collections.Immutable;
using Authoring.Analyzers.Core;
using Authoring.Analyzers.Diagnostics;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Rules;

internal sealed class MDL0001ChannelsNotAligned : ModelRule
{
    public const string Id = "MDL0001";

    // {0}: layer, {1}: width, {2}: multiple, {3}: profile, {4}: rounded width
    public static readonly DiagnosticDescriptor Rule = DiagnosticDescriptors.Create(Id,
        "Channel count not aligned",
        "'{0}' produces {1} channels, not a multiple of {2} ({3}): kernels pad to the vector width and waste lanes; use {4}",
        DiagnosticSeverity.Warning,
        "Conv and GEMM kernels process channels in blocks of the vector or tile width; a remainder costs a full block.");

    public override DiagnosticDescriptor Descriptor => Rule;

    public override void Analyze(RuleContext ctx)
    {
        int a = ctx.Profile.ChannelMultiple;
        foreach (var n in ctx.Graph.Nodes)
        {
            if (n.Op is not (OpKind.Conv2d or OpKind.Linear)) continue;
            var site = ctx.Layer(n);
            if (site is null || site.TypeName == "DepthwiseConv2d" || ModelGraph.IsDepthwise(n)) continue; // width chosen upstream
            int c = n.Op == OpKind.Conv2d ? new ConvAttrs(n).Cout : n.Ints[1];
            if (c % a == 0 || FeedsOutput(ctx.Graph, n.Id)) continue; // the class count is not ours to change
            int up = (c + a - 1) / a * a;
            string parameter = n.Op == OpKind.Conv2d ? "outChannels" : "outFeatures";
            var fix = FixSites(ctx, n, parameter, up);
            ctx.Report(Rule, site.LocationOf(parameter), fix,
                fix is null ? null : ImmutableDictionary<string, string?>.Empty.Add(FixProperties.Replacements, Repeat(up, fix.Count))
                    .Add(FixProperties.Title, $"Round the channel count up to {up}"),
                n.Layer, c, a, ctx.Profile.Name, up);
        }
    }

    static string Repeat(int v, int count)
    {
        var parts = new string[count];
        for (int i = 0; i < count; i++) parts[i] = v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(";", parts);
    }

    /// <summary>True when the value reaches the model output through ops that keep its width.</summary>
    static bool FeedsOutput(ModelGraph g, int id)
    {
        while (true)
        {
            if (id == g.Output) return true;
            var consumers = g.Consumers(id);
            if (consumers.Count != 1) return false;
            var next = g.Nodes[consumers[0]];
            // MeanOverTime: a spiking network's readout averages the head's logits over the time steps.
            if (next.Op is not (OpKind.Activation or OpKind.BatchNorm or OpKind.Dropout or OpKind.MeanOverTime)) return false;
            id = next.Id;
        }
    }

    /// <summary>Every integer literal that must change together so the model stays valid, or null when the
    /// width flows somewhere a mechanical edit cannot follow (Add, Concat, Reshape, a grouped consumer). A
    /// width written as a const of the model class is fixed at the const's declaration, when every use of
    /// the const is one of these sites.</summary>
    static List<Location>? FixSites(RuleContext ctx, Node producer, string parameter, int up)
    {
        var g = ctx.Graph;
        var sites = new Sites(ctx);
        if (!sites.Add(ctx.Layer(producer), parameter)) return null;
        if (producer.Op == OpKind.Conv2d && up % new ConvAttrs(producer).Groups != 0) return null;
        var stack = new Stack<int>(g.Consumers(producer.Id));
        var seen = new HashSet<int>();
        while (stack.Count > 0)
        {
            var m = g.Nodes[stack.Pop()];
            if (!seen.Add(m.Id)) continue;
            bool follow;
            switch (m.Op)
            {
                case OpKind.Activation or OpKind.Dropout or OpKind.MaxPool or OpKind.AvgPool or OpKind.GlobalAvgPool or OpKind.UpsampleNearest:
                    follow = true;
                    break;
                case OpKind.BatchNorm:
                    {
                        var site = ctx.Layer(m);
                        if (!sites.Add(site, site?.TypeName == "BatchNorm1d" ? "features" : "channels")) return null;
                        follow = true;
                        break;
                    }
                case OpKind.Conv2d:
                    {
                        var site = ctx.Layer(m);
                        if (site is null) return null;
                        if (site.TypeName == "DepthwiseConv2d")
                        {
                            if (!sites.Add(site, "channels")) return null;
                            follow = true;
                        }
                        else
                        {
                            if (new ConvAttrs(m).Groups != 1 || !sites.Add(site, "inChannels")) return null;
                            follow = false;
                        }
                        break;
                    }
                case OpKind.Linear:
                    {
                        if (g.Input(m).Shape.Count != 1 || !sites.Add(ctx.Layer(m), "inFeatures")) return null;
                        follow = false;
                        break;
                    }
                default:
                    return null;
            }
            if (!follow) continue;
            if (m.Id == g.Output) return null; // the width reaches the model output unchanged
            foreach (int c in g.Consumers(m.Id)) stack.Push(c);
        }
        return sites.Complete();
    }

    /// <summary>The literals to rewrite, and the consts named instead of literals with how often.</summary>
    sealed class Sites
    {
        readonly RuleContext _ctx;
        readonly List<Location> _literals = new();
        readonly Dictionary<IFieldSymbol, int> _consts = new(SymbolEqualityComparer.Default);

        public Sites(RuleContext ctx) => _ctx = ctx;

        public bool Add(LayerSite? site, string parameter)
        {
            if (site is null) return false;
            if (site.LiteralLocation(parameter) is { } lit)
            {
                _literals.Add(lit);
                return true;
            }
            if (site.ConstField(parameter) is { DeclaredAccessibility: Accessibility.Private } field && SymbolEqualityComparer.Default.Equals(field.ContainingType, _ctx.Type))
            {
                _consts[field] = _consts.TryGetValue(field, out int n) ? n + 1 : 1;
                return true;
            }
            return false;
        }

        public List<Location>? Complete()
        {
            foreach (var pair in _consts)
            {
                if (_ctx.ConstDeclarationLiteral(pair.Key) is not { } decl || _ctx.CountReferences(pair.Key) != pair.Value) return null;
                _literals.Add(decl);
            }
            return _literals;
        }
    }
}
