using System.IO.Compression;
using System.Text;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>
/// A slow, line-by-line port of openai/CLIP <c>SimpleTokenizer.bpe()</c> over strings (rescan all pairs, merge every
/// occurrence of the best one left to right, repeat). The production BPE works on ids with a heap; this is the
/// obviously faithful version it is compared with.
/// </summary>
internal sealed class ReferenceBpe
{
    private readonly Dictionary<(string, string), int> _ranks = [];
    private readonly IReadOnlyDictionary<string, int> _encoder;
    private readonly Dictionary<byte, char> _byteEncoder;

    public ReferenceBpe(IReadOnlyList<(string Left, string Right)> merges, IReadOnlyDictionary<string, int> encoder)
    {
        for (int rank = 0; rank < merges.Count; rank++)
        {
            _ranks[merges[rank]] = rank;
        }

        _encoder = encoder;
        _byteEncoder = TinyVocabulary.BytesToUnicode().ToDictionary(p => p.Byte, p => p.Char);
    }

    /// <summary>Reads the real merges file the way SimpleTokenizer.__init__ does.</summary>
    public static ReferenceBpe FromOriginalMergesFile(string gzipPath)
    {
        using var gzip = new GZipStream(File.OpenRead(gzipPath), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var merges = reader.ReadToEnd().Split('\n')[1..(49152 - 256 - 2 + 1)]
            .Select(line => line.Split(' ') is [var left, var right] ? (left, right) : throw new FormatException(line))
            .ToList();
        return new ReferenceBpe(merges, TinyVocabulary.BuildOriginalTokenIds(merges));
    }

    /// <summary>The ids of one pre-token.</summary>
    public int[] Encode(string piece)
    {
        string token = string.Concat(Encoding.UTF8.GetBytes(piece).Select(b => _byteEncoder[b]));
        List<string> word = [.. token[..^1].Select(c => c.ToString()), token[^1] + "</w>"];
        HashSet<(string, string)> pairs = GetPairs(word);
        if (pairs.Count == 0)
        {
            return [_encoder[token + "</w>"]];
        }

        while (true)
        {
            (string first, string second) = pairs.MinBy(pair => _ranks.GetValueOrDefault(pair, int.MaxValue));
            if (!_ranks.ContainsKey((first, second)))
            {
                break;
            }

            var newWord = new List<string>();
            int i = 0;
            while (i < word.Count)
            {
                int j = word.IndexOf(first, i);
                if (j < 0)
                {
                    newWord.AddRange(word.Skip(i));
                    break;
                }

                newWord.AddRange(word.Skip(i).Take(j - i));
                i = j;
                if (word[i] == first && i < word.Count - 1 && word[i + 1] == second)
                {
                    newWord.Add(first + second);
                    i += 2;
                }
                else
                {
                    newWord.Add(word[i]);
                    i += 1;
                }
            }

            word = newWord;
            if (word.Count == 1)
            {
                break;
            }

            pairs = GetPairs(word);
        }

        return word.Select(symbol => _encoder[symbol]).ToArray();
    }

    private static HashSet<(string, string)> GetPairs(List<string> word)
    {
        var pairs = new HashSet<(string, string)>();
        for (int i = 1; i < word.Count; i++)
        {
            pairs.Add((word[i - 1], word[i]));
        }

        return pairs;
    }
}
