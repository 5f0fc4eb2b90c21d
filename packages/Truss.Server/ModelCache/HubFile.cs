namespace Truss.Server.ModelCache;

/// <summary>One file of a Hub repository, as the model-info API lists it (<c>siblings[]</c> with <c>blobs=true</c>).</summary>
/// <param name="Path">The file's path in the repository (<c>rfilename</c>), with '/' separators.</param>
/// <param name="Size">Size in bytes (<c>size</c>, or <c>lfs.size</c>), null when not listed.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the content (<c>lfs.sha256</c>); only LFS files have one.</param>
/// <param name="BlobId">The git blob id (<c>blobId</c>), used as the file's version tag when it has no SHA-256.</param>
public sealed record HubFile(string Path, long? Size, string? Sha256, string? BlobId)
{
    /// <summary>What identifies this version of the file: its SHA-256 when known, else its git blob id.</summary>
    public string? Etag => Sha256 ?? BlobId;
}

/// <summary>A repository at one revision: its resolved commit and its files.</summary>
/// <param name="RepoId">The repository id, e.g. <c>Xenova/clip-vit-base-patch32</c>.</param>
/// <param name="Revision">The revision asked for (branch, tag or commit).</param>
/// <param name="CommitSha">The commit the revision resolved to (<c>sha</c>), when the Hub said.</param>
/// <param name="Files">Every file at that commit.</param>
public sealed record HubRepository(string RepoId, string Revision, string? CommitSha, IReadOnlyList<HubFile> Files)
{
    /// <summary>The files that <paramref name="filter"/> keeps, in listing order.</summary>
    public IReadOnlyList<HubFile> Select(HubFileFilter filter)
    {
        var selected = new List<HubFile>();
        foreach (var file in Files)
        {
            if (filter.Includes(file.Path))
            {
                selected.Add(file);
            }
        }

        return selected;
    }

    /// <summary>The file at <paramref name="path"/>, or null.</summary>
    public HubFile? Find(string path)
    {
        foreach (var file in Files)
        {
            if (string.Equals(file.Path, path, StringComparison.Ordinal))
            {
                return file;
            }
        }

        return null;
    }
}

/// <summary>The outcome of a download.</summary>
/// <param name="Directory">The absolute target folder.</param>
/// <param name="Downloaded">Repository paths transferred (fully or by resuming).</param>
/// <param name="Skipped">Repository paths that were already present and intact.</param>
/// <param name="BytesDownloaded">Bytes received over the network.</param>
/// <param name="TotalBytes">Total size of every selected file.</param>
/// <param name="Elapsed">Wall time of the whole download.</param>
public sealed record HubDownloadResult(
    string Directory,
    IReadOnlyList<string> Downloaded,
    IReadOnlyList<string> Skipped,
    long BytesDownloaded,
    long TotalBytes,
    TimeSpan Elapsed);
