namespace Clip.Tokenization;

public sealed partial class ClipTokenizer
{
    /// <summary>The openai/CLIP merges file name, as shipped in the clip package and open_clip.</summary>
    public const string OriginalMergesFileName = "bpe_simple_vocab_16e6.txt.gz";

    /// <summary>
    /// Loads openai/CLIP's <c>bpe_simple_vocab_16e6.txt</c>, plain or gzipped (detected from the content, not the
    /// extension). The vocabulary is built as the original builds it: at most 48,894 merges after the header line
    /// (a shorter file uses all of its merges), giving 49,408 ids with start 49406 and end 49407 for the real file.
    /// </summary>
    /// <param name="path">The merges file.</param>
    /// <param name="options">Tokenizer settings; <see cref="ClipTokenizerOptions.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a merges file; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException">Text fixes are on in globalization-invariant mode.</exception>
    public static ClipTokenizer FromBpeMergesFile(string path, ClipTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ClipTokenizer(BpeVocabularyReader.ReadOriginalMerges(path), options);
    }

    /// <summary>
    /// Loads the Hugging Face slow-tokenizer files: ids from <c>vocab.json</c>, merge ranks from the line order of
    /// <c>merges.txt</c> (its first line may be a <c>#version</c> header; every merge is used).
    /// </summary>
    /// <param name="vocabJsonPath">The <c>vocab.json</c> file: an object of token → id.</param>
    /// <param name="mergesTxtPath">The <c>merges.txt</c> file.</param>
    /// <param name="options">Tokenizer settings; <see cref="ClipTokenizerOptions.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or the two do not match; the message names them.</exception>
    /// <exception cref="PlatformNotSupportedException">Text fixes are on in globalization-invariant mode.</exception>
    public static ClipTokenizer FromVocabAndMerges(string vocabJsonPath, string mergesTxtPath,
        ClipTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesTxtPath);
        return new ClipTokenizer(BpeVocabularyReader.ReadVocabAndMerges(vocabJsonPath, mergesTxtPath), options);
    }

    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c>: <c>model.vocab</c>, <c>model.merges</c> (strings or pairs) and the
    /// start/end ids from <c>added_tokens</c>. Only the vocabulary is read; the text pipeline is always openai/CLIP's,
    /// which unlike the file's normalizer also runs the ftfy fixes and html.unescape.
    /// </summary>
    /// <param name="path">The <c>tokenizer.json</c> file.</param>
    /// <param name="options">Tokenizer settings; <see cref="ClipTokenizerOptions.Default"/> when null.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a CLIP BPE tokenizer.json; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException">Text fixes are on in globalization-invariant mode.</exception>
    public static ClipTokenizer FromHuggingFaceTokenizerJson(string path, ClipTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ClipTokenizer(BpeVocabularyReader.ReadTokenizerJson(path), options);
    }

    /// <summary>
    /// Loads the tokenizer files of a model directory, taking the first that exists of:
    /// <c>bpe_simple_vocab_16e6.txt.gz</c>, <c>bpe_simple_vocab_16e6.txt</c>, <c>bpe_simple_vocab.txt(.gz)</c> (the
    /// same format under a neutral name, as our own small models ship it), <c>tokenizer.json</c>, and
    /// <c>vocab.json</c> with <c>merges.txt</c>. The original merges file comes first because it is the file the
    /// reference ids were produced from and carries no ids that could disagree; Hugging Face directories hold the other
    /// files, which describe the same vocabulary.
    /// </summary>
    /// <param name="directory">The model directory.</param>
    /// <param name="options">Tokenizer settings; <see cref="ClipTokenizerOptions.Default"/> when null.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">None of the files exists.</exception>
    /// <exception cref="InvalidDataException">The chosen file is malformed; the message names it.</exception>
    /// <exception cref="PlatformNotSupportedException">Text fixes are on in globalization-invariant mode.</exception>
    public static ClipTokenizer FromDirectory(string directory, ClipTokenizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The tokenizer directory '{directory}' does not exist.");
        }

        foreach (string name in (ReadOnlySpan<string>)[OriginalMergesFileName, "bpe_simple_vocab_16e6.txt", "bpe_simple_vocab.txt.gz", "bpe_simple_vocab.txt"])
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return FromBpeMergesFile(path, options);
            }
        }

        string tokenizerJson = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(tokenizerJson))
        {
            return FromHuggingFaceTokenizerJson(tokenizerJson, options);
        }

        string vocabJson = Path.Combine(directory, "vocab.json");
        string mergesTxt = Path.Combine(directory, "merges.txt");
        if (File.Exists(vocabJson) && File.Exists(mergesTxt))
        {
            return FromVocabAndMerges(vocabJson, mergesTxt, options);
        }

        throw new FileNotFoundException(
            $"No CLIP tokenizer files in '{directory}': expected {OriginalMergesFileName}, bpe_simple_vocab_16e6.txt, bpe_simple_vocab.txt, " +
            "tokenizer.json, or vocab.json together with merges.txt.");
    }
}
