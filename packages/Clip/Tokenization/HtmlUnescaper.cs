using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;

namespace Clip.Tokenization;

/// <summary>
/// Python's <c>html.unescape</c> (CPython Lib/html/__init__.py), which openai/CLIP applies twice to every text.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="WebUtility.HtmlDecode(string)"/> alone differs from Python on input that label text can plausibly
/// contain: it needs the <c>;</c> (Python decodes <c>&amp;amp</c>, <c>&amp;#39</c> and the other HTML 4 Latin-1 names
/// without it, and <c>&amp;notit</c> as <c>¬it</c>), it keeps <c>&amp;#150;</c> as a C1 control where Python maps
/// 0x80–0x9F through Windows-1252, and it has no rule for surrogates, NUL or non-characters. So the matching rules,
/// the numeric references and the legacy no-semicolon names are ported here; only the lookup of a
/// <c>&amp;name;</c> reference goes to <see cref="WebUtility"/>.
/// </para>
/// <para>
/// Not covered: WebUtility knows the 253 HTML 4 names, Python the 2,231 HTML 5 names. An HTML 5-only name such as
/// <c>&amp;check;</c> stays as written here, where Python would decode it.
/// </para>
/// </remarks>
internal static class HtmlUnescaper
{
    // Python's pattern: &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?), the 32 counting code points.
    private const int MaxNameCodePoints = 32;

    // The longest HTML 5 name that also decodes without ';' ("frac12", "middot", …).
    private const int MaxLegacyNameLength = 6;

    // html.entities.html5 entries without ';' (HTML 4 Latin-1 names plus AMP, COPY, GT, LT, QUOT, REG). Each also
    // exists with ';' and the same value.
    private static readonly FrozenDictionary<string, char>.AlternateLookup<ReadOnlySpan<char>> LegacyNames =
        new Dictionary<string, char>(StringComparer.Ordinal)
        {
            ["QUOT"] = '\u0022', ["quot"] = '\u0022', ["AMP"] = '\u0026', ["amp"] = '\u0026', ["LT"] = '\u003C',
            ["lt"] = '\u003C', ["GT"] = '\u003E', ["gt"] = '\u003E', ["nbsp"] = '\u00A0', ["iexcl"] = '\u00A1',
            ["cent"] = '\u00A2', ["pound"] = '\u00A3', ["curren"] = '\u00A4', ["yen"] = '\u00A5', ["brvbar"] = '\u00A6',
            ["sect"] = '\u00A7', ["uml"] = '\u00A8', ["COPY"] = '\u00A9', ["copy"] = '\u00A9', ["ordf"] = '\u00AA',
            ["laquo"] = '\u00AB', ["not"] = '\u00AC', ["shy"] = '\u00AD', ["REG"] = '\u00AE', ["reg"] = '\u00AE',
            ["macr"] = '\u00AF', ["deg"] = '\u00B0', ["plusmn"] = '\u00B1', ["sup2"] = '\u00B2', ["sup3"] = '\u00B3',
            ["acute"] = '\u00B4', ["micro"] = '\u00B5', ["para"] = '\u00B6', ["middot"] = '\u00B7', ["cedil"] = '\u00B8',
            ["sup1"] = '\u00B9', ["ordm"] = '\u00BA', ["raquo"] = '\u00BB', ["frac14"] = '\u00BC', ["frac12"] = '\u00BD',
            ["frac34"] = '\u00BE', ["iquest"] = '\u00BF', ["Agrave"] = '\u00C0', ["Aacute"] = '\u00C1', ["Acirc"] = '\u00C2',
            ["Atilde"] = '\u00C3', ["Auml"] = '\u00C4', ["Aring"] = '\u00C5', ["AElig"] = '\u00C6', ["Ccedil"] = '\u00C7',
            ["Egrave"] = '\u00C8', ["Eacute"] = '\u00C9', ["Ecirc"] = '\u00CA', ["Euml"] = '\u00CB', ["Igrave"] = '\u00CC',
            ["Iacute"] = '\u00CD', ["Icirc"] = '\u00CE', ["Iuml"] = '\u00CF', ["ETH"] = '\u00D0', ["Ntilde"] = '\u00D1',
            ["Ograve"] = '\u00D2', ["Oacute"] = '\u00D3', ["Ocirc"] = '\u00D4', ["Otilde"] = '\u00D5', ["Ouml"] = '\u00D6',
            ["times"] = '\u00D7', ["Oslash"] = '\u00D8', ["Ugrave"] = '\u00D9', ["Uacute"] = '\u00DA', ["Ucirc"] = '\u00DB',
            ["Uuml"] = '\u00DC', ["Yacute"] = '\u00DD', ["THORN"] = '\u00DE', ["szlig"] = '\u00DF', ["agrave"] = '\u00E0',
            ["aacute"] = '\u00E1', ["acirc"] = '\u00E2', ["atilde"] = '\u00E3', ["auml"] = '\u00E4', ["aring"] = '\u00E5',
            ["aelig"] = '\u00E6', ["ccedil"] = '\u00E7', ["egrave"] = '\u00E8', ["eacute"] = '\u00E9', ["ecirc"] = '\u00EA',
            ["euml"] = '\u00EB', ["igrave"] = '\u00EC', ["iacute"] = '\u00ED', ["icirc"] = '\u00EE', ["iuml"] = '\u00EF',
            ["eth"] = '\u00F0', ["ntilde"] = '\u00F1', ["ograve"] = '\u00F2', ["oacute"] = '\u00F3', ["ocirc"] = '\u00F4',
            ["otilde"] = '\u00F5', ["ouml"] = '\u00F6', ["divide"] = '\u00F7', ["oslash"] = '\u00F8', ["ugrave"] = '\u00F9',
            ["uacute"] = '\u00FA', ["ucirc"] = '\u00FB', ["uuml"] = '\u00FC', ["yacute"] = '\u00FD', ["thorn"] = '\u00FE',
            ["yuml"] = '\u00FF',
        }.ToFrozenDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    // The only two HTML 4 names whose HTML 5 value changed (WebUtility returns U+2329/U+232A).
    private static readonly FrozenDictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> Html5Overrides =
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["lang"] = "\u27E8",
            ["rang"] = "\u27E9",
        }.ToFrozenDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    // Python's _invalid_charrefs for 0x80–0x9F: Windows-1252, with its five undefined bytes kept as C1 controls.
    private const string Windows1252C1 =
        "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
        "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    /// <summary>Decodes the character references in <paramref name="text"/> once, exactly as Python's html.unescape.</summary>
    /// <returns><paramref name="text"/> itself when it holds no <c>&amp;</c>.</returns>
    public static string Unescape(string text)
    {
        int ampersand = text.IndexOf('&');
        if (ampersand < 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        int position = 0;
        while (ampersand >= 0)
        {
            result.Append(text, position, ampersand - position);
            int consumed = AppendReference(text, ampersand, result);
            if (consumed == 0)
            {
                result.Append('&');
                consumed = 1;
            }

            position = ampersand + consumed;
            ampersand = text.IndexOf('&', position);
        }

        result.Append(text, position, text.Length - position);
        return result.ToString();
    }

    /// <summary>Appends the replacement of the reference at <paramref name="ampersand"/>.</summary>
    /// <returns>The number of characters replaced, or 0 when no reference starts there.</returns>
    private static int AppendReference(string text, int ampersand, StringBuilder result)
    {
        int start = ampersand + 1;
        if (start < text.Length && text[start] == '#')
        {
            return AppendNumericReference(text, ampersand, result);
        }

        int end = start;
        for (int codePoints = 0; end < text.Length && codePoints < MaxNameCodePoints; codePoints++)
        {
            char c = text[end];
            if (c is '\t' or '\n' or '\f' or ' ' or '<' or '&' or '#' or ';')
            {
                break;
            }

            end += char.IsHighSurrogate(c) && end + 1 < text.Length && char.IsLowSurrogate(text[end + 1]) ? 2 : 1;
        }

        if (end == start)
        {
            return 0;
        }

        ReadOnlySpan<char> name = text.AsSpan(start, end - start);
        if (end < text.Length && text[end] == ';')
        {
            if (TryGetNameWithSemicolon(name, out string? value))
            {
                result.Append(value);
                return end + 1 - ampersand;
            }

            // Python then tries prefixes of the name including its ';', but prefixes never reach the ';'.
            end++;
        }
        else if (LegacyNames.TryGetValue(name, out char bare))
        {
            result.Append(bare);
            return end - ampersand;
        }

        // The longest legacy name that is a proper prefix ("&notit;" → "¬it;"); the rest stays as written.
        int longest = Math.Min(MaxLegacyNameLength, end - start - 1);
        for (int length = longest; length >= 2; length--)
        {
            if (LegacyNames.TryGetValue(text.AsSpan(start, length), out char prefixValue))
            {
                result.Append(prefixValue);
                return 1 + length;
            }
        }

        return 0;
    }

    private static bool TryGetNameWithSemicolon(ReadOnlySpan<char> name, [NotNullWhen(true)] out string? value)
    {
        if (LegacyNames.TryGetValue(name, out char legacy))
        {
            value = legacy.ToString();
            return true;
        }

        if (Html5Overrides.TryGetValue(name, out value))
        {
            return true;
        }

        string reference = string.Concat("&", name, ";");
        value = WebUtility.HtmlDecode(reference);
        return value != reference;
    }

    private static int AppendNumericReference(string text, int ampersand, StringBuilder result)
    {
        int position = ampersand + 2;
        bool hex = position < text.Length && text[position] is 'x' or 'X';
        int digitsStart = hex ? position + 1 : position;
        int digitsEnd = digitsStart;
        while (digitsEnd < text.Length && (hex ? char.IsAsciiHexDigit(text[digitsEnd]) : char.IsAsciiDigit(text[digitsEnd])))
        {
            digitsEnd++;
        }

        if (digitsEnd == digitsStart)
        {
            return 0; // "&#" or "&#x" without digits: no alternative of the pattern matches
        }

        int codePoint = ParseCodePoint(text.AsSpan(digitsStart, digitsEnd - digitsStart), hex);
        AppendCodePoint(codePoint, result);
        int end = digitsEnd < text.Length && text[digitsEnd] == ';' ? digitsEnd + 1 : digitsEnd;
        return end - ampersand;
    }

    /// <returns>The value, or <see cref="int.MaxValue"/> when it exceeds U+10FFFF (Python's ints do not overflow).</returns>
    private static int ParseCodePoint(ReadOnlySpan<char> digits, bool hex)
    {
        digits = digits.TrimStart('0');
        if (digits.Length > (hex ? 6 : 7))
        {
            return int.MaxValue;
        }

        int value = 0;
        foreach (char c in digits)
        {
            value = hex ? (value << 4) | HexValue(c) : (value * 10) + (c - '0');
        }

        return value;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static void AppendCodePoint(int codePoint, StringBuilder result)
    {
        switch (codePoint)
        {
            case 0x00:
                result.Append('\uFFFD');
                return;
            case 0x0D:
                result.Append('\r');
                return;
            case >= 0x80 and <= 0x9F:
                result.Append(Windows1252C1[codePoint - 0x80]);
                return;
            case >= 0xD800 and <= 0xDFFF or > 0x10FFFF:
                result.Append('\uFFFD');
                return;
        }

        // Python's _invalid_codepoints are dropped: C0 controls other than \t \n \f \r, DEL, the
        // U+FDD0–U+FDEF non-characters and the last two code points of every plane.
        bool dropped = codePoint is >= 0x01 and <= 0x08 or 0x0B or >= 0x0E and <= 0x1F or 0x7F
            or >= 0xFDD0 and <= 0xFDEF || (codePoint & 0xFFFE) == 0xFFFE;
        if (!dropped)
        {
            result.Append(char.ConvertFromUtf32(codePoint));
        }
    }
}
