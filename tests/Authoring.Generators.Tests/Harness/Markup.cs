// The `{|ID:text|}` markup of Roslyn's analyzer tests: a source with expected diagnostics written in
// place. Parsing strips the markers and returns each expected id with its exact span in the clean text.
using Microsoft.CodeAnalysis.Text;

namespace Authoring.Generators.Tests.Harness;

internal readonly record struct ExpectedDiagnostic(string Id, TextSpan Span)
{
    public override string ToString() => $"{Id}@{Span}";
}

internal static class Markup
{
    /// <summary>Removes every <c>{|ID:...|}</c> marker (markers may nest) and returns the clean source
    /// with the expected diagnostics, ordered by position.</summary>
    public static (string Source, IReadOnlyList<ExpectedDiagnostic> Expected) Parse(string markup)
    {
        var text = new System.Text.StringBuilder(markup.Length);
        var open = new Stack<(string Id, int Start)>();
        var expected = new List<ExpectedDiagnostic>();
        int i = 0;
        while (i < markup.Length)
        {
            if (markup[i] == '{' && i + 1 < markup.Length && markup[i + 1] == '|')
            {
                int colon = markup.IndexOf(':', i + 2);
                if (colon < 0) throw new FormatException($"Marker at {i} has no ':' after its id.");
                string id = markup.Substring(i + 2, colon - i - 2);
                if (id.Length == 0 || !id.All(char.IsLetterOrDigit)) throw new FormatException($"Marker at {i} has an invalid id '{id}'.");
                open.Push((id, text.Length));
                i = colon + 1;
            }
            else if (markup[i] == '|' && i + 1 < markup.Length && markup[i + 1] == '}' && open.Count > 0)
            {
                var (id, start) = open.Pop();
                expected.Add(new ExpectedDiagnostic(id, TextSpan.FromBounds(start, text.Length)));
                i += 2;
            }
            else
            {
                text.Append(markup[i]);
                i++;
            }
        }
        if (open.Count > 0) throw new FormatException($"Marker '{open.Peek().Id}' is not closed.");
        return (text.ToString(), expected.OrderBy(e => e.Span.Start).ThenBy(e => e.Id, StringComparer.Ordinal).ToList());
    }
}
