using System.Globalization;
using System.Text;

namespace Clip.Tokenization;

/// <summary>
/// Splits cleaned text into pre-tokens the way openai/CLIP's <c>re.findall</c> does with
/// <c>'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c> (IGNORECASE), minus the two special-token
/// alternatives, which are left out on purpose (see <see cref="ClipTokenizer"/>). Enumerate with <c>foreach</c>; each
/// item is a (start, length) range of UTF-16 units in the text.
/// </summary>
/// <remarks>
/// A hand-written scanner rather than <see cref="System.Text.RegularExpressions.Regex"/>: Python's <c>regex</c> module
/// matches code points, .NET's Regex matches UTF-16 units, so <c>\p{L}</c> would see each half of an astral letter
/// (U+1D400 𝐀, CJK Extension B) as a surrogate, not a letter, and split it off into punctuation. Classifying
/// <see cref="Rune"/>s keeps Python's result. Other details of Python's match kept here:
/// <list type="bullet">
/// <item>Alternatives are tried in order at each position, so a contraction only starts a piece; inside a run of
/// punctuation an apostrophe is just punctuation (<c>!'s</c> → <c>!'</c>, <c>s</c>).</item>
/// <item>Under IGNORECASE <c>'s</c> also matches <c>'ſ</c> (U+017F LONG S, which case-folds to s).</item>
/// <item>Under IGNORECASE U+0345 COMBINING GREEK YPOGEGRAMMENI matches no alternative (its case variants are letters,
/// so it fails <c>[^…\p{L}…]</c>, yet it is no letter itself); findall skips it like whitespace.</item>
/// </list>
/// </remarks>
internal ref struct ClipPreTokenizer
{
    private readonly ReadOnlySpan<char> _text;
    private int _position;

    public ClipPreTokenizer(ReadOnlySpan<char> text)
    {
        _text = text;
        _position = 0;
        Current = default;
    }

    private enum CharClass
    {
        Skipped,
        Letter,
        Number,
        Other,
    }

    /// <summary>The current pre-token: its start and length in UTF-16 units.</summary>
    public (int Start, int Length) Current { get; private set; }

    public readonly ClipPreTokenizer GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_position < _text.Length)
        {
            int start = _position;
            CharClass charClass = Classify(_text, start, out int width);
            int end = charClass switch
            {
                CharClass.Skipped => -1,
                CharClass.Number => start + width,
                CharClass.Other when _text[start] == '\'' && ContractionLength(start + 1) is > 0 and var suffix =>
                    start + 1 + suffix,
                _ => ScanRun(start + width, charClass),
            };

            if (end < 0)
            {
                _position += width;
                continue;
            }

            _position = end;
            Current = (start, end - start);
            return true;
        }

        return false;
    }

    /// <returns>The length of the contraction suffix after an apostrophe at <paramref name="index"/> - 1, or 0.</returns>
    private readonly int ContractionLength(int index)
    {
        if (index >= _text.Length)
        {
            return 0;
        }

        char first = (char)(_text[index] | 0x20);
        if (first is 's' or 't' or 'm' or 'd' || _text[index] == '\u017F')
        {
            return 1;
        }

        if (index + 1 < _text.Length)
        {
            char second = (char)(_text[index + 1] | 0x20);
            if ((first, second) is ('r', 'e') or ('v', 'e') or ('l', 'l'))
            {
                return 2;
            }
        }

        return 0;
    }

    private readonly int ScanRun(int index, CharClass runClass)
    {
        while (index < _text.Length && Classify(_text, index, out int width) == runClass)
        {
            index += width;
        }

        return index;
    }

    private static CharClass Classify(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        if (char.IsAscii(c))
        {
            width = 1;
            return char.IsAsciiLetter(c) ? CharClass.Letter
                : char.IsAsciiDigit(c) ? CharClass.Number
                : char.IsWhiteSpace(c) ? CharClass.Skipped
                : CharClass.Other;
        }

        // Unpaired surrogates decode as U+FFFD (a symbol), like the UTF-8 bytes they are later encoded to.
        Rune.DecodeFromUtf16(text[index..], out Rune rune, out width);
        if (Rune.IsWhiteSpace(rune) || rune.Value == 0x0345)
        {
            return CharClass.Skipped;
        }

        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return CharClass.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return CharClass.Number;
            default:
                return CharClass.Other;
        }
    }
}
