// Value-equatable diagnostics: locations are kept as file path and spans, never as Roslyn objects,
// so pipeline models do not keep a compilation alive and still point at the exact source.
using System;
using Authoring.Generators.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Authoring.Generators.Diagnostics;

internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

    public static LocationInfo? From(Location? location) =>
        location?.SourceTree is null ? null : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Args)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        new(descriptor.Id, location, new EquatableArray<string>(args));

    public Diagnostic ToDiagnostic()
    {
        var descriptor = Lookup(Id);
        return Diagnostic.Create(descriptor, Location?.ToLocation(), Args.ToArray());
    }

    static DiagnosticDescriptor Lookup(string id) => id switch
    {
        DiagnosticDescriptors.NotPartialId => DiagnosticDescriptors.NotPartial,
        DiagnosticDescriptors.ForwardMissingId => DiagnosticDescriptors.ForwardMissing,
        DiagnosticDescriptors.MissingShapeId => DiagnosticDescriptors.MissingShape,
        DiagnosticDescriptors.InvalidShapeId => DiagnosticDescriptors.InvalidShape,
        DiagnosticDescriptors.NonConstantId => DiagnosticDescriptors.NonConstant,
        DiagnosticDescriptors.UnknownCallId => DiagnosticDescriptors.UnknownCall,
        DiagnosticDescriptors.UnsupportedConstructId => DiagnosticDescriptors.UnsupportedConstruct,
        DiagnosticDescriptors.ShapeMismatchId => DiagnosticDescriptors.ShapeMismatch,
        DiagnosticDescriptors.RecursionId => DiagnosticDescriptors.Recursion,
        DiagnosticDescriptors.LayerFieldId => DiagnosticDescriptors.LayerField,
        DiagnosticDescriptors.InvalidHyperParameterId => DiagnosticDescriptors.InvalidHyperParameter,
        DiagnosticDescriptors.OutputShapeId => DiagnosticDescriptors.OutputShape,
        DiagnosticDescriptors.LayerReusedId => DiagnosticDescriptors.LayerReused,
        DiagnosticDescriptors.UnsupportedClassId => DiagnosticDescriptors.UnsupportedClass,
        DiagnosticDescriptors.CompileTimeControlFlowId => DiagnosticDescriptors.CompileTimeControlFlow,
        DiagnosticDescriptors.BinaryInputId => DiagnosticDescriptors.BinaryInput,
        _ => DiagnosticDescriptors.InternalError,
    };
}
