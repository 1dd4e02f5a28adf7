// Keys of the properties a diagnostic carries for its code fix. The analyzer decides whether a fix is
// mechanical and what it rewrites; the fixer only applies it.
namespace Authoring.Analyzers.Core;

internal static class FixProperties
{
    /// <summary>Replacement text for every additional location (each an integer literal argument); ';'-separated, one per location.</summary>
    public const string Replacements = "Replacements";

    /// <summary>The title of a <see cref="Replacements"/> fix, as the IDE shows it.</summary>
    public const string Title = "Title";

    /// <summary>The op a call is renamed to (MDL0010).</summary>
    public const string RenameTo = "RenameTo";

    /// <summary>Present when BatchNorm can be moved before the activation it follows (MDL0007).</summary>
    public const string SwapWithActivation = "SwapWithActivation";

    /// <summary>The non-negative activation a Sign call reads, removed by the fix (MDL0020).</summary>
    public const string DropActivation = "DropActivation";

    /// <summary>"collapse" or "cancel" for a nested reshape chain (MDL0013).</summary>
    public const string ReshapeChain = "ReshapeChain";
}
