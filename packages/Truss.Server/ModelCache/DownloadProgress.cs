namespace Truss.Server.ModelCache;

/// <summary>Where one file's download stands.</summary>
public enum DownloadStage
{
    /// <summary>The transfer is about to start (<see cref="DownloadProgress.BytesDone"/> is what a resume keeps).</summary>
    Starting,

    /// <summary>Bytes are arriving.</summary>
    Transferring,

    /// <summary>A file already on disk is being hashed to decide whether it can be kept.</summary>
    Verifying,

    /// <summary>The file was downloaded and verified.</summary>
    Completed,

    /// <summary>The file was already present and intact; nothing was downloaded.</summary>
    Skipped,
}

/// <summary>
/// One progress report of <see cref="HuggingFaceHubClient.DownloadAsync"/>: the file (its repository path), the
/// bytes written so far out of <see cref="TotalBytes"/> (null when the Hub does not list a size), and the file's
/// position among the files of the download.
/// </summary>
/// <param name="Path">The file's path in the repository, with '/' separators.</param>
/// <param name="Stage">What is happening to the file.</param>
/// <param name="BytesDone">Bytes of the file on disk, including those kept from an interrupted transfer.</param>
/// <param name="TotalBytes">The file's size as listed, or null.</param>
/// <param name="FileNumber">1-based index of the file in this download.</param>
/// <param name="FileCount">Files in this download.</param>
public readonly record struct DownloadProgress(
    string Path, DownloadStage Stage, long BytesDone, long? TotalBytes, int FileNumber, int FileCount);
