using Clip.Tokenization;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary><see cref="HtmlUnescaper"/> against Python 3.11's <c>html.unescape</c> (expected values produced by it).</summary>
[TestFixture]
public sealed class HtmlUnescaperTests
{
    [TestCase("&amp;", "&")]
    [TestCase("&amp;amp;", "&amp;")]
    [TestCase("&Eacute;", "É")]
    [TestCase("&notin;", "∉")]
    [TestCase("&AMP;", "&")]
    [TestCase("&lang;", "⟨")]
    public void Unescape_NamedReference_Decodes(string text, string expected)
    {
        Assert.That(HtmlUnescaper.Unescape(text), Is.EqualTo(expected));
    }

    [TestCase("&amp", "&")]
    [TestCase("&eacute", "é")]
    [TestCase("&ampx;", "&x;")]
    [TestCase("&notit;", "¬it;")]
    [TestCase("&frac12x", "½x")]
    public void Unescape_LegacyNameWithoutSemicolon_DecodesLongestPrefix(string text, string expected)
    {
        Assert.That(HtmlUnescaper.Unescape(text), Is.EqualTo(expected));
    }

    [TestCase("&#39", "'")]
    [TestCase("&#x27;", "'")]
    [TestCase("&#X41;", "A")]
    [TestCase("&#65;&#66", "AB")]
    [TestCase("&#0000000065;", "A")]
    [TestCase("&#12x", "\fx")]
    [TestCase("&#13;", "\r")]
    public void Unescape_NumericReference_Decodes(string text, string expected)
    {
        Assert.That(HtmlUnescaper.Unescape(text), Is.EqualTo(expected));
    }

    [TestCase("&#150;", "–")]
    [TestCase("&#0;", "\uFFFD")]
    [TestCase("&#xD800;", "\uFFFD")]
    [TestCase("&#1114112;", "\uFFFD")]
    [TestCase("&#99999999999999999999;", "\uFFFD")]
    [TestCase("&#1;", "")]
    [TestCase("&#xFDD0;", "")]
    [TestCase("&#x10FFFF;", "")]
    public void Unescape_InvalidCodePoint_FollowsHtml5Rules(string text, string expected)
    {
        Assert.That(HtmlUnescaper.Unescape(text), Is.EqualTo(expected));
    }

    [TestCase("AT&T")]
    [TestCase("a & b")]
    [TestCase("&")]
    [TestCase("&#;")]
    [TestCase("&#x;")]
    [TestCase("&unknown;")]
    public void Unescape_NoReference_LeavesTextAsIs(string text)
    {
        Assert.That(HtmlUnescaper.Unescape(text), Is.EqualTo(text));
    }

    [Test]
    public void Unescape_TextWithoutAmpersand_ReturnsSameInstance()
    {
        const string text = "a photo of a cat";

        Assert.That(HtmlUnescaper.Unescape(text), Is.SameAs(text));
    }
}
