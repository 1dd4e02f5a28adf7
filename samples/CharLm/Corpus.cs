// The text of Debian's fortunes package (/usr/share/games/fortunes, installed by scripts/ensure-fortunes.sh): every
// cookie file (not the .dat indexes or the .u8 links), files in name order, split into fortunes at the lines holding
// only '%'. Fixed split: fortune i (counted over all files) goes to validation when i % 10 == 9, else to training.
// Each split is its fortunes joined by "%\n" (the files' own separator). The vocabulary is the training text's most
// frequent characters; any other character is id 0, which stands for "other".
using System.Text;

namespace CharLm;

public sealed class Corpus
{
    public const string Directory = "/usr/share/games/fortunes";

    public required int[] Train { get; init; }
    public required int[] Validation { get; init; }
    public required char[] Chars { get; init; }
    public int FortunesTrain { get; init; }
    public int FortunesValidation { get; init; }

    public static Corpus Load(string dir, int vocabulary)
    {
        var files = System.IO.Directory.GetFiles(dir)
            .Where(f => Path.GetExtension(f) is not (".dat" or ".u8") && new FileInfo(f).LinkTarget is null)
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"No fortune files in {dir}: run scripts/ensure-fortunes.sh.");
        var train = new StringBuilder();
        var validation = new StringBuilder();
        int index = 0, nTrain = 0, nVal = 0;
        foreach (var file in files)
        {
            var text = File.ReadAllText(file, Encoding.UTF8).Replace("\r\n", "\n");
            foreach (var fortune in text.Split("\n%\n"))
            {
                var f = fortune.TrimStart('%', '\n');
                if (f.Trim().Length == 0) continue;
                var target = index++ % 10 == 9 ? validation : train;
                if (ReferenceEquals(target, train)) nTrain++; else nVal++;
                target.Append(f.TrimEnd('\n', '%')).Append("\n%\n");
            }
        }
        string t = train.ToString(), v = validation.ToString();
        // Id 0 is "other"; ids 1.. are the training text's most frequent characters (ties in code-point order).
        var chars = t.GroupBy(c => c).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Take(vocabulary - 1).Select(g => g.Key).ToArray();
        var ids = new Dictionary<char, int>();
        for (int i = 0; i < chars.Length; i++) ids[chars[i]] = i + 1;
        int[] Encode(string s) => s.Select(c => ids.TryGetValue(c, out int id) ? id : 0).ToArray();
        return new Corpus
        {
            Train = Encode(t), Validation = Encode(v), Chars = ['\uFFFD', .. chars],
            FortunesTrain = nTrain, FortunesValidation = nVal,
        };
    }

    /// <summary>Bits per character of an add-alpha smoothed bigram model (alpha 0.1, fitted on training) on
    /// validation: the baseline the language model must beat. Also the unigram model's figure.</summary>
    public (double Unigram, double Bigram) BaselineBitsPerChar(int vocabulary, double alpha = 0.1)
    {
        var uni = new double[vocabulary];
        var bi = new double[vocabulary, vocabulary];
        var row = new double[vocabulary];
        foreach (int c in Train) uni[c]++;
        for (int i = 1; i < Train.Length; i++)
        {
            bi[Train[i - 1], Train[i]]++;
            row[Train[i - 1]]++;
        }
        double total = Train.Length;
        double uBits = 0, bBits = 0;
        for (int i = 1; i < Validation.Length; i++)
        {
            int prev = Validation[i - 1], c = Validation[i];
            uBits -= Math.Log2((uni[c] + alpha) / (total + alpha * vocabulary));
            bBits -= Math.Log2((bi[prev, c] + alpha) / (row[prev] + alpha * vocabulary));
        }
        int count = Validation.Length - 1;
        return (uBits / count, bBits / count);
    }

    public string Decode(IEnumerable<int> ids) => new(ids.Select(i => Chars[i]).ToArray());
}
