namespace Clip.Tokenization;

/// <summary>
/// The reversible byte → character map of openai/CLIP <c>bytes_to_unicode()</c> (the GPT-2 byte-level alphabet).
/// BPE symbols are strings over these 256 characters, one character per UTF-8 byte.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The characters of the byte-level alphabet, indexed by byte value.</summary>
    public static readonly char[] CharForByte = BuildCharForByte();

    /// <summary>
    /// The 256 byte values in <c>bytes_to_unicode()</c> insertion order: the printable bytes 33–126, 161–172 and
    /// 174–255 first, then the other 68 in increasing order. The original vocabulary lists its first 512 ids in this
    /// order, so id <c>i &lt; 256</c> is the character of <c>VocabularyOrder[i]</c>.
    /// </summary>
    public static readonly byte[] VocabularyOrder = BuildVocabularyOrder();

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static byte[] BuildVocabularyOrder()
    {
        var order = new byte[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            if (IsPrintable(b))
            {
                order[next++] = (byte)b;
            }
        }

        for (int b = 0; b < 256; b++)
        {
            if (!IsPrintable(b))
            {
                order[next++] = (byte)b;
            }
        }

        return order;
    }

    private static char[] BuildCharForByte()
    {
        // Printable bytes stand for themselves; the others (whitespace and control bytes the BPE code "barfs on")
        // become U+0100 + n, n counting them in byte order.
        var chars = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            chars[b] = IsPrintable(b) ? (char)b : (char)(256 + shifted++);
        }

        return chars;
    }
}
