namespace Truss.Clip.Tests.Clip.Tokenization;

/// <summary>
/// Locates the read-only reference material (<c>shared/</c>: the real CLIP vocabulary and golden ids from
/// openai/CLIP), which lives next to the repository, not in it.
/// </summary>
internal static class ReferenceData
{
    private static readonly Lazy<string?> Shared = new(FindSharedDirectory);

    /// <summary>
    /// The <c>shared</c> directory beside the repository root (the directory holding Truss.Clip.csproj), or null when
    /// it is absent or lacks <c>clip-vocab</c>.
    /// </summary>
    public static string? SharedDirectory => Shared.Value;

    /// <summary>The real merges file, <c>shared/clip-vocab/bpe_simple_vocab_16e6.txt.gz</c>.</summary>
    public static string VocabularyPath => Path.Combine(RequireSharedDirectory(), "clip-vocab", "bpe_simple_vocab_16e6.txt.gz");

    /// <summary>The golden tokenizations, <c>shared/clip-reference/tokenizer_reference.json</c>.</summary>
    public static string TokenizerReferencePath =>
        Path.Combine(RequireSharedDirectory(), "clip-reference", "tokenizer_reference.json");

    /// <summary>Returns <see cref="SharedDirectory"/>, or ends the test as ignored with the reason when it is absent.</summary>
    public static string RequireSharedDirectory()
    {
        if (SharedDirectory is null)
        {
            Assert.Ignore("Reference data not found: these tests need the 'shared' directory (clip-vocab, clip-reference) " +
                "beside the repository root, i.e. <repo>/../shared. It is not part of the repository.");
        }

        return SharedDirectory!;
    }

    private static string? FindSharedDirectory()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null;
             directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Truss.Clip.csproj")))
            {
                string shared = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared"));
                return Directory.Exists(Path.Combine(shared, "clip-vocab")) ? shared : null;
            }
        }

        return null;
    }
}
