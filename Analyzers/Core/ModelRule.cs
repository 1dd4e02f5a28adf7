// The rule registry: every non-abstract ModelRule in this assembly is a rule. A rule is one file under
// Rules/ holding its descriptor and its check over the shared ModelGraph.
using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Authoring.Analyzers.Diagnostics;
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Core;

internal abstract class ModelRule
{
    public abstract DiagnosticDescriptor Descriptor { get; }

    /// <summary>Reports this rule's diagnostics for one valid model.</summary>
    public abstract void Analyze(RuleContext context);
}

internal static class RuleRegistry
{
    static readonly Lazy<ImmutableArray<ModelRule>> _rules = new(() =>
        typeof(ModelRule).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && typeof(ModelRule).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (ModelRule)Activator.CreateInstance(t))
            .OrderBy(r => r.Descriptor.Id, StringComparer.Ordinal)
            .ToImmutableArray());

    public static ImmutableArray<ModelRule> Rules => _rules.Value;

    public static ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        Rules.Select(r => r.Descriptor).Append(DiagnosticDescriptors.InternalError).ToImmutableArray();

    public static IEnumerable<string> Ids => Rules.Select(r => r.Descriptor.Id);
}
