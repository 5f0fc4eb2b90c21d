namespace Truss.Clip.Tests.Support;

/// <summary>Finds the repository root and the read-only reference folder (<c>../shared</c>) beside it.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The folder holding Truss.Clip.csproj.</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary><c>../shared</c> next to the repository, or null on a fresh clone that lacks it.</summary>
    public static string? SharedDirectory
    {
        get
        {
            var shared = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"));
            return Directory.Exists(shared) ? shared : null;
        }
    }

    /// <summary>A path under <c>../shared</c>; calls <c>Assert.Ignore</c> with the reason when it is absent.</summary>
    public static string RequireShared(string relativePath)
    {
        var shared = SharedDirectory;
        if (shared is null)
        {
            Assert.Ignore($"Reference data ../shared is not present next to {RepositoryRoot} (it exists in CI, not in a fresh clone).");
        }

        var path = Path.Combine(shared!, relativePath);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            Assert.Ignore($"Reference file {path} is missing.");
        }

        return path;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Truss.Clip.csproj")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Truss.Clip.csproj not found above the test directory; run the tests from the repository.");
    }
}
