using Clip.Tokenization;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>Behaviour of <see cref="ClipTokenizer"/> on <see cref="TinyVocabulary"/>; needs no reference data.</summary>
[TestFixture]
public sealed class ClipTokenizerTests
{
    private string _directory = null!;
    private string _mergesPath = null!;
    private ClipTokenizer _tokenizer = null!;

    [OneTimeSetUp]
    public void CreateTokenizer()
    {
        _directory = Directory.CreateTempSubdirectory("clip-tokenizer-tests-").FullName;
        _mergesPath = TinyVocabulary.WriteOriginal(_directory);
        _tokenizer = ClipTokenizer.FromBpeMergesFile(_mergesPath);
    }

    [OneTimeTearDown]
    public void DeleteFiles() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void EncodeContent_WordsCoveredByMergeChains_AreSingleEndOfWordTokens()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
            Assert.That(_tokenizer.EncodeContent("low"), Is.EqualTo(new[] { TinyVocabulary.Low }));
            Assert.That(_tokenizer.EncodeContent("cat"), Is.EqualTo(new[] { TinyVocabulary.Cat }));
        }
    }

    [Test]
    public void EncodeContent_LowerRankedPairLaterInWord_MergesFirst()
    {
        // (l, l</w>) ranks before (e, l): a left-to-right merger would give "el" + "l</w>".
        Assert.That(_tokenizer.EncodeContent("ell"), Is.EqualTo(new[] { TinyVocabulary.Char('e'), TinyVocabulary.LlEnd }));
    }

    [Test]
    public void EncodeContent_RepeatedPair_MergesLeftToRightWithoutOverlap()
    {
        using (Assert.EnterMultipleScope())
        {
            // a a a a a</w> → aa aa a</w> → aa aaa</w>
            Assert.That(_tokenizer.EncodeContent("aaaaa"), Is.EqualTo(new[] { TinyVocabulary.Aa, TinyVocabulary.AaaEnd }));

            // The last symbol carries </w>, so (a, a</w>) is not the pair (a, a).
            Assert.That(_tokenizer.EncodeContent("aaaa"),
                Is.EqualTo(new[] { TinyVocabulary.Aa, TinyVocabulary.Char('a'), TinyVocabulary.CharEnd('a') }));
        }
    }

    [Test]
    public void EncodeContent_LowerRankedPairFormedDuringPass_WaitsUntilPassEnds()
    {
        // The pass for (a, b) merges both occurrences before (ab, a), ranked lower, is considered.
        Assert.That(_tokenizer.EncodeContent("ababx"),
            Is.EqualTo(new[] { TinyVocabulary.Ab, TinyVocabulary.Ab, TinyVocabulary.CharEnd('x') }));
    }

    [Test]
    public void EncodeContent_SingleByteWord_IsItsEndOfWordSymbol()
    {
        Assert.That(_tokenizer.EncodeContent("a"), Is.EqualTo(new[] { TinyVocabulary.CharEnd('a') }));
    }

    [Test]
    public void EncodeContent_MultiByteCharacter_IsOneSymbolPerUtf8Byte()
    {
        // é = C3 A9 → "Ã" (id 127) and "©</w>" (id 358).
        Assert.That(_tokenizer.EncodeContent("é"), Is.EqualTo(new[] { 127, 358 }));
    }

    [Test]
    public void EncodeContent_MixedCaseSentence_IsLowercasedAndSplitAtPunctuation()
    {
        Assert.That(_tokenizer.EncodeContent("Hello LOW, cat!"), Is.EqualTo(new[]
        {
            TinyVocabulary.Hello, TinyVocabulary.Low, TinyVocabulary.CharEnd(','), TinyVocabulary.Cat,
            TinyVocabulary.CharEnd('!'),
        }));
    }

    [TestCase("")]
    [TestCase(" \t\r\n\u00A0\u3000")]
    public void EncodeContent_EmptyOrWhitespaceText_ReturnsNoIds(string text)
    {
        Assert.That(_tokenizer.EncodeContent(text), Is.Empty);
    }

    [Test]
    public void EncodeContent_SpecialTokenLiteral_IsOrdinaryText()
    {
        int[] ids = _tokenizer.EncodeContent("<|endoftext|> cat <|startoftext|>");

        Assert.That(ids, Has.None.EqualTo(TinyVocabulary.StartOfTextId).And.None.EqualTo(TinyVocabulary.EndOfTextId)
            .And.Contains(TinyVocabulary.Cat));
    }

    [Test]
    public void EncodeContent_NullText_Throws()
    {
        Assert.That(() => _tokenizer.EncodeContent(null!), Throws.ArgumentNullException);
    }

    [Test]
    public void Encode_EmptyText_WritesStartAndEndOnly()
    {
        Assert.That(_tokenizer.Encode("", 77), Is.EqualTo(new[] { TinyVocabulary.StartOfTextId, TinyVocabulary.EndOfTextId }));
    }

    [Test]
    public void Encode_TextLongerThanContext_KeepsFirstContentIdsAndEndsWithEndId()
    {
        Span<int> destination = stackalloc int[5];

        int written = _tokenizer.Encode("hello low cat hello low", destination);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(written, Is.EqualTo(5));
            Assert.That(destination.ToArray(), Is.EqualTo(new[]
            {
                TinyVocabulary.StartOfTextId, TinyVocabulary.Hello, TinyVocabulary.Low, TinyVocabulary.Cat,
                TinyVocabulary.EndOfTextId,
            }));
        }
    }

    [Test]
    public void Encode_TruncationInsideMultiTokenWord_KeepsEndIdLast()
    {
        // "ell" is two ids; only the first fits before the end id.
        Assert.That(_tokenizer.Encode("cat ell", 4),
            Is.EqualTo(new[]
            {
                TinyVocabulary.StartOfTextId, TinyVocabulary.Cat, TinyVocabulary.Char('e'), TinyVocabulary.EndOfTextId,
            }));
    }

    [Test]
    public void Encode_TextExactlyFillingContext_IsNotTruncated()
    {
        int[] ids = _tokenizer.Encode("hello low cat", 5);

        Assert.That(ids, Is.EqualTo(new[]
        {
            TinyVocabulary.StartOfTextId, TinyVocabulary.Hello, TinyVocabulary.Low, TinyVocabulary.Cat,
            TinyVocabulary.EndOfTextId,
        }));
    }

    [Test]
    public void Encode_ShortText_LeavesPaddingSlotsUntouched()
    {
        int[] destination = Enumerable.Repeat(-1, 8).ToArray();

        int written = _tokenizer.Encode("cat", destination);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(written, Is.EqualTo(3));
            Assert.That(destination, Is.EqualTo(new[]
            {
                TinyVocabulary.StartOfTextId, TinyVocabulary.Cat, TinyVocabulary.EndOfTextId, -1, -1, -1, -1, -1,
            }));
        }
    }

    [Test]
    public void Encode_ContextOfTwo_WritesStartAndEndOnly()
    {
        Assert.That(_tokenizer.Encode("hello", 2),
            Is.EqualTo(new[] { TinyVocabulary.StartOfTextId, TinyVocabulary.EndOfTextId }));
    }

    [Test]
    public void Encode_DestinationShorterThanTwo_Throws()
    {
        Assert.That(() => _tokenizer.Encode("cat", new int[1]), Throws.ArgumentException);
    }

    [Test]
    public void Encode_ContextLengthBelowTwo_Throws()
    {
        Assert.That(() => _tokenizer.Encode("cat", 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void FromBpeMergesFile_NegativeCacheCapacity_Throws()
    {
        Assert.That(() => ClipTokenizer.FromBpeMergesFile(_mergesPath, new ClipTokenizerOptions { CacheCapacity = -1 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Options_Default_HasTextFixesAndTenThousandEntryCache()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_tokenizer.Options.ApplyTextFixes, Is.True);
            Assert.That(_tokenizer.Options.CacheCapacity, Is.EqualTo(10_000));
        }
    }

    [Test]
    public void EncodeContent_RepeatedWord_IsCachedOnce()
    {
        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(_mergesPath);

        tokenizer.EncodeContent("hello hello HELLO");

        Assert.That(tokenizer.CachedPieceCount, Is.EqualTo(1));
    }

    [Test]
    public void EncodeContent_CacheCapacityZero_CachesNothing()
    {
        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(_mergesPath, new ClipTokenizerOptions { CacheCapacity = 0 });

        int[] ids = tokenizer.EncodeContent("hello low");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ids, Is.EqualTo(new[] { TinyVocabulary.Hello, TinyVocabulary.Low }));
            Assert.That(tokenizer.CachedPieceCount, Is.Zero);
        }
    }

    [Test]
    public void EncodeContent_ManyDistinctWordsWithCapacityTwo_StaysBoundedAndCorrect()
    {
        ClipTokenizer cached = ClipTokenizer.FromBpeMergesFile(_mergesPath, new ClipTokenizerOptions { CacheCapacity = 2 });
        ClipTokenizer uncached = ClipTokenizer.FromBpeMergesFile(_mergesPath, new ClipTokenizerOptions { CacheCapacity = 0 });

        using (Assert.EnterMultipleScope())
        {
            foreach (string word in RandomWords(seed: 1, count: 300, alphabet: "abhelotcx"))
            {
                Assert.That(cached.EncodeContent(word), Is.EqualTo(uncached.EncodeContent(word)), word);
                Assert.That(cached.CachedPieceCount, Is.LessThanOrEqualTo(2));
            }
        }
    }

    [Test]
    public void Encode_ConcurrentCallsFromManyThreads_GiveSameIdsAsSequentialCalls()
    {
        // A cache smaller than the word set makes threads clear and refill it while others read.
        ClipTokenizer shared = ClipTokenizer.FromBpeMergesFile(_mergesPath, new ClipTokenizerOptions { CacheCapacity = 3 });
        ClipTokenizer sequential = ClipTokenizer.FromBpeMergesFile(_mergesPath);
        string[] texts = RandomWords(seed: 2, count: 40, alphabet: "abhelotcx ,!é🐶").ToArray();
        int[][] expected = texts.Select(text => sequential.Encode(text, 16)).ToArray();
        int mismatches = 0;

        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, worker =>
        {
            Span<int> destination = stackalloc int[16];
            for (int iteration = 0; iteration < 2_000; iteration++)
            {
                int index = (worker * 7 + iteration) % texts.Length;
                int written = shared.Encode(texts[index], destination);
                if (!destination[..written].SequenceEqual(expected[index]))
                {
                    Interlocked.Increment(ref mismatches);
                }
            }
        });

        Assert.That(mismatches, Is.Zero);
    }

    [Test]
    public void EncodeContent_RandomWords_MatchesReferenceBpe()
    {
        var reference = new ReferenceBpe(TinyVocabulary.Merges, TinyVocabulary.TokenIds);

        using (Assert.EnterMultipleScope())
        {
            foreach (string word in RandomWords(seed: 3, count: 2_000, alphabet: "abhelotc"))
            {
                Assert.That(_tokenizer.EncodeContent(word), Is.EqualTo(reference.Encode(word)), word);
            }
        }
    }

    private static IEnumerable<string> RandomWords(int seed, int count, string alphabet)
    {
        string[] symbols = alphabet.EnumerateRunes().Select(rune => rune.ToString()).ToArray();
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            int length = random.Next(1, 24);
            yield return string.Concat(Enumerable.Range(0, length).Select(_ => symbols[random.Next(symbols.Length)]));
        }
    }
}
