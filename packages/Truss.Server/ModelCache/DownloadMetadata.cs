using System.Globalization;

namespace Truss.Server.ModelCache;

/// <summary>
/// What huggingface_hub's <c>hf_hub_download(local_dir=...)</c> records next to a downloaded file:
/// <c>&lt;dir&gt;/.cache/huggingface/download/&lt;path&gt;.metadata</c> with three lines (commit hash, etag, Unix
/// timestamp). With it, an intact file is recognised on the next run without hashing gigabytes again, and folders
/// downloaded by either tool are understood by the other. The etag is the SHA-256 for LFS files and the git blob
/// id otherwise.
/// </summary>
internal static class DownloadMetadata
{
    /// <summary>
    /// True when a record exists for <paramref name="repoPath"/> with <paramref name="etag"/>, written after the file's
    /// last modification (so the file was not edited since); false when there is none or it is stale or unreadable.
    /// </summary>
    public static bool Matches(string directory, string repoPath, FileInfo file, string etag, out bool recordExists)
    {
        recordExists = false;
        var path = PathFor(directory, repoPath);
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            recordExists = true;
            var lines = File.ReadAllLines(path);
            if (lines.Length < 3 ||
                !double.TryParse(lines[2].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var timestamp))
            {
                return false;
            }

            // huggingface_hub allows one second of slack because mtimes are not precise on every file system.
            var modified = (file.LastWriteTimeUtc - DateTime.UnixEpoch).TotalSeconds;
            return string.Equals(lines[1].Trim(), etag, StringComparison.Ordinal) && modified - 1 <= timestamp;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Records a verified file; failures are ignored (a read-only folder only costs a re-hash next time).</summary>
    public static void TryWrite(string directory, string repoPath, string? commitSha, string? etag)
    {
        if (etag is null)
        {
            return;
        }

        var path = PathFor(directory, repoPath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var timestamp = (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds.ToString("R", CultureInfo.InvariantCulture);
            File.WriteAllText(path, $"{commitSha ?? ""}\n{etag}\n{timestamp}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Removes the record of a file that is about to be replaced.</summary>
    public static void TryDelete(string directory, string repoPath)
    {
        try
        {
            File.Delete(PathFor(directory, repoPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string PathFor(string directory, string repoPath) =>
        Path.Combine(directory, ".cache", "huggingface", "download", repoPath.Replace('/', Path.DirectorySeparatorChar) + ".metadata");
}
