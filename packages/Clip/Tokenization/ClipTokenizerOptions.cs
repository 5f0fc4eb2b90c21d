namespace Clip.Tokenization;

/// <summary>Settings of a <see cref="ClipTokenizer"/>; checked when the tokenizer is created.</summary>
public sealed record ClipTokenizerOptions
{
    /// <summary>The default <see cref="CacheCapacity"/>: 10,000 pre-tokens.</summary>
    public const int DefaultCacheCapacity = 10_000;

    /// <summary>The defaults: text fixes on, a cache of <see cref="DefaultCacheCapacity"/> pre-tokens.</summary>
    public static ClipTokenizerOptions Default { get; } = new();

    /// <summary>
    /// Whether to apply the table-driven part of ftfy's <c>fix_text</c> that openai/CLIP runs on every text: NFC,
    /// fullwidth/halfwidth folding, curly quotes to ASCII and Latin ligature expansion. Default <c>true</c>.
    /// Turn it off to match a tokenizer that skips ftfy (the <c>ids</c> column of the reference data). When on, the
    /// runtime needs ICU for NFC; the tokenizer refuses to start in globalization-invariant mode.
    /// </summary>
    public bool ApplyTextFixes { get; init; } = true;

    /// <summary>
    /// Maximum number of distinct pre-tokens (words, digits, punctuation runs) whose ids are cached; when full the
    /// cache is cleared. 0 disables caching. Default <see cref="DefaultCacheCapacity"/>. Must not be negative.
    /// </summary>
    public int CacheCapacity { get; init; } = DefaultCacheCapacity;
}
