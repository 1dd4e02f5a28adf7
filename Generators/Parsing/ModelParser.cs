// Reads a [Model] class with Roslyn into a ModelIr: layer fields with constant hyper-parameters, and the
// Forward method's operations lowered to graph nodes with inferred shapes. Every problem becomes a
// located diagnostic; nothing here throws for a bad model, and no Roslyn object survives this stage.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Parsing;

internal sealed partial class ModelParser
{
    const string Ns = "Authoring";

    readonly INamedTypeSymbol _type;
    readonly Compilation _compilation;
    readonly CancellationToken _ct;
    readonly List<DiagnosticInfo> _diagnostics = new();
    readonly List<Node> _nodes = new();
    readonly List<ParamSpec> _params = new();
    readonly Dictionary<string, LayerDecl> _layers = new(StringComparer.Ordinal);
    readonly HashSet<string> _usedLayers = new(StringComparer.Ordinal);
    readonly Stack<IMethodSymbol> _callStack = new();

    /// <summary>Set when the source has compile errors of its own: the compiler reports them, so we stay quiet.</summary>
    bool _hasCompilerErrors;

    ModelParser(INamedTypeSymbol type, Compilation compilation, CancellationToken ct)
    {
        _type = type;
        _compilation = compilation;
        _ct = ct;
    }

    public static ModelIr Parse(INamedTypeSymbol type, Compilation compilation, CancellationToken ct)
    {
        var parser = new ModelParser(type, compilation, ct);
        try
        {
            return parser.Run();
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (LimitReached)
        {
            // Reported where the model grew past a limit; nothing after it could be compiled.
            return parser.Result(parser._diagnostics);
        }
        catch (Exception ex)
        {
            // A generator exception would surface as a silent CS8785 and missing code: report instead.
            var loc = LocationInfo.From(type.Locations.FirstOrDefault());
            return parser.Result(new[] { DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, loc, ex.GetType().Name + ": " + ex.Message) });
        }
    }

    ModelIr Result(IEnumerable<DiagnosticInfo> diagnostics, int output = -1) =>
        new(_type.ContainingNamespace.IsGlobalNamespace ? "" : _type.ContainingNamespace.ToDisplayString(),
            _type.Name, Modifiers(), InputName, _nodes.ToEquatableArray(), output, _params.ToEquatableArray(),
            diagnostics.ToEquatableArray())
        { Loss = _loss, LabelSmoothing = _labelSmoothing, Stubbable = _stubbable, DeployNameFree = _deployNameFree };

    bool _stubbable, _deployNameFree;

    /// <summary>Whether generated stub members could be added to the class (ModelIr.Stubbable): decided before anything
    /// else, so that even a model stopped by C# errors gets them.</summary>
    void ReadStubbable()
    {
        bool partial = _type.DeclaringSyntaxReferences.All(r => r.GetSyntax(_ct) is ClassDeclarationSyntax cds && cds.Modifiers.Any(SyntaxKind.PartialKeyword));
        _stubbable = partial && _type.DeclaringSyntaxReferences.Length > 0 && _type.ContainingType is null && !_type.IsGenericType
            && !_type.IsStatic && !_type.IsAbstract && _type.TypeKind == TypeKind.Class;
        string ns = _type.ContainingNamespace.IsGlobalNamespace ? "" : _type.ContainingNamespace.ToDisplayString() + ".";
        _deployNameFree = _compilation.GetTypeByMetadataName(ns + _type.Name + "Deploy") is null;
    }

    string _loss = "CrossEntropy";
    float _labelSmoothing;

    /// <summary>The [Model] attribute's named arguments: the loss and its label smoothing.</summary>
    void ReadModelAttribute()
    {
        var attr = _type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == Ns + ".ModelAttribute");
        if (attr is null) return;
        foreach (var arg in attr.NamedArguments)
        {
            var syntax = (attr.ApplicationSyntaxReference?.GetSyntax(_ct) as AttributeSyntax)?.ArgumentList?.Arguments
                .FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == arg.Key);
            var loc = LocationInfo.From(syntax) ?? LocationInfo.From(attr.ApplicationSyntaxReference?.GetSyntax(_ct));
            if (arg.Key == "Loss" && arg.Value.Type is INamedTypeSymbol enumType && arg.Value.Value is int value)
            {
                var member = enumType.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, value));
                if (member is null || LossRegistry.Find(member.Name) is null)
                    Report(DiagnosticDescriptors.InvalidHyperParameter, loc, "Model", $"Loss {value} is not a loss the model compiler knows");
                else _loss = member.Name;
            }
            else if (arg.Key == "LabelSmoothing" && arg.Value.Value is float smoothing)
            {
                if (!(smoothing >= 0f && smoothing < 1f))
                    Report(DiagnosticDescriptors.InvalidHyperParameter, loc, "Model", $"LabelSmoothing must be in [0, 1), got {smoothing}");
                else _labelSmoothing = smoothing;
            }
        }
    }

    string InputName { get; set; } = "x";

    string Modifiers() => _type.DeclaredAccessibility switch
    {
        Accessibility.Public => "public",
        _ => "internal",
    };

    ModelIr Run()
    {
        ReadStubbable();
        var classLoc = LocationInfo.From(_type.Locations.FirstOrDefault());
        // A class with syntax errors is being typed: the compiler's errors are the answer, and a member
        // cut short (no Forward yet, a field without its initializer) is not the user's mistake.
        if (_type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(_ct).ContainsDiagnostics && r.GetSyntax(_ct).GetDiagnostics().Any(d => d.Severity == DiagnosticSeverity.Error)))
            return Result(Array.Empty<DiagnosticInfo>());
        foreach (var reference in _type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(_ct) is ClassDeclarationSyntax cds && !cds.Modifiers.Any(SyntaxKind.PartialKeyword))
                Report(DiagnosticDescriptors.NotPartial, LocationInfo.From(cds.Identifier.GetLocation()), _type.Name);
        }
        if (_type.ContainingType is not null)
            Report(DiagnosticDescriptors.UnsupportedClass, classLoc, _type.Name, "models must be top-level classes, not nested in another type");
        if (_type.IsGenericType)
            Report(DiagnosticDescriptors.UnsupportedClass, classLoc, _type.Name, "models cannot be generic");
        if (_type.IsStatic || _type.IsAbstract)
            Report(DiagnosticDescriptors.UnsupportedClass, classLoc, _type.Name, "models must be non-static, non-abstract classes");
        if (_diagnostics.Count > 0) return Result(_diagnostics);

        ReadModelAttribute();
        ReadLayers();
        _ct.ThrowIfCancellationRequested();

        var forwards = _type.GetMembers("Forward").OfType<IMethodSymbol>().Where(m => m.MethodKind == MethodKind.Ordinary).ToList();
        if (forwards.Count != 1)
        {
            // A second Forward is reported where it is written, the one a user must remove or rename.
            var where = forwards.Count == 0 ? classLoc : LocationInfo.From(forwards[1].Locations.FirstOrDefault()) ?? classLoc;
            Report(DiagnosticDescriptors.ForwardMissing, where, _type.Name,
                forwards.Count == 0 ? "none is declared" : "it is declared more than once");
            return Result(_diagnostics);
        }
        var forward = forwards[0];
        var forwardLoc = LocationInfo.From(forward.Locations.FirstOrDefault());
        bool tokens = forward.Parameters.Length == 1 && IsTokens(forward.Parameters[0].Type);
        if (!IsTensor(forward.ReturnType) || forward.Parameters.Length != 1 || !(IsTensor(forward.Parameters[0].Type) || tokens) || forward.IsStatic)
        {
            Report(DiagnosticDescriptors.ForwardMissing, forwardLoc, _type.Name,
                "it must be an instance method taking exactly one Tensor (or Tokens) and returning a Tensor");
            return Result(_diagnostics);
        }

        var input = forward.Parameters[0];
        InputName = input.Name;
        var inputShape = ReadInputShape(input);
        if (inputShape is null || _hasCompilerErrors) return Result(_hasCompilerErrors ? Array.Empty<DiagnosticInfo>() : _diagnostics);
        var inputLoc = LocationInfo.From(input.Locations.FirstOrDefault());
        if (tokens && inputShape.Length != 1)
        {
            Report(DiagnosticDescriptors.InvalidShape, inputLoc, $"token ids are a sequence (N) per sample, got {OpRules.Format(inputShape)}");
            return Result(_diagnostics);
        }

        int inputId = AddNode(tokens ? OpKind.Tokens : OpKind.Input, Array.Empty<int>(), inputShape, Array.Empty<int>(), 0, 0, "", inputLoc);
        var env = new Env();
        env.Values[input] = inputId;
        int output = InlineBody(forward, env);

        if (_hasCompilerErrors) return Result(Array.Empty<DiagnosticInfo>());
        if (output >= 0 && _diagnostics.Count == 0 && _nodes[output].Op == OpKind.Tokens)
            Report(DiagnosticDescriptors.ShapeMismatch, _nodes[output].Location ?? forwardLoc, "Forward", "returns the token ids themselves: read them with an Embedding layer");
        else if (output >= 0 && _diagnostics.Count == 0 && LossRegistry.Get(_loss).Check(_nodes[output].Shape) is { } misfit)
            Report(DiagnosticDescriptors.OutputShape, _nodes[output].Location ?? forwardLoc, OpRules.Format(_nodes[output].Shape), _loss, misfit);
        if (output < 0 && _diagnostics.Count == 0)
            Report(DiagnosticDescriptors.ForwardMissing, forwardLoc, _type.Name, "it has no return statement");
        return Result(_diagnostics, output);
    }

    int[]? ReadInputShape(IParameterSymbol input)
    {
        var loc = LocationInfo.From(input.Locations.FirstOrDefault());
        var attr = input.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == Ns + ".ShapeAttribute");
        if (attr is null)
        {
            Report(DiagnosticDescriptors.MissingShape, loc, input.Name);
            return null;
        }
        var attrLoc = LocationInfo.From(attr.ApplicationSyntaxReference?.GetSyntax(_ct)) ?? loc;
        if (attr.ConstructorArguments.Length != 1 || attr.ConstructorArguments[0].Kind != TypedConstantKind.Array)
        {
            _hasCompilerErrors = true;
            return null;
        }
        var dims = attr.ConstructorArguments[0].Values.Select(v => v.Value is int i ? i : -1).ToArray();
        if (dims.Length < 1 || dims.Length > 4)
        {
            Report(DiagnosticDescriptors.InvalidShape, attrLoc, $"expected 1 to 4 dimensions per sample ((F), (N, D), (C, H, W), (T, C, H, W)...), got {dims.Length}");
            return null;
        }
        if (dims.Any(d => d <= 0))
        {
            Report(DiagnosticDescriptors.InvalidShape, attrLoc, $"dimensions must be positive, got {OpRules.Format(dims)}");
            return null;
        }
        if (dims.Aggregate(1L, (a, d) => a * d) > int.MaxValue)
        {
            Report(DiagnosticDescriptors.InvalidShape, attrLoc, $"{OpRules.Format(dims)} has more than {int.MaxValue} elements per sample");
            return null;
        }
        return dims;
    }

    bool IsTensor(ITypeSymbol? t) => t?.ToDisplayString() == Ns + ".Tensor";

    bool IsTokens(ITypeSymbol? t) => t?.ToDisplayString() == Ns + ".Tokens";

    readonly HashSet<DiagnosticInfo> _reported = new();

    /// <summary>Reports a diagnostic once: unrolled code reaches the same mistake again at the same place.</summary>
    internal void Report(DiagnosticDescriptor d, LocationInfo? loc, params string[] args)
    {
        var info = DiagnosticInfo.Create(d, loc, args);
        if (_reported.Add(info)) _diagnostics.Add(info);
    }

    /// <summary>Appends a node (its shape already checked) and returns its id.</summary>
    internal int AddNode(string op, int[] inputs, int[] shape, int[] ints, float f0, float f1, string layer, LocationInfo? loc)
    {
        CheckNodeLimit(loc);
        if (ReadsTokens(op, inputs, op, loc)) return -1;
        int id = _nodes.Count;
        _nodes.Add(new Node(id, op, inputs.ToEquatableArray(), shape.ToEquatableArray(), ints.ToEquatableArray(), f0, f1, layer, loc));
        return id;
    }

    /// <summary>A node whose shape comes from <paramref name="rule"/>; a failed rule is reported as a shape mismatch of <paramref name="what"/>.</summary>
    internal int Shaped(string op, string what, int[] inputs, (int[]? Shape, string? Error) rule, int[] ints, float f0, float f1, string layer, LocationInfo? loc)
    {
        if (ReadsTokens(op, inputs, what, loc)) return -1;
        if (rule.Shape is null)
        {
            Report(DiagnosticDescriptors.ShapeMismatch, loc, what, rule.Error!);
            return -1;
        }
        return AddNode(op, inputs, rule.Shape, ints, f0, f1, layer, loc);
    }

    /// <summary>Token ids are integers: only an Embedding reads them (C#'s types stop most misuse; this catches the rest).</summary>
    bool ReadsTokens(string op, int[] inputs, string what, LocationInfo? loc)
    {
        if (op == OpKind.Embedding || !inputs.Any(i => i >= 0 && i < _nodes.Count && _nodes[i].Op == OpKind.Tokens)) return false;
        Report(DiagnosticDescriptors.ShapeMismatch, loc, what, "token ids (Tokens) can only be read by an Embedding layer");
        return true;
    }

    /// <summary>Floats one .NET array holds (Array.MaxLength): a model's parameters live in one flat store.</summary>
    internal const long MaxParameterFloats = 0x7FFFFFC7;

    long _parameterFloats;

    /// <summary>A count as the messages write it, whatever the culture the compiler runs under.</summary>
    static string Count(long n) => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Adds a parameter tensor. Each tensor's size is checked by its op's rule; their total must fit the one
    /// array of the parameter store too, else the model is reported at the layer that crosses the limit.</summary>
    internal void AddParam(ParamSpec spec)
    {
        long length = 1;
        foreach (int d in spec.Shape) length *= d;
        if (_parameterFloats <= MaxParameterFloats && (_parameterFloats += length) > MaxParameterFloats)
        {
            var layer = OwningLayer(spec.Name);
            Report(DiagnosticDescriptors.InvalidHyperParameter, layer?.Location ?? (_nodes.Count > 0 ? _nodes[_nodes.Count - 1].Location : null),
                layer is null ? spec.Name : $"{layer.Name} ({layer.Kind})",
                $"with '{spec.Name}' the model's parameters exceed {Count(MaxParameterFloats)} floats, more than one parameter store (one array) holds");
        }
        _params.Add(spec);
    }

    /// <summary>The declared layer (field or array element) a parameter belongs to: the longest prefix of its name
    /// that names one (a block's sub-layers belong to the block).</summary>
    LayerDecl? OwningLayer(string name)
    {
        for (int dot = name.LastIndexOf('.'); dot > 0; dot = name.LastIndexOf('.', dot - 1))
            if (_layers.TryGetValue(name.Substring(0, dot), out var layer)) return layer;
        return null;
    }

    internal int[] ShapeOf(int id) => _nodes[id].Shape.ToArray();

    internal Node NodeAt(int id) => _nodes[id];
}
