using System.Collections.Frozen;
using System.Text;

namespace Clip.Tokenization;

/// <summary>
/// The table-driven part of <c>ftfy.fix_text</c> that openai/CLIP runs first: <c>fix_latin_ligatures</c>,
/// <c>fix_character_width</c>, <c>uncurl_quotes</c>, <c>fix_surrogates</c> and NFC, with ftfy 6's tables and in
/// ftfy's order.
/// </summary>
/// <remarks>
/// The heuristic fixes are not ported: <c>fix_encoding</c> (mojibake such as <c>cafÃ©</c>) and its helpers
/// <c>restore_byte_a0</c>, <c>replace_lossy_sequences</c>, <c>decode_inconsistent_utf8</c> and <c>fix_c1_controls</c>
/// guess the encoding from a "badness" model (ftfy's char_classes data plus tuned regexes) that cannot be matched
/// exactly without porting ftfy wholesale, and a near miss would silently change ids. Also not ported:
/// <c>unescape_html</c> (the two html.unescape passes that follow make it matter only for triple-escaped text),
/// <c>remove_terminal_escapes</c> and <c>remove_control_chars</c>. <c>fix_line_breaks</c> is irrelevant because
/// whitespace is collapsed afterwards.
/// </remarks>
internal static class UnicodeTextFixes
{
    // Lowest character with a replacement (U+0132 IJ); everything below passes through untouched.
    private const char FirstReplaceable = '\u0132';

    // Character → replacement after ligature expansion, width folding and quote uncurling (in that order, so the
    // U+02BC that ftfy's "ŉ" → "ʼn" produces is uncurled too).
    private static readonly FrozenDictionary<char, string> Replacements = BuildReplacements();

    /// <summary>True when the runtime can NFC-normalize (ICU present, not globalization-invariant mode).</summary>
    public static bool IsNormalizationAvailable => "e\u0301".Normalize(NormalizationForm.FormC).Length == 1;

    /// <summary>Applies the fixes.</summary>
    /// <returns><paramref name="text"/> itself when nothing changes.</returns>
    public static string Apply(string text)
    {
        int first = IndexOfReplaceable(text);
        string translated = first < 0 ? text : Translate(text, first);
        return translated.IsNormalized(NormalizationForm.FormC)
            ? translated
            : translated.Normalize(NormalizationForm.FormC);
    }

    /// <summary>
    /// Replaces unpaired UTF-16 surrogates with U+FFFD, as ftfy's <c>fix_surrogates</c> does. Needed even without the
    /// other fixes: such text has no UTF-8 form (Python raises), and NFC rejects it.
    /// </summary>
    /// <returns><paramref name="text"/> itself when it has none.</returns>
    public static string ReplaceLoneSurrogates(string text)
    {
        int first = IndexOfLoneSurrogate(text);
        if (first < 0)
        {
            return text;
        }

        return string.Create(text.Length, (text, first), static (destination, state) =>
        {
            state.text.AsSpan().CopyTo(destination);
            for (int i = state.first; i < destination.Length; i++)
            {
                if (!char.IsSurrogate(destination[i]))
                {
                    continue;
                }

                if (IsPairedAt(destination, i, out bool skipLow))
                {
                    i += skipLow ? 1 : 0;
                }
                else
                {
                    destination[i] = '\uFFFD';
                }
            }
        });
    }

    private static int IndexOfReplaceable(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < FirstReplaceable)
            {
                continue;
            }

            if (Replacements.ContainsKey(c))
            {
                return i;
            }

            if (char.IsSurrogate(c))
            {
                if (!IsPairedAt(text, i, out bool skipLow))
                {
                    return i;
                }

                i += skipLow ? 1 : 0;
            }
        }

        return -1;
    }

    private static int IndexOfLoneSurrogate(string text)
    {
        for (int i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i]))
            {
                continue;
            }

            if (!IsPairedAt(text, i, out bool skipLow))
            {
                return i;
            }

            i += skipLow ? 1 : 0;
        }

        return -1;
    }

    /// <summary>Whether the surrogate at <paramref name="index"/> is half of a valid pair.</summary>
    /// <param name="text">The text.</param>
    /// <param name="index">Position of a surrogate in <paramref name="text"/>.</param>
    /// <param name="skipLow">True when it is the high half, so the caller should step over the low half.</param>
    private static bool IsPairedAt(ReadOnlySpan<char> text, int index, out bool skipLow)
    {
        char c = text[index];
        skipLow = char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]);
        return skipLow || (char.IsLowSurrogate(c) && index > 0 && char.IsHighSurrogate(text[index - 1]));
    }

    private static string Translate(string text, int first)
    {
        var result = new StringBuilder(text.Length + 8);
        result.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= FirstReplaceable && Replacements.TryGetValue(c, out string? replacement))
            {
                result.Append(replacement);
            }
            else if (char.IsSurrogate(c))
            {
                if (IsPairedAt(text, i, out bool skipLow) && skipLow)
                {
                    result.Append(c).Append(text[++i]);
                }
                else
                {
                    result.Append('\uFFFD');
                }
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    private static FrozenDictionary<char, string> BuildReplacements()
    {
        // ftfy.chardata.LIGATURES (ftfy 6): Latin typographic ligatures plus the Dutch and Serbo-Croatian digraphs.
        var ligatures = new Dictionary<char, string>
        {
            ['\u0132'] = "IJ", ['\u0133'] = "ij", ['\u0149'] = "\u02BCn",
            ['\u01F1'] = "DZ", ['\u01F2'] = "Dz", ['\u01F3'] = "dz",
            ['\u01C4'] = "D\u017D", ['\u01C5'] = "D\u017E", ['\u01C6'] = "d\u017E",
            ['\u01C7'] = "LJ", ['\u01C8'] = "Lj", ['\u01C9'] = "lj",
            ['\u01CA'] = "NJ", ['\u01CB'] = "Nj", ['\u01CC'] = "nj",
            ['\uFB00'] = "ff", ['\uFB01'] = "fi", ['\uFB02'] = "fl", ['\uFB03'] = "ffi", ['\uFB04'] = "ffl",
            ['\uFB05'] = "\u017Ft", ['\uFB06'] = "st",
        };

        // ftfy.chardata._build_width_map: U+3000 → space, and every U+FF01..U+FFEF that NFKC changes (fullwidth ASCII,
        // halfwidth katakana and Hangul, fullwidth symbols) → its NFKC form.
        var width = new Dictionary<char, string> { ['\u3000'] = " " };
        for (char c = '\uFF01'; c < '\uFFF0'; c++)
        {
            string original = c.ToString();
            string folded = original.Normalize(NormalizationForm.FormKC);
            if (folded != original)
            {
                width[c] = folded;
            }
        }

        // ftfy.chardata.SINGLE_QUOTE_RE / DOUBLE_QUOTE_RE.
        var quotes = new Dictionary<char, string> { ['\u02BC'] = "'" };
        for (char c = '\u2018'; c <= '\u201B'; c++)
        {
            quotes[c] = "'";
        }

        for (char c = '\u201C'; c <= '\u201F'; c++)
        {
            quotes[c] = "\"";
        }

        var composed = new Dictionary<char, string>();
        foreach (char c in ligatures.Keys.Concat(width.Keys).Concat(quotes.Keys))
        {
            string step = c.ToString();
            step = MapEach(step, ligatures);
            step = MapEach(step, width);
            composed[c] = MapEach(step, quotes);
        }

        return composed.ToFrozenDictionary();
    }

    private static string MapEach(string text, Dictionary<char, string> map)
    {
        var result = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            result.Append(map.TryGetValue(c, out string? replacement) ? replacement : c.ToString());
        }

        return result.ToString();
    }
}
