// Random edits of a model's source, the kinds a typing or careless user makes and a few no user would
// (extreme numbers): token deletions, token swaps, truncation, duplicated lines, numbers replaced by
// extremes (0, -1, 1, int.MaxValue, int.MinValue, huge floats, NaN), renamed layers. A mutant is a pure
// function of (fuzz seed, index), so any failure is reproduced from the two numbers it prints.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Authoring.Fuzz.Tests;

/// <summary>One mutated model.</summary>
/// <param name="FuzzSeed">The run's seed.</param>
/// <param name="Index">Position of this mutant in the run.</param>
/// <param name="Seed">The model it was made from.</param>
/// <param name="Mutations">What was done, in order, one line each.</param>
/// <param name="Text">The mutated source.</param>
public sealed record Mutant(int FuzzSeed, int Index, Seed Seed, IReadOnlyList<string> Mutations, string Text)
{
    /// <summary>How to make this mutant again, for failure reports.</summary>
    public string Id => $"seed {FuzzSeed}, index {Index}";

    /// <summary>The mutations on one line.</summary>
    public string Describe() => $"{Seed.Name}: {string.Join("; ", Mutations)}";
}

/// <summary>Makes mutants.</summary>
public static class Mutator
{
    /// <summary>Kinds of edit.</summary>
    public enum Kind { DeleteToken, SwapTokens, Truncate, DuplicateLine, ExtremeNumber, RenameLayer }

    /// <summary>Integer extremes: the boundaries and values whose products overflow int (46341^2, 65536^2).</summary>
    static readonly string[] IntExtremes = ["0", "-1", "1", "int.MaxValue", "int.MinValue", "2147483647", "-2147483648", "65536", "46341", "1073741824"];

    /// <summary>Float extremes: huge, tiny, infinite and NaN.</summary>
    static readonly string[] FloatExtremes = ["0f", "-1f", "1f", "float.MaxValue", "3.4028235E+38f", "1e30f", "-1e30f", "1e-45f", "float.NaN", "float.PositiveInfinity", "float.NegativeInfinity"];

    /// <summary>Mutant <paramref name="index"/> of the run seeded with <paramref name="fuzzSeed"/>, from <paramref name="corpus"/>.</summary>
    public static Mutant Make(IReadOnlyList<Seed> corpus, int fuzzSeed, int index)
    {
        // One generator per mutant, so a mutant does not depend on the ones before it.
        var rng = new Random(HashCode(fuzzSeed, index));
        var seed = corpus[rng.Next(corpus.Count)];
        int edits = rng.NextDouble() switch { < 0.7 => 1, < 0.95 => 2, _ => 3 };
        string text = seed.Text;
        var done = new List<string>();
        for (int e = 0; e < edits; e++)
        {
            var kind = Pick(rng);
            if (Apply(kind, text, rng) is { } r)
            {
                text = r.Text;
                done.Add(r.What);
            }
        }
        return new Mutant(fuzzSeed, index, seed, done, text);
    }

    /// <summary>Every single-number edit of every seed to each integer extreme, in a fixed order: the exhaustive
    /// version of <see cref="Kind.ExtremeNumber"/> (fuzz.sh --sweep).</summary>
    public static IEnumerable<Mutant> NumberSweep(IReadOnlyList<Seed> corpus)
    {
        int index = 0;
        foreach (var seed in corpus)
        {
            var numbers = CSharpSyntaxTree.ParseText(seed.Text).GetRoot().DescendantTokens().Where(t => t.IsKind(SyntaxKind.NumericLiteralToken)).ToList();
            foreach (var t in numbers)
                foreach (string to in t.Value is float or double ? FloatExtremes : IntExtremes)
                {
                    string replacement = to.StartsWith('-') ? "(" + to + ")" : to;
                    yield return new Mutant(-1, index++, seed, [$"number '{t.Text}' at {Where(t)} -> {to}"],
                        seed.Text.Substring(0, t.SpanStart) + replacement + seed.Text.Substring(t.Span.End));
                }
        }
    }

    /// <summary>A stable mix of the two numbers (HashCode.Combine is randomised per process).</summary>
    static int HashCode(int a, int b)
    {
        ulong x = unchecked((ulong)(uint)a * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)b * 0xC2B2AE3D27D4EB4FUL);
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 32;
        return unchecked((int)x & int.MaxValue);
    }

    static Kind Pick(Random rng) => rng.Next(100) switch
    {
        < 12 => Kind.DeleteToken,
        < 20 => Kind.SwapTokens,
        < 25 => Kind.Truncate,
        < 33 => Kind.DuplicateLine,
        < 85 => Kind.ExtremeNumber,
        _ => Kind.RenameLayer,
    };

    /// <summary>Applies one edit of <paramref name="kind"/>; null when the source offers nothing to edit.</summary>
    public static (string Text, string What)? Apply(Kind kind, string text, Random rng)
    {
        var root = CSharpSyntaxTree.ParseText(text).GetRoot();
        var tokens = root.DescendantTokens().Where(t => !t.IsKind(SyntaxKind.EndOfFileToken) && t.Span.Length > 0).ToList();
        if (tokens.Count == 0) return null;
        switch (kind)
        {
            case Kind.DeleteToken:
            {
                var t = tokens[rng.Next(tokens.Count)];
                return (text.Remove(t.SpanStart, t.Span.Length), $"delete '{t.Text}' at {Where(t)}");
            }
            case Kind.SwapTokens:
            {
                int i = rng.Next(tokens.Count);
                int j = rng.Next(2) == 0 ? Math.Min(i + 1, tokens.Count - 1) : rng.Next(tokens.Count);
                if (i == j) return null;
                var (a, b) = i < j ? (tokens[i], tokens[j]) : (tokens[j], tokens[i]);
                string swapped = text.Substring(0, a.SpanStart) + b.Text + text.Substring(a.Span.End, b.SpanStart - a.Span.End) + a.Text + text.Substring(b.Span.End);
                return (swapped, $"swap '{a.Text}' at {Where(a)} with '{b.Text}' at {Where(b)}");
            }
            case Kind.Truncate:
            {
                int at = rng.Next(text.Length);
                return (text.Substring(0, at), $"truncate at character {at} ({Where(root.SyntaxTree, at)})");
            }
            case Kind.DuplicateLine:
            {
                var lines = text.Split('\n').ToList();
                int l = rng.Next(lines.Count);
                lines.Insert(l, lines[l]);
                return (string.Join('\n', lines), $"duplicate line {l + 1} '{lines[l].Trim()}'");
            }
            case Kind.ExtremeNumber:
            {
                var numbers = tokens.Where(t => t.IsKind(SyntaxKind.NumericLiteralToken)).ToList();
                if (numbers.Count == 0) return null;
                var t = numbers[rng.Next(numbers.Count)];
                // Mostly an extreme of the literal's own type (so the mutant still type-checks), sometimes the other's.
                bool isFloat = t.Value is float or double;
                var pool = (rng.Next(20) == 0) ^ isFloat ? FloatExtremes : IntExtremes;
                string to = pool[rng.Next(pool.Length)];
                // Parenthesised: a negative replacing the right operand of '-' must not become '--'.
                string replacement = to.StartsWith('-') ? "(" + to + ")" : to;
                return (text.Substring(0, t.SpanStart) + replacement + text.Substring(t.Span.End), $"number '{t.Text}' at {Where(t)} -> {to}");
            }
            case Kind.RenameLayer:
            {
                var fields = root.DescendantNodes().OfType<FieldDeclarationSyntax>()
                    .Where(f => f.Declaration.Variables.Any(v => v.Initializer?.Value is ObjectCreationExpressionSyntax or ImplicitObjectCreationExpressionSyntax))
                    .SelectMany(f => f.Declaration.Variables).ToList();
                if (fields.Count == 0) return null;
                var field = fields[rng.Next(fields.Count)];
                string name = field.Identifier.Text;
                var uses = tokens.Where(t => t.IsKind(SyntaxKind.IdentifierToken) && t.Text == name).ToList();
                int how = rng.Next(3);
                string to = how == 2 && fields.Count > 1 ? fields.First(f => f != field).Identifier.Text : name + "Renamed";
                // 0: the declaration only (uses now unknown); 1: every occurrence (a consistent rename: still valid);
                // 2: the declaration only, to another layer's name (a duplicate member).
                var targets = how == 1 ? uses : uses.Where(t => t.Span == field.Identifier.Span).ToList();
                string renamed = text;
                foreach (var t in targets.OrderByDescending(t => t.SpanStart))
                    renamed = renamed.Substring(0, t.SpanStart) + to + renamed.Substring(t.Span.End);
                string scope = how == 1 ? "everywhere" : "in its declaration only";
                return (renamed, $"rename layer '{name}' to '{to}' {scope}");
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    static string Where(SyntaxToken t)
    {
        var p = t.GetLocation().GetLineSpan().StartLinePosition;
        return $"{p.Line + 1}:{p.Character + 1}";
    }

    static string Where(SyntaxTree tree, int position)
    {
        var p = tree.GetLineSpan(new Microsoft.CodeAnalysis.Text.TextSpan(position, 0)).StartLinePosition;
        return $"{p.Line + 1}:{p.Character + 1}";
    }
}
