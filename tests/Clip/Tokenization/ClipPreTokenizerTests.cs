using System.Text.RegularExpressions;
using Clip.Tokenization;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>
/// <see cref="ClipPreTokenizer"/> against the pieces Python's <c>regex.findall</c> gives for the CLIP pattern (each
/// expectation was checked with Python 3.11 and the regex module).
/// </summary>
[TestFixture]
public sealed class ClipPreTokenizerTests
{
    [TestCase("don't", new[] { "don", "'t" })]
    [TestCase("i'm it's they're we've you'll he'd",
        new[] { "i", "'m", "it", "'s", "they", "'re", "we", "'ve", "you", "'ll", "he", "'d" })]
    [TestCase("x'sy", new[] { "x", "'s", "y" })]
    [TestCase("'la", new[] { "'", "la" })]
    [TestCase("it'ſ", new[] { "it", "'ſ" })]
    public void Split_Contractions_AreSeparatePieces(string text, string[] expected)
    {
        Assert.That(Split(text), Is.EqualTo(expected));
    }

    [TestCase("!'s", new[] { "!'", "s" })]
    [TestCase("''s", new[] { "''", "s" })]
    public void Split_ApostropheInsidePunctuationRun_IsNotAContraction(string text, string[] expected)
    {
        Assert.That(Split(text), Is.EqualTo(expected));
    }

    [TestCase("hello, world!!! (test) -- foo_bar/baz?",
        new[] { "hello", ",", "world", "!!!", "(", "test", ")", "--", "foo", "_", "bar", "/", "baz", "?" })]
    [TestCase("3.14", new[] { "3", ".", "1", "4" })]
    [TestCase("ⅷ²½١", new[] { "ⅷ", "²", "½", "١" })]
    public void Split_DigitsAndPunctuation_DigitsAloneAndPunctuationInRuns(string text, string[] expected)
    {
        Assert.That(Split(text), Is.EqualTo(expected));
    }

    [Test]
    public void Split_AstralLetters_StayInsideLetterRuns()
    {
        // U+1D400..U+1D402 (mathematical bold A-C) and U+20000 (CJK Extension B) are letters outside the BMP.
        Assert.That(Split("𝐀𝐁𝐂 x𠀀y"), Is.EqualTo(new[] { "𝐀𝐁𝐂", "x𠀀y" }));
    }

    [Test]
    public void Split_Emoji_AreSymbolRunsBetweenLetters()
    {
        Assert.That(Split("a🐶b 🐶🐱 ❤️"), Is.EqualTo(new[] { "a", "🐶", "b", "🐶🐱", "❤️" }));
    }

    [Test]
    public void DotNetRegex_AstralLetter_IsNotALetter()
    {
        // Why the scanner is hand-written: .NET matches UTF-16 units, so \p{L} never matches a surrogate half.
        Assert.That(Regex.IsMatch("𝐀", @"^\p{L}+$"), Is.False);
    }

    [Test]
    public void Split_CombiningYpogegrammeni_IsSkippedLikeIgnoreCaseFindall()
    {
        Assert.That(Split("\u0345a \u0345 z\u0345!"), Is.EqualTo(new[] { "a", "z", "!" }));
    }

    [Test]
    public void Split_WhitespaceOfAnyKind_SeparatesAndIsDropped()
    {
        Assert.That(Split(" a\u00A0b\u3000c\t\nd "), Is.EqualTo(new[] { "a", "b", "c", "d" }));
    }

    [Test]
    public void Split_InformationSeparator_IsPunctuation()
    {
        Assert.That(Split("a\u001Cb"), Is.EqualTo(new[] { "a", "\u001C", "b" }));
    }

    [Test]
    public void Split_SpecialTokenLiteral_IsOrdinaryPieces()
    {
        Assert.That(Split("<|endoftext|>"), Is.EqualTo(new[] { "<|", "endoftext", "|>" }));
    }

    [Test]
    public void Split_EmptyText_YieldsNothing()
    {
        Assert.That(Split(""), Is.Empty);
    }

    private static string[] Split(string text)
    {
        var pieces = new List<string>();
        foreach ((int start, int length) in new ClipPreTokenizer(text))
        {
            pieces.Add(text.Substring(start, length));
        }

        return pieces.ToArray();
    }
}
