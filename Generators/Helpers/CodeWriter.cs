// An indented text writer for emitters: faster and more predictable than SyntaxFactory formatting.
using System.Text;

namespace Authoring.Generators.Helpers;

internal sealed class CodeWriter
{
    readonly StringBuilder _sb = new();
    int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    public CodeWriter Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return this;
    }

    public CodeWriter Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
        return this;
    }

    /// <summary>Writes text produced by another writer, indented to the current level.</summary>
    public CodeWriter Block(string text)
    {
        foreach (var line in text.TrimEnd('\n').Split('\n')) Line(line);
        return this;
    }

    public override string ToString() => _sb.ToString();
}
