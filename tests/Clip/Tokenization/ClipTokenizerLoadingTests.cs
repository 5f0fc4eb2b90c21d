using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Clip.Tokenization;

namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>The static factories of <see cref="ClipTokenizer"/>: file layouts, precedence and errors.</summary>
[TestFixture]
public sealed class ClipTokenizerLoadingTests
{
    private static readonly string[] SampleTexts =
        ["hello", "Hello low, cat!", "ell aaaaa ababx", "é 🐶 x𠀀y", "don't stop", "", "3.14 <|endoftext|>"];

    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("clip-tokenizer-loading-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Factories_SameVocabularyInEveryLayout_GiveIdenticalIds()
    {
        ClipTokenizer original = ClipTokenizer.FromBpeMergesFile(TinyVocabulary.WriteOriginal(_directory));
        (string vocabJson, string mergesTxt) = TinyVocabulary.WriteVocabAndMerges(_directory);
        ClipTokenizer vocabAndMerges = ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt);
        ClipTokenizer tokenizerJson = ClipTokenizer.FromHuggingFaceTokenizerJson(
            TinyVocabulary.WriteTokenizerJson(Subdirectory("strings"), mergesAsPairs: false));
        ClipTokenizer tokenizerJsonPairs = ClipTokenizer.FromHuggingFaceTokenizerJson(
            TinyVocabulary.WriteTokenizerJson(Subdirectory("pairs"), mergesAsPairs: true));

        using (Assert.EnterMultipleScope())
        {
            foreach (ClipTokenizer tokenizer in new[] { original, vocabAndMerges, tokenizerJson, tokenizerJsonPairs })
            {
                Assert.That(tokenizer.StartOfTextId, Is.EqualTo(TinyVocabulary.StartOfTextId));
                Assert.That(tokenizer.EndOfTextId, Is.EqualTo(TinyVocabulary.EndOfTextId));
                Assert.That(tokenizer.VocabularySize, Is.EqualTo(TinyVocabulary.Size));
                foreach (string text in SampleTexts)
                {
                    Assert.That(tokenizer.Encode(text, 77), Is.EqualTo(original.Encode(text, 77)), text);
                }
            }
        }
    }

    [Test]
    public void FromBpeMergesFile_GzipContentWithoutGzExtension_IsDetectedByMagicBytes()
    {
        string path = Path.Combine(_directory, "merges.txt");
        File.WriteAllBytes(path, Gzip(TinyVocabulary.MergesFile));

        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(path);

        Assert.That(tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
    }

    [Test]
    public void FromBpeMergesFile_PlainContentWithGzExtension_IsReadAsText()
    {
        string path = TinyVocabulary.WriteOriginal(_directory, "bpe_simple_vocab_16e6.txt.gz");

        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(path);

        Assert.That(tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
    }

    [Test]
    public void FromBpeMergesFile_WithOrWithoutTrailingNewline_HasSameSpecialIds()
    {
        string path = Path.Combine(_directory, "no-newline.txt");
        File.WriteAllText(path, TinyVocabulary.MergesFile.TrimEnd('\n'));

        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(path);

        Assert.That(tokenizer.EndOfTextId, Is.EqualTo(TinyVocabulary.EndOfTextId));
    }

    [Test]
    public void FromBpeMergesFile_CrlfLineEndings_ReadsSameMerges()
    {
        string path = Path.Combine(_directory, "crlf.txt");
        File.WriteAllText(path, TinyVocabulary.MergesFile.Replace("\n", "\r\n"));

        ClipTokenizer tokenizer = ClipTokenizer.FromBpeMergesFile(path);

        Assert.That(tokenizer.EncodeContent("hello low"), Is.EqualTo(new[] { TinyVocabulary.Hello, TinyVocabulary.Low }));
    }

    [Test]
    public void FromBpeMergesFile_MissingVersionHeader_ThrowsNamingFile()
    {
        string path = WriteText("merges.txt", "h e\nl l\n");

        Assert.That(() => ClipTokenizer.FromBpeMergesFile(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("#version"));
    }

    [Test]
    public void FromBpeMergesFile_LineWithThreeSymbols_ThrowsNamingFileAndLine()
    {
        string path = WriteText("merges.txt", "#version: 0.2\nh e\nl l o\n");

        Assert.That(() => ClipTokenizer.FromBpeMergesFile(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("line 3"));
    }

    [Test]
    public void FromBpeMergesFile_InvalidUtf8_ThrowsNamingFile()
    {
        string path = Path.Combine(_directory, "merges.txt");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("#version: 0.2\nh e\n"), 0xFF, 0xFE, (byte)'\n']);

        Assert.That(() => ClipTokenizer.FromBpeMergesFile(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("UTF-8"));
    }

    [Test]
    public void FromBpeMergesFile_GzipMagicFollowedByGarbage_ThrowsNamingFile()
    {
        string path = Path.Combine(_directory, "merges.txt.gz");
        File.WriteAllBytes(path, [0x1F, 0x8B, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);

        Assert.That(() => ClipTokenizer.FromBpeMergesFile(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path));
    }

    [Test]
    public void FromBpeMergesFile_TruncatedGzip_ThrowsInsteadOfDroppingMerges()
    {
        byte[] gzip = Gzip(TinyVocabulary.MergesFile);
        string path = Path.Combine(_directory, "merges.txt.gz");
        File.WriteAllBytes(path, gzip[..^8]);

        Assert.That(() => ClipTokenizer.FromBpeMergesFile(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("truncated"));
    }

    [Test]
    public void FromBpeMergesFile_MissingFile_ThrowsFileNotFound()
    {
        Assert.That(() => ClipTokenizer.FromBpeMergesFile(Path.Combine(_directory, "absent.txt.gz")),
            Throws.TypeOf<FileNotFoundException>());
    }

    [Test]
    public void FromVocabAndMerges_MergesWithoutVersionHeader_UsesEveryLine()
    {
        (string vocabJson, _) = TinyVocabulary.WriteVocabAndMerges(_directory);
        string headerless = TinyVocabulary.MergesFile[(TinyVocabulary.MergesFile.IndexOf('\n') + 1)..];
        string mergesTxt = WriteText("headerless.txt", headerless);

        ClipTokenizer tokenizer = ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt);

        Assert.That(tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
    }

    [Test]
    public void FromVocabAndMerges_VocabNotJson_ThrowsNamingFile()
    {
        (_, string mergesTxt) = TinyVocabulary.WriteVocabAndMerges(_directory);
        string vocabJson = WriteText("vocab.json", "{ \"a\": 1, ");

        Assert.That(() => ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(vocabJson).And.Message.Contains("JSON"));
    }

    [Test]
    public void FromVocabAndMerges_MergeProducingUnknownSymbol_ThrowsNamingBothFiles()
    {
        (string vocabJson, _) = TinyVocabulary.WriteVocabAndMerges(_directory);
        string mergesTxt = WriteText("merges.txt", TinyVocabulary.MergesFile + "q z\n");

        Assert.That(() => ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt),
            Throws.TypeOf<InvalidDataException>()
                .With.Message.Contains(vocabJson).And.Message.Contains(mergesTxt).And.Message.Contains("q z"));
    }

    [Test]
    public void FromVocabAndMerges_VocabWithoutByteSymbols_ThrowsNamingFile()
    {
        (_, string mergesTxt) = TinyVocabulary.WriteVocabAndMerges(_directory);
        string vocabJson = WriteText("vocab.json", "{\"<|startoftext|>\": 0, \"<|endoftext|>\": 1}");

        Assert.That(() => ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(vocabJson).And.Message.Contains("byte-level symbol"));
    }

    [Test]
    public void FromVocabAndMerges_TwoTokensSharingAnId_ThrowsNamingFile()
    {
        var vocab = new Dictionary<string, int>(TinyVocabulary.TokenIds) { ["duplicate"] = 0 };
        string vocabJson = WriteText("vocab.json", System.Text.Json.JsonSerializer.Serialize(vocab));
        string mergesTxt = WriteText("merges.txt", TinyVocabulary.MergesFile);

        Assert.That(() => ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(vocabJson).And.Message.Contains("id 0"));
    }

    [Test]
    public void FromVocabAndMerges_NoSpecialTokens_ThrowsNamingFile()
    {
        var vocab = new Dictionary<string, int>(TinyVocabulary.TokenIds);
        vocab.Remove("<|endoftext|>");
        string vocabJson = WriteText("vocab.json", System.Text.Json.JsonSerializer.Serialize(vocab));
        string mergesTxt = WriteText("merges.txt", TinyVocabulary.MergesFile);

        Assert.That(() => ClipTokenizer.FromVocabAndMerges(vocabJson, mergesTxt),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(vocabJson).And.Message.Contains("<|endoftext|>"));
    }

    [Test]
    public void FromHuggingFaceTokenizerJson_SpecialsOnlyInAddedTokens_TakesTheirIds()
    {
        string path = TinyVocabulary.WriteTokenizerJson(_directory, mergesAsPairs: false);
        JsonNode json = JsonNode.Parse(File.ReadAllText(path))!;
        JsonObject vocab = json["model"]!["vocab"]!.AsObject();
        vocab.Remove("<|startoftext|>");
        vocab.Remove("<|endoftext|>");
        File.WriteAllText(path, json.ToJsonString());

        ClipTokenizer tokenizer = ClipTokenizer.FromHuggingFaceTokenizerJson(path);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(tokenizer.StartOfTextId, Is.EqualTo(TinyVocabulary.StartOfTextId));
            Assert.That(tokenizer.EndOfTextId, Is.EqualTo(TinyVocabulary.EndOfTextId));
            Assert.That(tokenizer.VocabularySize, Is.EqualTo(TinyVocabulary.Size));
        }
    }

    [Test]
    public void FromHuggingFaceTokenizerJson_NoModel_ThrowsNamingFile()
    {
        string path = WriteText("tokenizer.json", "{\"version\": \"1.0\"}");

        Assert.That(() => ClipTokenizer.FromHuggingFaceTokenizerJson(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("model"));
    }

    [Test]
    public void FromHuggingFaceTokenizerJson_NotEndOfWordBpe_ThrowsNamingFile()
    {
        string path = TinyVocabulary.WriteTokenizerJson(_directory, mergesAsPairs: false);
        JsonNode json = JsonNode.Parse(File.ReadAllText(path))!;
        json["model"]!["end_of_word_suffix"] = null;
        File.WriteAllText(path, json.ToJsonString());

        Assert.That(() => ClipTokenizer.FromHuggingFaceTokenizerJson(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("end_of_word_suffix"));
    }

    [Test]
    public void FromHuggingFaceTokenizerJson_MalformedMerge_ThrowsNamingFile()
    {
        string path = TinyVocabulary.WriteTokenizerJson(_directory, mergesAsPairs: true);
        JsonNode json = JsonNode.Parse(File.ReadAllText(path))!;
        json["model"]!["merges"]!.AsArray().Add(new JsonArray("a", "b", "c"));
        File.WriteAllText(path, json.ToJsonString());

        Assert.That(() => ClipTokenizer.FromHuggingFaceTokenizerJson(path),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains(path).And.Message.Contains("model.merges[14]"));
    }

    [Test]
    public void FromDirectory_OriginalAndHuggingFaceFiles_PrefersOriginalMergesFile()
    {
        TinyVocabulary.WriteTokenizerJson(_directory, mergesAsPairs: false);
        TinyVocabulary.WriteVocabAndMerges(_directory);

        // A shorter merges file: its special ids differ, which shows which file was read.
        WriteText("bpe_simple_vocab_16e6.txt.gz", "#version: 0.2\nh e\n");

        ClipTokenizer tokenizer = ClipTokenizer.FromDirectory(_directory);

        Assert.That(tokenizer.StartOfTextId, Is.EqualTo(513));
    }

    [Test]
    public void FromDirectory_TokenizerJsonAndVocabAndMerges_PrefersTokenizerJson()
    {
        TinyVocabulary.WriteTokenizerJson(_directory, mergesAsPairs: false);

        // Unreadable on purpose: loading succeeds only if vocab.json is never opened.
        WriteText("vocab.json", "not json");
        WriteText("merges.txt", TinyVocabulary.MergesFile);

        ClipTokenizer tokenizer = ClipTokenizer.FromDirectory(_directory);

        Assert.That(tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
    }

    [Test]
    public void FromDirectory_OnlyVocabAndMerges_LoadsThem()
    {
        TinyVocabulary.WriteVocabAndMerges(_directory);

        ClipTokenizer tokenizer = ClipTokenizer.FromDirectory(_directory);

        Assert.That(tokenizer.EncodeContent("hello"), Is.EqualTo(new[] { TinyVocabulary.Hello }));
    }

    [Test]
    public void FromDirectory_NoTokenizerFiles_ThrowsListingExpectedNames()
    {
        WriteText("vocab.json", "{}");

        Assert.That(() => ClipTokenizer.FromDirectory(_directory),
            Throws.TypeOf<FileNotFoundException>()
                .With.Message.Contains(_directory).And.Message.Contains("tokenizer.json").And.Message.Contains("merges.txt"));
    }

    [Test]
    public void FromDirectory_MissingDirectory_ThrowsDirectoryNotFound()
    {
        Assert.That(() => ClipTokenizer.FromDirectory(Path.Combine(_directory, "absent")),
            Throws.TypeOf<DirectoryNotFoundException>());
    }

    private string Subdirectory(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;

    private string WriteText(string name, string content)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }
}
