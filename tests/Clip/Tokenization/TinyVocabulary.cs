using System.Text.Json;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>
/// A 14-merge vocabulary written by hand, in all three file layouts, for tests that must not depend on the real
/// vocabulary. Expected ids below were checked against openai/CLIP's simple_tokenizer.py run on the same file.
/// </summary>
internal static class TinyVocabulary
{
    /// <summary>
    /// The merges, in the original layout. "l l&lt;/w&gt;" ranks before "e l", so "ell" must come out as e + ll&lt;/w&gt;;
    /// "ab a" ranks before the "a b" that creates "ab". The trailing newline must not create a vocabulary entry.
    /// </summary>
    public const string MergesFile =
        "#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\nl o\nlo w</w>\nl l</w>\ne l\na a\naa a</w>\nab a\na b\nc a\nca t</w>\n";

    public const int StartOfTextId = 526;
    public const int EndOfTextId = 527;
    public const int Size = 528;

    // Ids of some merge results: 512 + the merge's line index.
    public const int Hello = 515;
    public const int Low = 517;
    public const int LlEnd = 518;
    public const int Aa = 520;
    public const int AaaEnd = 521;
    public const int Ab = 523;
    public const int Cat = 525;

    /// <summary>The merges in rank order.</summary>
    public static IReadOnlyList<(string Left, string Right)> Merges { get; } = MergesFile
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Skip(1)
        .Select(line => line.Split(' ') is [var left, var right] ? (left, right) : throw new FormatException(line))
        .ToList();

    /// <summary>Token → id as openai/CLIP builds it from <see cref="MergesFile"/>.</summary>
    public static IReadOnlyDictionary<string, int> TokenIds { get; } = BuildTokenIds();

    /// <summary>Id of a printable ASCII character as a symbol inside a word (its index in bytes_to_unicode order).</summary>
    public static int Char(char c) => c - '!';

    /// <summary>Id of a printable ASCII character as the last symbol of a word (with &lt;/w&gt;).</summary>
    public static int CharEnd(char c) => 256 + (c - '!');

    public static string WriteOriginal(string directory, string fileName = "bpe_simple_vocab_16e6.txt")
    {
        string path = Path.Combine(directory, fileName);
        File.WriteAllText(path, MergesFile);
        return path;
    }

    public static (string VocabJson, string MergesTxt) WriteVocabAndMerges(string directory)
    {
        string vocabJson = Path.Combine(directory, "vocab.json");
        string mergesTxt = Path.Combine(directory, "merges.txt");
        File.WriteAllText(vocabJson, JsonSerializer.Serialize(TokenIds));
        File.WriteAllText(mergesTxt, MergesFile);
        return (vocabJson, mergesTxt);
    }

    public static string WriteTokenizerJson(string directory, bool mergesAsPairs)
    {
        string path = Path.Combine(directory, "tokenizer.json");
        var document = new
        {
            version = "1.0",
            added_tokens = new object[]
            {
                new { id = StartOfTextId, content = "<|startoftext|>", special = true },
                new { id = EndOfTextId, content = "<|endoftext|>", special = true },
            },
            model = new
            {
                type = "BPE",
                continuing_subword_prefix = "",
                end_of_word_suffix = "</w>",
                vocab = TokenIds,
                merges = mergesAsPairs
                    ? Merges.Select(m => (object)new[] { m.Left, m.Right }).ToArray()
                    : Merges.Select(m => (object)$"{m.Left} {m.Right}").ToArray(),
            },
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document));
        return path;
    }

    /// <summary>bytes_to_unicode(), ported independently of the production code, in its insertion order.</summary>
    public static IReadOnlyList<(byte Byte, char Char)> BytesToUnicode()
    {
        var bytes = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1))
            .ToList();
        var chars = new List<int>(bytes);
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!bytes.Contains(b))
            {
                bytes.Add(b);
                chars.Add(256 + n++);
            }
        }

        return bytes.Zip(chars, (b, c) => ((byte)b, (char)c)).ToList();
    }

    /// <summary>The vocabulary construction of SimpleTokenizer.__init__, for any merge list.</summary>
    public static Dictionary<string, int> BuildOriginalTokenIds(IEnumerable<(string Left, string Right)> merges)
    {
        var vocabulary = BytesToUnicode().Select(p => p.Char.ToString()).ToList();
        vocabulary.AddRange(vocabulary.Select(v => v + "</w>").ToList());
        vocabulary.AddRange(merges.Select(m => m.Left + m.Right));
        vocabulary.Add("<|startoftext|>");
        vocabulary.Add("<|endoftext|>");
        var tokenIds = new Dictionary<string, int>();
        for (int id = 0; id < vocabulary.Count; id++)
        {
            tokenIds[vocabulary[id]] = id;
        }

        return tokenIds;
    }

    private static Dictionary<string, int> BuildTokenIds() => BuildOriginalTokenIds(Merges);
}
