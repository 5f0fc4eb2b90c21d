using Clip.Tokenization;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>
/// <see cref="ClipTextCleaner"/> against <c>whitespace_clean(basic_clean(text)).lower()</c> from simple_tokenizer.py;
/// with text fixes, against the same after ftfy 6's ligature, width and quote tables and NFC. Expected strings were
/// produced by Python 3.11.
/// </summary>
[TestFixture]
public sealed class ClipTextCleanerTests
{
    [TestCase("  A   Photo\tOF\n\na  Dog  ", "a photo of a dog")]
    [TestCase("naïve\u00A0space", "naïve space")]
    [TestCase("\u001Ca\u001Cb\u001C", "a\u001Cb")]
    [TestCase("Tom &amp;amp; Jerry", "tom & jerry")]
    [TestCase("&lt;b&gt;", "<b>")]
    [TestCase("\u3000a\u3000b", "a b")]
    public void Clean_WhitespaceAndHtml_MatchesPython(string text, string expected)
    {
        Assert.That(ClipTextCleaner.Clean(text, applyTextFixes: false), Is.EqualTo(expected));
    }

    [TestCase("İ", "i\u0307")]
    [TestCase("ΟΔΟΣ", "οδος")]
    [TestCase("Σ", "σ")]
    [TestCase("ΑΣ.Β", "ασ.β")]
    [TestCase("ΑΣ'", "ας'")]
    [TestCase("𐐀", "𐐨")]
    public void Clean_CasesBeyondSimpleLowercasing_MatchPythonLower(string text, string expected)
    {
        Assert.That(ClipTextCleaner.Clean(text, applyTextFixes: false), Is.EqualTo(expected));
    }

    [TestCase("ﬁsh ﬂower", "fish flower")]
    [TestCase("ﬅ", "ſt")]
    [TestCase("ŉ", "'n")]
    [TestCase("ǅemal", "džemal")]
    [TestCase("Ｆｕｌｌ ＡＢＣ", "full abc")]
    [TestCase("ｶﾞｷﾞ", "ガギ")]
    [TestCase("￣", "\u0304")]
    [TestCase("don’t “x”", "don't \"x\"")]
    [TestCase("cafe\u0301", "café")]
    public void Clean_WithTextFixes_AppliesFtfyTables(string text, string expected)
    {
        Assert.That(ClipTextCleaner.Clean(text, applyTextFixes: true), Is.EqualTo(expected));
    }

    [TestCase("ﬁsh ﬂower", "ﬁsh ﬂower")]
    [TestCase("Ｆｕｌｌ", "ｆｕｌｌ")]
    [TestCase("don’t", "don’t")]
    [TestCase("cafe\u0301", "cafe\u0301")]
    public void Clean_WithoutTextFixes_LeavesFtfyCasesAlone(string text, string expected)
    {
        Assert.That(ClipTextCleaner.Clean(text, applyTextFixes: false), Is.EqualTo(expected));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Clean_UnpairedSurrogates_BecomeReplacementCharacters(bool applyTextFixes)
    {
        string cleaned = ClipTextCleaner.Clean("a\uD800b\uDC00c\uD83D\uDC36", applyTextFixes);

        Assert.That(cleaned, Is.EqualTo("a\uFFFDb\uFFFDc\uD83D\uDC36"));
    }
}
