using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Clip.Tokenization;

/// <summary>Reads <see cref="BpeVocabulary"/> from the three file layouts CLIP models ship with.</summary>
/// <remarks>Every failure on bad content is an <see cref="InvalidDataException"/> whose message names the file.</remarks>
internal static class BpeVocabularyReader
{
    /// <summary>
    /// openai/CLIP reads <c>merges[1:49152-256-2+1]</c>: the header line, then at most 48,894 merges, so that
    /// 256 + 256 + merges + 2 specials fill the 49,408-row embedding table.
    /// </summary>
    private const int MaxOriginalMerges = 49152 - 256 - 2;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads openai/CLIP's <c>bpe_simple_vocab_16e6.txt</c>, gzipped or not (decided by the gzip magic bytes), and
    /// builds the vocabulary exactly as <c>SimpleTokenizer.__init__</c>: the 256 byte symbols in
    /// <c>bytes_to_unicode()</c> order, the same with <c>&lt;/w&gt;</c>, one entry per merge, then the two specials.
    /// </summary>
    /// <remarks>
    /// The first line is a header and is skipped, as in the original; it must contain <c>#version</c>, which catches a
    /// header-less file (the original would silently drop its first merge) and files of another kind. Blank lines are
    /// ignored: the original would turn a trailing newline of a short file into an empty vocabulary entry, shifting
    /// the special ids. Every other line must be two symbols.
    /// </remarks>
    public static BpeVocabulary ReadOriginalMerges(string path)
    {
        List<string> lines = SplitLines(ReadText(path, allowGzip: true), maxLines: 1 + MaxOriginalMerges);
        if (!lines[0].Contains("#version", StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"'{path}' is not a CLIP BPE merges file: its first line should be a '#version' header, " +
                $"found \"{Excerpt(lines[0])}\".");
        }

        var merges = new List<(string Left, string Right)>(lines.Count - 1);
        for (int line = 1; line < lines.Count; line++)
        {
            if (TryParseMerge(lines[line], path, line + 1) is { } merge)
            {
                merges.Add(merge);
            }
        }

        // The original builds a list and then dict(zip(vocab, range(len(vocab)))): a token listed twice keeps its last id.
        var tokenIds = new Dictionary<string, int>(512 + merges.Count + 2, StringComparer.Ordinal);
        int nextId = 0;
        foreach (byte b in ByteLevelAlphabet.VocabularyOrder)
        {
            tokenIds[ByteLevelAlphabet.CharForByte[b].ToString()] = nextId++;
        }

        foreach (byte b in ByteLevelAlphabet.VocabularyOrder)
        {
            tokenIds[ByteLevelAlphabet.CharForByte[b] + BpeVocabulary.EndOfWordSuffix] = nextId++;
        }

        foreach ((string left, string right) in merges)
        {
            tokenIds[left + right] = nextId++;
        }

        int startOfText = nextId++;
        int endOfText = nextId++;
        tokenIds[BpeVocabulary.StartOfTextToken] = startOfText;
        tokenIds[BpeVocabulary.EndOfTextToken] = endOfText;
        return BpeVocabulary.Create($"'{path}'", tokenIds, merges, startOfText, endOfText, nextId,
            mergesMustBeInVocabulary: false);
    }

    /// <summary>
    /// Reads the Hugging Face slow-tokenizer pair: <c>vocab.json</c> (token → id) and <c>merges.txt</c> (one merge per
    /// line in rank order, after an optional <c>#version</c> header; all merges are used).
    /// </summary>
    public static BpeVocabulary ReadVocabAndMerges(string vocabJsonPath, string mergesTxtPath)
    {
        Dictionary<string, int> tokenIds;
        using (JsonDocument document = ParseJson(vocabJsonPath))
        {
            tokenIds = ReadTokenIds(document.RootElement, vocabJsonPath, "the root");
        }

        List<string> lines = SplitLines(ReadText(mergesTxtPath, allowGzip: false));
        int first = lines[0].StartsWith("#version", StringComparison.Ordinal) ? 1 : 0;
        var merges = new List<(string Left, string Right)>(lines.Count);
        for (int line = first; line < lines.Count; line++)
        {
            if (TryParseMerge(lines[line], mergesTxtPath, line + 1) is { } merge)
            {
                merges.Add(merge);
            }
        }

        int startOfText = RequireSpecial(tokenIds, BpeVocabulary.StartOfTextToken, vocabJsonPath);
        int endOfText = RequireSpecial(tokenIds, BpeVocabulary.EndOfTextToken, vocabJsonPath);
        return BpeVocabulary.Create($"'{vocabJsonPath}' with '{mergesTxtPath}'", tokenIds, merges, startOfText, endOfText,
            MaxId(tokenIds) + 1, mergesMustBeInVocabulary: true);
    }

    /// <summary>
    /// Reads a Hugging Face <c>tokenizer.json</c>: <c>model.vocab</c>, <c>model.merges</c> (strings <c>"a b"</c> or
    /// two-element arrays) and the special ids from <c>added_tokens</c> (else from the vocabulary). Only the
    /// vocabulary is taken from the file; its normalizer and pre-tokenizer are not used (they lack ftfy and
    /// html.unescape), the openai/CLIP pipeline always runs.
    /// </summary>
    public static BpeVocabulary ReadTokenizerJson(string path)
    {
        using JsonDocument document = ParseJson(path);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("model", out JsonElement model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}' is not a tokenizer.json: it has no \"model\" object.");
        }

        if (model.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String
            && type.GetString() != "BPE")
        {
            throw new InvalidDataException($"'{path}': model.type is \"{type.GetString()}\"; a CLIP tokenizer is \"BPE\".");
        }

        if (!model.TryGetProperty("end_of_word_suffix", out JsonElement suffix) || suffix.ValueKind != JsonValueKind.String
            || suffix.GetString() != BpeVocabulary.EndOfWordSuffix)
        {
            throw new InvalidDataException(
                $"'{path}': model.end_of_word_suffix must be \"{BpeVocabulary.EndOfWordSuffix}\" for a CLIP tokenizer.");
        }

        if (!model.TryGetProperty("vocab", out JsonElement vocab))
        {
            throw new InvalidDataException($"'{path}': model.vocab is missing.");
        }

        Dictionary<string, int> tokenIds = ReadTokenIds(vocab, path, "model.vocab");
        List<(string Left, string Right)> merges = ReadJsonMerges(model, path);

        int startOfText = FindAddedToken(root, BpeVocabulary.StartOfTextToken, path)
            ?? RequireSpecial(tokenIds, BpeVocabulary.StartOfTextToken, path);
        int endOfText = FindAddedToken(root, BpeVocabulary.EndOfTextToken, path)
            ?? RequireSpecial(tokenIds, BpeVocabulary.EndOfTextToken, path);
        int size = Math.Max(MaxId(tokenIds), Math.Max(startOfText, endOfText)) + 1;
        return BpeVocabulary.Create($"'{path}'", tokenIds, merges, startOfText, endOfText, size,
            mergesMustBeInVocabulary: true);
    }

    private static string ReadText(string path, bool allowGzip)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (allowGzip && bytes is [0x1F, 0x8B, ..])
        {
            bytes = Gunzip(bytes, path);
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"'{path}' is not UTF-8 text (invalid bytes at offset {e.Index}).", e);
        }
    }

    private static byte[] Gunzip(byte[] compressed, string path)
    {
        byte[] decompressed;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            decompressed = output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' starts like gzip but does not decompress: {e.Message}", e);
        }

        // GZipStream returns whatever it inflated from a truncated file without complaint, which would silently drop
        // merges. The trailer ends with ISIZE, the uncompressed length mod 2^32, so compare (single-member gzip only).
        const int MinimumGzipLength = 10 + 8;
        if (compressed.Length < MinimumGzipLength
            || BinaryPrimitives.ReadUInt32LittleEndian(compressed.AsSpan(compressed.Length - 4)) != (uint)decompressed.Length)
        {
            throw new InvalidDataException(
                $"'{path}' is a truncated or corrupt gzip file: its decompressed length does not match the gzip trailer.");
        }

        return decompressed;
    }

    /// <summary>
    /// Python's <c>text.split('\n')[:maxLines]</c>: only '\n' separates, so a '\r' stays on its line (where the
    /// whitespace split of the merge drops it). The real file has 262,146 lines, of which 48,895 are read.
    /// </summary>
    private static List<string> SplitLines(string text, int maxLines = int.MaxValue)
    {
        var lines = new List<string>();
        for (int start = 0; lines.Count < maxLines;)
        {
            int newline = text.IndexOf('\n', start);
            if (newline < 0)
            {
                lines.Add(text[start..]);
                break;
            }

            lines.Add(text[start..newline]);
            start = newline + 1;
        }

        return lines;
    }

    /// <returns>The merge, or null for a blank line.</returns>
    /// <exception cref="InvalidDataException">The line is not exactly two symbols.</exception>
    private static (string Left, string Right)? TryParseMerge(string line, string path, int lineNumber)
    {
        // Python's str.split(): runs of whitespace separate; byte-level symbols never contain whitespace.
        string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length switch
        {
            0 => null,
            2 => (parts[0], parts[1]),
            _ => throw new InvalidDataException(
                $"'{path}' line {lineNumber}: expected a merge of two symbols separated by a space, found \"{Excerpt(line)}\"."),
        };
    }

    private static List<(string Left, string Right)> ReadJsonMerges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out JsonElement merges) || merges.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"'{path}': model.merges is missing or not an array.");
        }

        var result = new List<(string Left, string Right)>(merges.GetArrayLength());
        foreach (JsonElement merge in merges.EnumerateArray())
        {
            (string Left, string Right)? pair = merge.ValueKind switch
            {
                JsonValueKind.String => merge.GetString()!.Split(' ') is [var left, var right] ? (left, right) : null,
                JsonValueKind.Array when merge.GetArrayLength() == 2
                    && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String =>
                    (merge[0].GetString()!, merge[1].GetString()!),
                _ => null,
            };

            if (pair is not { Left.Length: > 0, Right.Length: > 0 })
            {
                throw new InvalidDataException(
                    $"'{path}': model.merges[{result.Count}] is {Excerpt(merge.GetRawText())}; " +
                    "expected \"a b\" or [\"a\", \"b\"].");
            }

            result.Add(pair.Value);
        }

        return result;
    }

    private static Dictionary<string, int> ReadTokenIds(JsonElement vocab, string path, string what)
    {
        if (vocab.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"'{path}': {what} must be an object mapping tokens to ids.");
        }

        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenIds = new HashSet<int>();
        foreach (JsonProperty entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw new InvalidDataException(
                    $"'{path}': the id of \"{Excerpt(entry.Name)}\" in {what} is " +
                    $"{Excerpt(entry.Value.GetRawText())}; expected an integer ≥ 0.");
            }

            // Ids identify symbols during BPE, so two tokens sharing one would merge as if they were the same symbol.
            if (!seenIds.Add(id))
            {
                throw new InvalidDataException($"'{path}': id {id} is used by more than one token in {what}.");
            }

            tokenIds[entry.Name] = id;
        }

        return tokenIds;
    }

    private static int? FindAddedToken(JsonElement root, string content, string path)
    {
        if (!root.TryGetProperty("added_tokens", out JsonElement addedTokens) || addedTokens.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (JsonElement token in addedTokens.EnumerateArray())
        {
            if (token.ValueKind == JsonValueKind.Object
                && token.TryGetProperty("content", out JsonElement tokenContent)
                && tokenContent.ValueKind == JsonValueKind.String && tokenContent.GetString() == content)
            {
                return token.TryGetProperty("id", out JsonElement id) && id.ValueKind == JsonValueKind.Number
                    && id.TryGetInt32(out int value) && value >= 0
                    ? value
                    : throw new InvalidDataException($"'{path}': added token \"{content}\" has no valid id.");
            }
        }

        return null;
    }

    private static int RequireSpecial(Dictionary<string, int> tokenIds, string token, string path) =>
        tokenIds.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"'{path}' has no id for the special token \"{token}\".");

    private static int MaxId(Dictionary<string, int> tokenIds)
    {
        int max = -1;
        foreach (int id in tokenIds.Values)
        {
            max = Math.Max(max, id);
        }

        return max;
    }

    private static JsonDocument ParseJson(string path)
    {
        using FileStream stream = File.OpenRead(path);
        try
        {
            return JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static string Excerpt(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 60), "…");
}
