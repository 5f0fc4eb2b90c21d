using System.Buffers;
using System.Globalization;
using System.Text;

namespace Clip.Tokenization;

/// <summary>
/// openai/CLIP's clean-up before pre-tokenization, with Python's string semantics:
/// <c>whitespace_clean(basic_clean(text)).lower()</c>.
/// </summary>
internal static class ClipTextCleaner
{
    /// <summary>Cleans <paramref name="text"/>.</summary>
    /// <param name="text">Any text, including unpaired surrogates.</param>
    /// <param name="applyTextFixes">Whether to run the ftfy subset of <see cref="UnicodeTextFixes"/>.</param>
    public static string Clean(string text, bool applyTextFixes)
    {
        // basic_clean: ftfy.fix_text, html.unescape twice, strip.
        string fixedText = applyTextFixes ? UnicodeTextFixes.Apply(text) : UnicodeTextFixes.ReplaceLoneSurrogates(text);
        string unescaped = HtmlUnescaper.Unescape(HtmlUnescaper.Unescape(fixedText));
        ReadOnlySpan<char> stripped = StripPythonWhitespace(unescaped);
        if (stripped.IsEmpty)
        {
            return string.Empty;
        }

        // whitespace_clean and lower(). Its second strip() is a no-op: the text now starts and ends with a character
        // that is not str.isspace(), so collapsing cannot put a space at either end. Lowering grows the text by at most
        // one UTF-16 unit per unit (U+0130 becomes "i\u0307"), hence the doubled buffer.
        char[]? rented = null;
        Span<char> buffer = stripped.Length <= 512
            ? stackalloc char[2 * stripped.Length]
            : rented = ArrayPool<char>.Shared.Rent(2 * stripped.Length);
        try
        {
            int length = CollapseWhitespaceAndLower(stripped, buffer);
            return new string(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// Python's <c>str.isspace()</c>, which <c>str.strip()</c> uses: Unicode White_Space plus U+001C..U+001F (the
    /// information separators, whose bidi class is B or S). The regex <c>\s</c> of whitespace_clean lacks the latter.
    /// </summary>
    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    private static ReadOnlySpan<char> StripPythonWhitespace(string text)
    {
        int start = 0;
        int end = text.Length;
        while (start < end && IsPythonSpace(text[start]))
        {
            start++;
        }

        while (end > start && IsPythonSpace(text[end - 1]))
        {
            end--;
        }

        return text.AsSpan(start, end - start);
    }

    /// <summary>
    /// Replaces each run of regex <c>\s</c> (White_Space) with one space and lowercases like <c>str.lower()</c>.
    /// </summary>
    /// <param name="text">Text without unpaired surrogates.</param>
    /// <param name="destination">At least twice as long as <paramref name="text"/>.</param>
    /// <returns>The number of characters written.</returns>
    private static int CollapseWhitespaceAndLower(ReadOnlySpan<char> text, Span<char> destination)
    {
        int written = 0;
        bool inWhitespace = false;
        for (int i = 0; i < text.Length;)
        {
            char c = text[i];
            if (char.IsAscii(c))
            {
                if (char.IsWhiteSpace(c))
                {
                    if (!inWhitespace)
                    {
                        destination[written++] = ' ';
                        inWhitespace = true;
                    }
                }
                else
                {
                    destination[written++] = char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c;
                    inWhitespace = false;
                }

                i++;
                continue;
            }

            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int consumed);
            if (Rune.IsWhiteSpace(rune))
            {
                if (!inWhitespace)
                {
                    destination[written++] = ' ';
                    inWhitespace = true;
                }
            }
            else
            {
                written += AppendPythonLower(text, i, rune, destination[written..]);
                inWhitespace = false;
            }

            i += consumed;
        }

        return written;
    }

    /// <summary>
    /// Python's <c>str.lower()</c> for one code point: the simple lowercase mapping (what
    /// <see cref="Rune.ToLowerInvariant"/> gives), except U+0130 → "i\u0307" (full mapping) and capital sigma, which
    /// becomes final sigma by context.
    /// </summary>
    private static int AppendPythonLower(ReadOnlySpan<char> text, int index, Rune rune, Span<char> destination)
    {
        switch (rune.Value)
        {
            case 0x0130:
                destination[0] = 'i';
                destination[1] = '\u0307';
                return 2;
            case 0x03A3:
                destination[0] = IsFinalSigma(text, index) ? '\u03C2' : '\u03C3';
                return 1;
            default:
                return Rune.ToLowerInvariant(rune).EncodeToUtf16(destination);
        }
    }

    /// <summary>
    /// CPython's <c>handle_capital_sigma</c>: Σ is final when a cased letter precedes it and none follows it, skipping
    /// case-ignorable characters in both directions.
    /// </summary>
    private static bool IsFinalSigma(ReadOnlySpan<char> text, int index)
    {
        int before = index;
        while (true)
        {
            if (before == 0)
            {
                return false;
            }

            Rune.DecodeLastFromUtf16(text[..before], out Rune rune, out int consumed);
            before -= consumed;
            if (!IsCaseIgnorable(rune))
            {
                if (!IsCased(rune))
                {
                    return false;
                }

                break;
            }
        }

        for (int after = index + 1; after < text.Length;)
        {
            Rune.DecodeFromUtf16(text[after..], out Rune rune, out int consumed);
            after += consumed;
            if (!IsCaseIgnorable(rune))
            {
                return !IsCased(rune);
            }
        }

        return true;
    }

    /// <summary>
    /// Unicode Case_Ignorable: Mn, Me, Cf, Lm, Sk, plus Word_Break MidLetter, MidNumLet and Single_Quote. The code points
    /// were checked against CPython 3.11 (Unicode 14) over the whole code space.
    /// </summary>
    private static bool IsCaseIgnorable(Rune rune)
    {
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.NonSpacingMark:
            case UnicodeCategory.EnclosingMark:
            case UnicodeCategory.Format:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.ModifierSymbol:
                return true;
            default:
                return rune.Value is 0x0027 or 0x002E or 0x003A or 0x00B7 or 0x0387 or 0x055F or 0x05F4 or 0x2018
                    or 0x2019 or 0x2024 or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
        }
    }

    /// <summary>
    /// Unicode Cased: Lu, Ll, Lt, plus Other_Lowercase and Other_Uppercase outside the case-ignorable categories
    /// (ª, º, Roman numerals, circled and squared Latin letters). Checked like <see cref="IsCaseIgnorable"/>.
    /// </summary>
    private static bool IsCased(Rune rune)
    {
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
                return true;
            default:
                return rune.Value is 0x00AA or 0x00BA or >= 0x2160 and <= 0x217F or >= 0x24B6 and <= 0x24E9
                    or >= 0x1F130 and <= 0x1F149 or >= 0x1F150 and <= 0x1F169 or >= 0x1F170 and <= 0x1F189;
        }
    }
}
