using System.Buffers;
using System.Text;

namespace Clip.Tokenization;

/// <summary>
/// The CLIP byte-level BPE tokenizer: openai/CLIP <c>clip/simple_tokenizer.py</c> and
/// <c>clip.tokenize(truncate=True)</c>, ported id-for-id.
/// </summary>
/// <remarks>
/// <para>
/// Pipeline: (1) the table-driven ftfy fixes (see <see cref="ClipTokenizerOptions.ApplyTextFixes"/>); (2) Python's
/// <c>html.unescape</c> twice; (3) strip, collapse Unicode whitespace runs to one space, lowercase, all with Python's
/// string semantics (including <c>str.lower()</c>'s final sigma and İ → i̇); (4) pre-tokenization with the CLIP regex;
/// (5) UTF-8 bytes → byte-level symbols → BPE with <c>&lt;/w&gt;</c> on the last symbol → ids.
/// </para>
/// <para>
/// Deliberate differences from the original:
/// <list type="bullet">
/// <item>The literal strings <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c> in the text are tokenized as
/// ordinary text. The original matches them as special tokens, so a label could inject an early end-of-text id, and
/// EOT pooling would then read the embedding at that position. Only <see cref="Encode(string, Span{int})"/> writes
/// <see cref="StartOfTextId"/> and <see cref="EndOfTextId"/>.</item>
/// <item>ftfy's mojibake repair (<c>fix_encoding</c>) is not implemented: it guesses encodings with a statistical
/// "badness" model that cannot be reproduced exactly without porting ftfy wholesale. Text such as <c>cafÃ©</c> is
/// tokenized as written. See <see cref="UnicodeTextFixes"/> for the other ftfy steps left out.</item>
/// <item>Unpaired UTF-16 surrogates become U+FFFD (the original raises when encoding them).</item>
/// <item>HTML 5-only entity names (<c>&amp;check;</c>) are not decoded; the HTML 4 names, the no-semicolon legacy
/// names and all numeric references are, exactly as Python does.</item>
/// <item>Character properties come from .NET's Unicode tables; characters assigned after the Unicode version of the
/// reference Python may be classified differently.</item>
/// </list>
/// </para>
/// <para>Thread-safety: all members are safe to call concurrently; the only mutable state is the bounded word cache.</para>
/// </remarks>
public sealed partial class ClipTokenizer
{
    private readonly BpeVocabulary _vocabulary;
    private readonly PieceCache _cache;
    private readonly bool _applyTextFixes;

    /// <summary>Creates a tokenizer over a loaded vocabulary.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ClipTokenizerOptions.CacheCapacity"/> is negative.</exception>
    /// <exception cref="PlatformNotSupportedException">Text fixes are on but NFC is unavailable (no ICU).</exception>
    internal ClipTokenizer(BpeVocabulary vocabulary, ClipTokenizerOptions? options = null)
    {
        options ??= ClipTokenizerOptions.Default;
        if (options.CacheCapacity < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.CacheCapacity,
                $"{nameof(ClipTokenizerOptions.CacheCapacity)} must be 0 (no cache) or more.");
        }

        // In globalization-invariant mode string.Normalize silently returns its input, which would change ids
        // without any error; refuse instead.
        if (options.ApplyTextFixes && !UnicodeTextFixes.IsNormalizationAvailable)
        {
            throw new PlatformNotSupportedException(
                "CLIP text fixes need Unicode NFC normalization, which is unavailable in globalization-invariant mode " +
                "(InvariantGlobalization / DOTNET_SYSTEM_GLOBALIZATION_INVARIANT). Install ICU, or set " +
                $"{nameof(ClipTokenizerOptions)}.{nameof(ClipTokenizerOptions.ApplyTextFixes)} = false.");
        }

        _vocabulary = vocabulary;
        _applyTextFixes = options.ApplyTextFixes;
        _cache = new PieceCache(options.CacheCapacity);
        Options = options;
    }

    /// <summary>The options this tokenizer was created with.</summary>
    public ClipTokenizerOptions Options { get; }

    /// <summary>The id of <c>&lt;|startoftext|&gt;</c> (49406 for the OpenAI vocabulary).</summary>
    public int StartOfTextId => _vocabulary.StartOfTextId;

    /// <summary>The id of <c>&lt;|endoftext|&gt;</c> (49407 for the OpenAI vocabulary).</summary>
    public int EndOfTextId => _vocabulary.EndOfTextId;

    /// <summary>One more than the highest id (49408 for the OpenAI vocabulary): the token-embedding row count.</summary>
    public int VocabularySize => _vocabulary.Size;

    /// <summary>The number of pre-tokens currently cached.</summary>
    internal int CachedPieceCount => _cache.Count;

    /// <summary>Tokenizes <paramref name="text"/> into content ids: no start/end ids, no truncation.</summary>
    /// <param name="text">Any text; empty gives an empty array.</param>
    /// <returns>A new array the caller owns.</returns>
    public int[] EncodeContent(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string cleaned = ClipTextCleaner.Clean(text, _applyTextFixes);

        // Every id covers at least one UTF-8 byte of the text, and one UTF-16 unit is at most three UTF-8 bytes.
        int[] buffer = ArrayPool<int>.Shared.Rent(Math.Max(1, 3 * cleaned.Length));
        try
        {
            int count = EncodeCleaned(cleaned, buffer);
            return buffer.AsSpan(0, count).ToArray();
        }
        finally
        {
            ArrayPool<int>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Writes <see cref="StartOfTextId"/>, the content ids and <see cref="EndOfTextId"/> into
    /// <paramref name="destination"/>, whose length is the context length (77 for CLIP). Text that does not fit is
    /// truncated as <c>clip.tokenize(truncate=True)</c> does: the first <c>length - 2</c> content ids are kept and
    /// the last slot is the end id. Pre-tokens past the cut are not encoded at all.
    /// </summary>
    /// <param name="text">Any text.</param>
    /// <param name="destination">At least 2 long. Slots after the returned count are left untouched: the caller pads
    /// (openai/CLIP pads with 0, Hugging Face CLIP with the end id).</param>
    /// <returns>The number of ids written, from 2 to <c>destination.Length</c>.</returns>
    public int Encode(string text, Span<int> destination)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (destination.Length < 2)
        {
            throw new ArgumentException(
                $"The destination must hold at least the start and end ids (2); it holds {destination.Length}.",
                nameof(destination));
        }

        string cleaned = ClipTextCleaner.Clean(text, _applyTextFixes);
        destination[0] = StartOfTextId;
        int count = EncodeCleaned(cleaned, destination[1..^1]);
        destination[count + 1] = EndOfTextId;
        return count + 2;
    }

    /// <summary>
    /// Like <see cref="Encode(string, Span{int})"/> with a destination of <paramref name="contextLength"/> ids, but
    /// returns only the ids written (start id … end id, no padding).
    /// </summary>
    /// <param name="text">Any text.</param>
    /// <param name="contextLength">The model's context length (77 for CLIP); at least 2.</param>
    public int[] Encode(string text, int contextLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        Span<int> buffer = contextLength <= 256 ? stackalloc int[contextLength] : new int[contextLength];
        int count = Encode(text, buffer);
        return buffer[..count].ToArray();
    }

    /// <summary>Pre-tokenizes and encodes cleaned text until <paramref name="destination"/> is full.</summary>
    /// <returns>The number of ids written.</returns>
    private int EncodeCleaned(string cleaned, Span<int> destination)
    {
        int count = 0;
        foreach ((int start, int length) in new ClipPreTokenizer(cleaned))
        {
            if (count == destination.Length)
            {
                break;
            }

            ReadOnlySpan<char> piece = cleaned.AsSpan(start, length);
            if (!_cache.TryGet(piece, out int[]? ids))
            {
                ids = EncodePiece(piece);
            }

            int taken = Math.Min(ids.Length, destination.Length - count);
            ids.AsSpan(0, taken).CopyTo(destination[count..]);
            count += taken;
        }

        return count;
    }

    private int[] EncodePiece(ReadOnlySpan<char> piece)
    {
        // At most three UTF-8 bytes per UTF-16 unit (a surrogate pair is two units and four bytes).
        byte[]? rented = null;
        Span<byte> utf8 = piece.Length <= 256
            ? stackalloc byte[3 * piece.Length]
            : rented = ArrayPool<byte>.Shared.Rent(3 * piece.Length);
        try
        {
            int byteCount = Encoding.UTF8.GetBytes(piece, utf8);
            int[] ids = _vocabulary.EncodeWord(utf8[..byteCount]);
            _cache.Add(piece, ids);
            return ids;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
