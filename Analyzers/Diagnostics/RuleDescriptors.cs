// Every hardware-friendliness rule the analyzers report (MDLxxxx; see /docs/rules). Model errors
// (AUTxxxx) belong to the generator, so no problem is reported twice.
using Microsoft.CodeAnalysis;

namespace Authoring.Analyzers.Diagnostics;

internal static class RuleDescriptors
{
    const string Category = "Authoring.Hardware";
    const string HelpBase = "https://github.com/authoring/authoring/blob/main/docs/rules/";

    public const string CostlyActivationId = "MDL0010";

    // {0}: the activation as called (Sigmoid, Tanh), {1}: what to use instead
    public static readonly DiagnosticDescriptor CostlyActivation = new(
        CostlyActivationId,
        "Costly activation",
        "'{0}' evaluates an exponential per element, which is slow on CPU and NPU targets: use {1}",
        Category,
        DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "Sigmoid and tanh need exp per element; MobileNetV3 replaced them with piecewise-linear hard versions at no accuracy cost, and MobileOne measured them as a latency bottleneck on mobile hardware.",
        helpLinkUri: HelpBase + CostlyActivationId + ".md");
}
