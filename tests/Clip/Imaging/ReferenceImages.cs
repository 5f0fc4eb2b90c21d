namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>
/// Locates the read-only reference material in <c>&lt;repo root&gt;/../shared</c> (test images and the Python reference
/// tensors). The repository root is the first directory above the test output folder that holds
/// <c>Truss.Clip.csproj</c>. Tests that need the material call <see cref="RequireSharedDirectory"/>, which ignores
/// the test with a reason when it is absent (e.g. on a machine that has only the repository).
/// </summary>
internal static class ReferenceImages
{
    private static readonly Lazy<string?> SharedDirectory = new(FindSharedDirectory);

    /// <summary>Names (no extension) of the reference tensors; used when the directory cannot be listed.</summary>
    private static readonly string[] KnownNames =
        ["camera", "chelsea", "coffee", "narrow_120x300", "palette_color", "rocket", "scene_1920x1080"];

    /// <summary>The shared directory, or null when it does not exist.</summary>
    public static string? TryGetSharedDirectory() => SharedDirectory.Value;

    /// <summary>The shared directory; calls <see cref="Assert.Ignore(string)"/> when it is absent.</summary>
    public static string RequireSharedDirectory()
    {
        string? shared = SharedDirectory.Value;
        if (shared is null)
        {
            Assert.Ignore("Reference material not found: this test needs ../shared next to the repository root (the "
                + "directory holding Truss.Clip.csproj), with test-images/ and clip-reference/ from the Python reference.");
        }

        return shared!;
    }

    /// <summary>Path of a file under <c>../shared/test-images</c>; ignores the test when it is absent.</summary>
    public static string RequireTestImage(string fileName)
    {
        string path = Path.Combine(RequireSharedDirectory(), "test-images", fileName);
        if (!File.Exists(path))
        {
            Assert.Ignore($"Reference image {path} is missing.");
        }

        return path;
    }

    /// <summary>
    /// The reference tensor names (<c>preprocess/*.npy</c> without extension), listed from the directory when present
    /// so new references are picked up; otherwise the known names, which will then be ignored with a reason.
    /// </summary>
    public static IEnumerable<string> PreprocessReferenceNames()
    {
        string? shared = SharedDirectory.Value;
        string directory = shared is null ? string.Empty : Path.Combine(shared, "clip-reference", "preprocess");
        if (!Directory.Exists(directory))
        {
            return KnownNames;
        }

        var names = new List<string>();
        foreach (string file in Directory.EnumerateFiles(directory, "*.npy"))
        {
            names.Add(Path.GetFileNameWithoutExtension(file));
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    private static string? FindSharedDirectory()
    {
        string start = TestContext.CurrentContext.TestDirectory;
        if (string.IsNullOrEmpty(start))
        {
            start = AppContext.BaseDirectory;
        }

        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Truss.Clip.csproj")))
            {
                string shared = Path.GetFullPath(Path.Combine(directory.FullName, "..", "shared"));
                return Directory.Exists(shared) ? shared : null;
            }
        }

        return null;
    }
}
