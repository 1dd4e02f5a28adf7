// Layer fields: their constructor arguments must be compile-time constants; each becomes a LayerDecl.
using System.Collections.Generic;
using System.Linq;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed record LayerDecl(string Name, string Kind, Dictionary<string, object> Args, LocationInfo? Location,
    Dictionary<string, LocationInfo?> ArgLocations)
{
    /// <summary>Where argument <paramref name="name"/> is written, or the field when it takes its default:
    /// a diagnostic about one hyper-parameter points at the text to change.</summary>
    public LocationInfo? LocationOf(string? name) =>
        name is not null && ArgLocations.TryGetValue(name, out var loc) && loc is not null ? loc : Location;

    public int Int(string name) => Args.TryGetValue(name, out var v) && v is int i ? i : 0;

    public float Float(string name) => Args.TryGetValue(name, out var v) ? v switch { float f => f, double d => (float)d, int i => i, _ => 0f } : 0f;

    public bool Bool(string name) => Args.TryGetValue(name, out var v) && v is true;
}

internal sealed partial class ModelParser
{
    /// <summary>Composite blocks (ModelParser.Blocks.cs); primitive layers come from the op registry.</summary>
    static readonly HashSet<string> BlockLayers = new()
    {
        "GhostModule", "GhostBottleneck", "RepVggBlock", "MobileOneBlock", "RepGhostModule",
    };

    static bool IsKnownLayer(string type) => OpRegistry.ForLayer(type) is not null || BlockLayers.Contains(type);

    bool IsLayerType(ITypeSymbol? t)
    {
        for (var b = t; b is not null; b = b.BaseType)
            if (b.ToDisplayString() == Ns + ".Layer") return true;
        return false;
    }

    void ReadLayers()
    {
        foreach (var field in _type.GetMembers().OfType<IFieldSymbol>())
        {
            _ct.ThrowIfCancellationRequested();
            if (field.IsImplicitlyDeclared || !IsLayerType(field.Type)) continue;
            var declarator = field.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(_ct) as VariableDeclaratorSyntax;
            var loc = LocationInfo.From(declarator?.Identifier.GetLocation() ?? field.Locations.FirstOrDefault());
            if (!IsKnownLayer(field.Type.Name) || field.Type.ContainingNamespace?.ToDisplayString() != Ns)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, $"'{field.Type.Name}' is not a layer the model compiler knows");
                continue;
            }
            if (field.IsStatic)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, "layers must be instance fields");
                continue;
            }
            if (declarator?.Initializer is null)
            {
                Report(DiagnosticDescriptors.LayerField, loc, field.Name, $"needs an initializer such as '= new {field.Type.Name}(...)' with constant arguments");
                continue;
            }
            var model = _compilation.GetSemanticModel(declarator.SyntaxTree);
            var op = model.GetOperation(declarator.Initializer.Value, _ct);
            while (op is IConversionOperation conv) op = conv.Operand;
            if (op is null || op is IInvalidOperation)
            {
                _hasCompilerErrors = true;
                continue;
            }
            if (op is not IObjectCreationOperation creation || creation.Constructor is null)
            {
                Report(DiagnosticDescriptors.LayerField, LocationInfo.From(declarator.Initializer.Value), field.Name,
                    $"must be initialised with 'new {field.Type.Name}(...)' and constant arguments");
                continue;
            }
            var args = new Dictionary<string, object>();
            var argLocations = new Dictionary<string, LocationInfo?>();
            bool ok = true;
            foreach (var arg in creation.Arguments)
            {
                if (arg.Parameter is null) { _hasCompilerErrors = true; ok = false; continue; }
                var value = arg.Value;
                if (!value.ConstantValue.HasValue || value.ConstantValue.Value is null)
                {
                    Report(DiagnosticDescriptors.NonConstant, LocationInfo.From(arg.Syntax), arg.Parameter.Name, $"{field.Type.Name} '{field.Name}'");
                    ok = false;
                    continue;
                }
                args[arg.Parameter.Name] = value.ConstantValue.Value;
                if (arg.ArgumentKind == ArgumentKind.Explicit) argLocations[arg.Parameter.Name] = LocationInfo.From(arg.Syntax);
            }
            if (ok) _layers[field.Name] = new LayerDecl(field.Name, field.Type.Name, args, loc, argLocations);
        }
    }
}
