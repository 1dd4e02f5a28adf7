// Approved-file snapshots of generated code: Snapshots/<name>.g.cs.txt holds the approved text. A
// mismatch fails with the first differing lines and writes the received text next to the test binaries;
// UPDATE_SNAPSHOTS=1 rewrites the approved files instead (review the git diff before committing).
using System.Text;

namespace Authoring.Generators.Tests.Harness;

internal static class Snapshot
{
    static string Dir => Path.Combine(TestModels.RepoRoot(), "tests", "Authoring.Generators.Tests", "Snapshots");

    static bool Updating => Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1";

    public static void Match(string name, string actual)
    {
        actual = actual.ReplaceLineEndings("\n");
        string approvedPath = Path.Combine(Dir, name + ".g.cs.txt");
        if (Updating)
        {
            Directory.CreateDirectory(Dir);
            File.WriteAllText(approvedPath, actual);
            return;
        }
        string received = Path.Combine(AppContext.BaseDirectory, "Snapshots", name + ".received.g.cs.txt");
        if (!File.Exists(approvedPath))
        {
            Write(received, actual);
            Assert.Fail($"No approved snapshot {approvedPath}. Received text: {received}. Run with UPDATE_SNAPSHOTS=1 to approve it.");
        }
        string approved = File.ReadAllText(approvedPath).ReplaceLineEndings("\n");
        if (approved == actual) return;
        Write(received, actual);
        Assert.Fail($"Generated code differs from {approvedPath}.\n{Diff(approved, actual)}\n" +
            $"Full received text: {received}\n  diff {approvedPath} {received}\n" +
            "If the change is intended, run the tests with UPDATE_SNAPSHOTS=1 and commit the approved file.");
    }

    static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    /// <summary>The first differing line with three lines of context on each side.</summary>
    internal static string Diff(string approved, string actual)
    {
        var a = approved.Split('\n');
        var b = actual.Split('\n');
        int first = 0;
        while (first < a.Length && first < b.Length && a[first] == b[first]) first++;
        var sb = new StringBuilder();
        sb.AppendLine($"First difference at line {first + 1} (approved {a.Length} lines, received {b.Length}):");
        int from = Math.Max(0, first - 3);
        for (int i = from; i < first; i++) sb.AppendLine("  " + a[i]);
        for (int i = first; i < Math.Min(a.Length, first + 4); i++) sb.AppendLine("- " + a[i]);
        for (int i = first; i < Math.Min(b.Length, first + 4); i++) sb.AppendLine("+ " + b[i]);
        return sb.ToString();
    }
}
