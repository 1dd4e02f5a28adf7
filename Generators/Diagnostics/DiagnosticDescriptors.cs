// Every diagnostic the generator reports about a model. AUT0xxx: the model cannot be compiled.
// Hardware-friendliness rules (MDLxxxx) belong to the analyzers, so no problem is reported twice.
using Microsoft.CodeAnalysis;

namespace Authoring.Generators.Diagnostics;

internal static class DiagnosticDescriptors
{
    const string Category = "Authoring.Model";
    const string HelpBase = "https://github.com/authoring/authoring/blob/main/docs/diagnostics.md#";

    public const string NotPartialId = "AUT0001";
    public const string ForwardMissingId = "AUT0002";
    public const string MissingShapeId = "AUT0003";
    public const string InvalidShapeId = "AUT0004";
    public const string NonConstantId = "AUT0005";
    public const string UnknownCallId = "AUT0006";
    public const string UnsupportedConstructId = "AUT0007";
    public const string ShapeMismatchId = "AUT0008";
    public const string RecursionId = "AUT0009";
    public const string LayerFieldId = "AUT0010";
    public const string InvalidHyperParameterId = "AUT0011";
    public const string OutputShapeId = "AUT0012";
    public const string LayerReusedId = "AUT0013";
    public const string UnsupportedClassId = "AUT0014";
    public const string CompileTimeControlFlowId = "AUT0015";
    public const string BinaryInputId = "AUT0016";
    public const string InternalErrorId = "AUT0099";

    static DiagnosticDescriptor Error(string id, string title, string format) =>
        new(id, title, format, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant());

    // {0}: class name
    public static readonly DiagnosticDescriptor NotPartial = Error(NotPartialId,
        "Model class must be partial", "Model '{0}' must be declared partial so the generator can add its compiled members");

    // {0}: class name, {1}: what is wrong
    public static readonly DiagnosticDescriptor ForwardMissing = Error(ForwardMissingId,
        "Model needs a Forward method", "Model '{0}' needs one method 'Tensor Forward(Tensor x)': {1}");

    // {0}: parameter name
    public static readonly DiagnosticDescriptor MissingShape = Error(MissingShapeId,
        "Input shape missing", "Input '{0}' has no static shape: add [Shape(channels, height, width)] or [Shape(features)]");

    // {0}: what is wrong
    public static readonly DiagnosticDescriptor InvalidShape = Error(InvalidShapeId,
        "Invalid input shape", "Invalid input shape: {0}");

    // {0}: argument name, {1}: layer or op
    public static readonly DiagnosticDescriptor NonConstant = Error(NonConstantId,
        "Hyper-parameter is not a compile-time constant", "Hyper-parameter '{0}' of {1} must be a compile-time constant (a literal or a const)");

    // {0}: the call as written
    public static readonly DiagnosticDescriptor UnknownCall = Error(UnknownCallId,
        "Unknown call in Forward", "'{0}' is not a layer or op the model compiler knows; use a layer field's Forward, an Authoring.Ops method, or a Tensor helper method of this class");

    // {0}: the construct
    public static readonly DiagnosticDescriptor UnsupportedConstruct = Error(UnsupportedConstructId,
        "Unsupported C# construct in Forward", "{0} is not supported in a model's Forward method: write straight-line code over Tensor locals");

    // {0}: op, {1}: details
    public static readonly DiagnosticDescriptor ShapeMismatch = Error(ShapeMismatchId,
        "Shape mismatch", "{0}: {1}");

    // {0}: method name
    public static readonly DiagnosticDescriptor Recursion = Error(RecursionId,
        "Recursive call in Forward", "'{0}' calls itself (directly or through other methods); a model's graph must be finite");

    // {0}: field name, {1}: what is wrong
    public static readonly DiagnosticDescriptor LayerField = Error(LayerFieldId,
        "Invalid layer field", "Layer field '{0}': {1}");

    // {0}: layer or op, {1}: what is wrong
    public static readonly DiagnosticDescriptor InvalidHyperParameter = Error(InvalidHyperParameterId,
        "Invalid hyper-parameter", "{0}: {1}");

    // {0}: shape, {1}: loss, {2}: why it cannot train and what to do
    public static readonly DiagnosticDescriptor OutputShape = Error(OutputShapeId,
        "Output does not fit the model's loss", "Forward returns shape {0}, which Loss.{1} cannot train: {2}");

    // {0}: field name
    public static readonly DiagnosticDescriptor LayerReused = Error(LayerReusedId,
        "Layer applied more than once", "Layer '{0}' is applied more than once; declare one field per use (weight sharing is not supported)");

    // {0}: class name, {1}: what is wrong
    public static readonly DiagnosticDescriptor UnsupportedClass = Error(UnsupportedClassId,
        "Unsupported model class", "Model '{0}': {1}");

    // {0}: what cannot be unrolled or resolved, and what to write instead
    public static readonly DiagnosticDescriptor CompileTimeControlFlow = Error(CompileTimeControlFlowId,
        "Cannot be unrolled at compile time", "{0}");

    // {0}: binary layer, {1}: what its input is
    public static readonly DiagnosticDescriptor BinaryInput = Error(BinaryInputId,
        "Binary layer input is not binarised", "{0} reads ±1 activations, but its input is {1}: apply Ops.Sign or an RSign layer directly before it");

    // {0}: exception text
    public static readonly DiagnosticDescriptor InternalError = Error(InternalErrorId,
        "Model compiler internal error", "The model compiler failed on this model; please report it: {0}");
}
