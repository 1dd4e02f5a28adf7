// The hardware-friendliness diagnostics (MDLxxxx): shared category, help links and the factory every
// rule uses for its descriptor. Each rule declares its own descriptor in its file (Rules/MDLxxxx*.cs),
// so adding a rule is one file plus a help page (docs/rules/MDLxxxx.md) and a release-tracking line.
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Diagnostics;

internal static class DiagnosticDescriptors
{
    public const string Category = "Authoring.Hardware";

    /// <summary>Help pages live in docs/rules/MDLxxxx.md.</summary>
    public const string HelpBase = "https://github.com/authoring/authoring/blob/main/docs/rules/";

    public const string InternalErrorId = "MDL0999";

    public static DiagnosticDescriptor Create(string id, string title, string messageFormat, DiagnosticSeverity severity, string description) =>
        new(id, title, messageFormat, Category, severity, isEnabledByDefault: true, description: description,
            helpLinkUri: HelpBase + id + ".md");

    // {0}: model class, {1}: exception text
    public static readonly DiagnosticDescriptor InternalError = new(InternalErrorId,
        "Hardware analyzer internal error",
        "The hardware-friendliness analyzers failed on model '{0}'; please report it: {1}",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "An analyzer bug: the model was not checked. The build is not affected otherwise.",
        helpLinkUri: HelpBase + "README.md");
}
