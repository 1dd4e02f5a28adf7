// What the emit stage hands to Roslyn: source files and diagnostics, both value-equatable.
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Helpers;

namespace Authoring.Generators.Emit;

internal sealed record GeneratedFile(string Name, string Text);

internal sealed record EmitOutput(EquatableArray<GeneratedFile> Files, EquatableArray<DiagnosticInfo> Diagnostics);
