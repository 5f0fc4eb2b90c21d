using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Truss.Server.ModelCache;

/// <summary>
/// A small Hugging Face Hub client: lists a repository's files at a revision and downloads a selection of them into a
/// folder, the way <c>huggingface_hub.snapshot_download(local_dir=...)</c> does. It knows nothing about what the files
/// are.
/// </summary>
/// <remarks>
/// <para>Listing: <c>GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true</c>. Files: <c>GET
/// {endpoint}/{repo}/resolve/{commit}/{path}</c>, pinned to the commit the listing resolved so that every file comes
/// from the same snapshot. Redirects are followed by hand so that the token goes to the Hub's own host only, never to
/// the storage host that LFS files redirect to (signed URLs reject it).</para>
/// <para>Each file is written to <c>&lt;file&gt;.incomplete</c>, checked against the listed size and, for LFS files,
/// SHA-256, then renamed into place; a file on disk is never half-written. An interrupted transfer, in this run or an
/// earlier one, resumes with <c>Range: bytes=N-</c>. Transient failures (5xx, 429, connection and I/O errors,
/// timeouts) are retried <see cref="HubClientOptions.MaxAttempts"/> times in all with a doubling pause. Files already
/// present and intact are skipped; an intact file is recognised by huggingface_hub's
/// <c>.cache/huggingface/download/*.metadata</c> record, else by its size and SHA-256.</para>
/// <para>Every failure is a <see cref="HubException"/> with a one-line message. Files are downloaded one after the
/// other. Not thread-safe for concurrent downloads into the same folder (the <c>.incomplete</c> file is opened
/// exclusively, so a second writer fails instead of corrupting it).</para>
/// </remarks>
public sealed partial class HuggingFaceHubClient : IDisposable
{
    private const int MaxRedirects = 10;
    private const int BufferSize = 256 * 1024;
    private const long MaxListingBytes = 64L * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly string _endpoint;

    /// <summary>Creates a client; dispose it to close its connections.</summary>
    public HuggingFaceHubClient(HubClientOptions options, ILogger? logger = null)
    {
        if (options.MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "HubClientOptions.MaxAttempts must be at least 1.");
        }

        Options = options;
        _logger = logger ?? NullLogger.Instance;
        _endpoint = options.Endpoint.AbsoluteUri.TrimEnd('/');
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = options.ConnectTimeout,
            // Range offsets count stored bytes, so the body must arrive exactly as stored.
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("truss-clip/1.0");
    }

    /// <summary>The endpoint, token, timeouts and retries in use.</summary>
    public HubClientOptions Options { get; }

    /// <summary>Lists <paramref name="repoId"/>'s files at <paramref name="revision"/> (a branch, tag or commit).</summary>
    /// <exception cref="HubException">Bad id, no access, not found, unreachable, or a malformed answer.</exception>
    public async Task<HubRepository> GetRepositoryAsync(
        string repoId, string revision = "main", CancellationToken cancellationToken = default)
    {
        ValidateRepoId(repoId);
        ValidateRevision(revision);
        var uri = new Uri($"{_endpoint}/api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        return await WithRetriesAsync($"listing {repoId}@{revision}", async () =>
        {
            using var response = await SendAsync(uri, 0, cancellationToken).ConfigureAwait(false);
            ThrowForStatus(response, repoId, revision, path: null);
            if (response.Content.Headers.ContentLength > MaxListingBytes)
            {
                throw new HubException(HubErrorKind.Http, $"{_endpoint}: the file list of {repoId} is larger than {MaxListingBytes} bytes");
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Options.ResponseTimeout);
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
                using var document = await JsonDocument.ParseAsync(body, default, timeout.Token).ConfigureAwait(false);
                return ParseListing(document.RootElement, repoId, revision);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TransientHubException(HubErrorKind.Unreachable,
                    $"cannot reach {_endpoint} (offline?): the file list of {repoId} did not arrive within {Seconds(Options.ResponseTimeout)} s", e);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new TransientHubException(HubErrorKind.Http, $"{_endpoint}: the file list of {repoId} was cut off ({e.Message})", e);
            }
            catch (JsonException e)
            {
                throw new HubException(HubErrorKind.Http, $"{_endpoint} answered the file list of {repoId} with invalid JSON: {e.Message}", e);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists the repository, keeps the files <paramref name="filter"/> selects and downloads them into
    /// <paramref name="targetDirectory"/> (see <see cref="DownloadAsync"/>).
    /// </summary>
    /// <exception cref="HubException">Any failure, or no file matched the filter.</exception>
    public async Task<HubDownloadResult> DownloadSnapshotAsync(
        string repoId,
        string revision,
        HubFileFilter filter,
        string targetDirectory,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var repository = await GetRepositoryAsync(repoId, revision, cancellationToken).ConfigureAwait(false);
        return await DownloadAsync(repository, SelectFiles(repository, filter), targetDirectory, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The files <paramref name="filter"/> keeps; a filter that keeps none is an error, not an empty download.</summary>
    internal static IReadOnlyList<HubFile> SelectFiles(HubRepository repository, HubFileFilter filter)
    {
        var files = repository.Select(filter);
        return files.Count > 0
            ? files
            : throw new HubException(HubErrorKind.NotFound,
                $"no file of {repository.RepoId}@{repository.Revision} matches allow_patterns [{string.Join(", ", filter.AllowPatterns)}] " +
                $"and ignore_patterns [{string.Join(", ", filter.IgnorePatterns)}]");
    }

    /// <summary>
    /// Downloads <paramref name="files"/> of <paramref name="repository"/> into <paramref name="targetDirectory"/>,
    /// each at its repository path (sub-folders are created). Files already present and intact are skipped.
    /// </summary>
    /// <exception cref="HubException">
    /// Any failure; a file that fails verification is deleted and the message names it with the expected and actual
    /// digests. Files completed before the failure stay (a rerun skips them).
    /// </exception>
    public async Task<HubDownloadResult> DownloadAsync(
        HubRepository repository,
        IReadOnlyList<HubFile> files,
        string targetDirectory,
        IProgress<DownloadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        var directory = Path.GetFullPath(targetDirectory);
        var localPaths = new string[files.Count];
        long totalBytes = 0;
        for (var i = 0; i < files.Count; i++)
        {
            localPaths[i] = LocalPath(directory, files[i].Path, repository.RepoId);
            totalBytes += files[i].Size ?? 0;
        }

        var downloaded = new List<string>();
        var skipped = new List<string>();
        var received = new StrongBox<long>();
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            var position = (Number: i + 1, Count: files.Count);
            if (await IsPresentAsync(directory, repository, file, localPaths[i], position, progress, cancellationToken).ConfigureAwait(false))
            {
                skipped.Add(file.Path);
                progress?.Report(new DownloadProgress(file.Path, DownloadStage.Skipped, file.Size ?? 0, file.Size, position.Number, position.Count));
                continue;
            }

            await WithRetriesAsync(
                $"downloading {file.Path}",
                () => TransferAsync(directory, repository, file, localPaths[i], position, progress, received, cancellationToken),
                cancellationToken).ConfigureAwait(false);
            downloaded.Add(file.Path);
        }

        return new HubDownloadResult(directory, downloaded, skipped, received.Value, totalBytes, stopwatch.Elapsed);
    }

    /// <summary>Closes the connections.</summary>
    public void Dispose() => _http.Dispose();

    /// <summary>Checks a repository id the way huggingface_hub's <c>validate_repo_id</c> does.</summary>
    /// <exception cref="HubException">The id is malformed.</exception>
    public static void ValidateRepoId(string repoId)
    {
        if (repoId.Length is 0 or > 96 || !RepoIdPattern().IsMatch(repoId) ||
            repoId.Contains("--", StringComparison.Ordinal) || repoId.Contains("..", StringComparison.Ordinal))
        {
            throw new HubException(HubErrorKind.InvalidArgument,
                $"'{repoId}' is not a Hugging Face repository id (expected 'owner/name', e.g. 'Xenova/clip-vit-base-patch32')");
        }
    }

    private static void ValidateRevision(string revision)
    {
        foreach (var c in revision)
        {
            if (char.IsControl(c))
            {
                throw new HubException(HubErrorKind.InvalidArgument, "the revision contains control characters");
            }
        }

        if (revision.Length is 0 or > 256)
        {
            throw new HubException(HubErrorKind.InvalidArgument, $"'{revision}' is not a revision (a branch, tag or commit)");
        }
    }

    [GeneratedRegex("^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)?[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
    private static partial Regex RepoIdPattern();

    private HubRepository ParseListing(JsonElement root, string repoId, string revision)
    {
        if (root.ValueKind != JsonValueKind.Object ||
            !root.TryGetProperty("siblings", out var siblings) || siblings.ValueKind != JsonValueKind.Array)
        {
            throw new HubException(HubErrorKind.Http, $"{_endpoint} answered the file list of {repoId} without a 'siblings' array");
        }

        var commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null;
        var files = new List<HubFile>(siblings.GetArrayLength());
        foreach (var sibling in siblings.EnumerateArray())
        {
            if (sibling.ValueKind != JsonValueKind.Object ||
                !sibling.TryGetProperty("rfilename", out var name) || name.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            long? size = Int64(sibling, "size");
            string? sha256 = null;
            if (sibling.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
            {
                size = Int64(lfs, "size") ?? size;
                sha256 = lfs.TryGetProperty("sha256", out var digest) && digest.ValueKind == JsonValueKind.String
                    ? digest.GetString()!.ToLowerInvariant()
                    : null;
            }

            var blobId = sibling.TryGetProperty("blobId", out var blob) && blob.ValueKind == JsonValueKind.String ? blob.GetString() : null;
            files.Add(new HubFile(name.GetString()!, size, sha256, blobId));
        }

        return new HubRepository(repoId, revision, commit, files);
    }

    private static long? Int64(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 0
            ? number
            : null;

    private async Task<bool> IsPresentAsync(
        string directory,
        HubRepository repository,
        HubFile file,
        string localPath,
        (int Number, int Count) position,
        IProgress<DownloadProgress>? progress,
        CancellationToken cancellationToken)
    {
        var info = new FileInfo(localPath);
        if (!info.Exists || (file.Size is { } size && info.Length != size))
        {
            return false;
        }

        if (file.Etag is { } etag)
        {
            if (DownloadMetadata.Matches(directory, file.Path, info, etag, out var recordExists))
            {
                return true;
            }

            // A record with another etag means the file changed on the Hub since it was downloaded.
            if (recordExists && file.Sha256 is null)
            {
                return false;
            }
        }

        if (file.Sha256 is null)
        {
            // Same size and nothing cheaper to compare: keep it, as huggingface_hub does for plain git files.
            DownloadMetadata.TryWrite(directory, file.Path, repository.CommitSha, file.Etag);
            return true;
        }

        progress?.Report(new DownloadProgress(file.Path, DownloadStage.Verifying, info.Length, file.Size, position.Number, position.Count));
        string actual;
        try
        {
            await using var stream = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HubException(HubErrorKind.LocalIo, $"cannot read {localPath}: {e.Message}", e);
        }

        if (actual == file.Sha256)
        {
            DownloadMetadata.TryWrite(directory, file.Path, repository.CommitSha, file.Etag);
            return true;
        }

        _logger.LogInformation("{Path} on disk does not match the Hub's SHA-256; downloading it again", file.Path);
        return false;
    }

    /// <summary>One attempt at one file; adds the bytes it receives to <paramref name="received"/>, failed attempts included.</summary>
    private async Task<bool> TransferAsync(
        string directory,
        HubRepository repository,
        HubFile file,
        string localPath,
        (int Number, int Count) position,
        IProgress<DownloadProgress>? progress,
        StrongBox<long> received,
        CancellationToken cancellationToken)
    {
        var partialPath = localPath + ".incomplete";
        var uri = new Uri($"{_endpoint}/{repository.RepoId}/resolve/{Uri.EscapeDataString(repository.CommitSha ?? repository.Revision)}/{EscapePath(file.Path)}");
        FileStream stream;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(localPath)!);
            stream = new FileStream(partialPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HubException(HubErrorKind.LocalIo, $"cannot write {partialPath}: {e.Message}", e);
        }

        long length;
        long resumedFrom;
        string? actualSha256;
        try
        {
            await using (stream.ConfigureAwait(false))
            {
                (length, resumedFrom, actualSha256) =
                    await WriteBodyAsync(stream, uri, repository, file, partialPath, position, progress, received, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Integrity)
        {
            TryDelete(partialPath);
            throw;
        }

        if (file.Sha256 is not null && actualSha256 != file.Sha256)
        {
            TryDelete(partialPath);
            if (resumedFrom > 0)
            {
                // The kept bytes may belong to another version of the file: the next attempt starts from zero.
                throw new TransientHubException(HubErrorKind.Integrity,
                    $"{file.Path}: checksum mismatch after resuming at byte {resumedFrom} (expected sha256 {file.Sha256}, got {actualSha256}); the partial file was deleted");
            }

            throw new HubException(HubErrorKind.Integrity,
                $"{file.Path}: checksum mismatch, expected sha256 {file.Sha256}, got {actualSha256}; the file was deleted (run again, or check {_endpoint})");
        }

        try
        {
            DownloadMetadata.TryDelete(directory, file.Path);
            File.Move(partialPath, localPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HubException(HubErrorKind.LocalIo, $"cannot move {partialPath} into place: {e.Message}", e);
        }

        DownloadMetadata.TryWrite(directory, file.Path, repository.CommitSha, file.Etag);
        progress?.Report(new DownloadProgress(file.Path, DownloadStage.Completed, length, file.Size, position.Number, position.Count));
        return true;
    }

    /// <summary>Fills the open <c>.incomplete</c> file, resuming from its length; returns its final length, the resume offset and the content's SHA-256.</summary>
    private async Task<(long Length, long ResumedFrom, string? Sha256)> WriteBodyAsync(
        FileStream stream,
        Uri uri,
        HubRepository repository,
        HubFile file,
        string partialPath,
        (int Number, int Count) position,
        IProgress<DownloadProgress>? progress,
        StrongBox<long> received,
        CancellationToken cancellationToken)
    {
        var existing = stream.Length;
        if (file.Size is { } listedSize && existing > listedSize)
        {
            existing = Truncate(stream, partialPath);
        }

        var hash = file.Sha256 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            if (hash is not null && existing > 0)
            {
                progress?.Report(new DownloadProgress(file.Path, DownloadStage.Verifying, existing, file.Size, position.Number, position.Count));
                await HashPrefixAsync(stream, hash, existing, buffer, partialPath, cancellationToken).ConfigureAwait(false);
            }

            var resumedFrom = existing;
            if (file.Size is not { } size || existing < size)
            {
                progress?.Report(new DownloadProgress(file.Path, DownloadStage.Starting, existing, file.Size, position.Number, position.Count));
                using var response = await SendAsync(uri, existing, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    Truncate(stream, partialPath);
                    throw new TransientHubException(HubErrorKind.Http, $"{file.Path}: the server refused to resume at byte {existing}; starting over");
                }

                ThrowForStatus(response, repository.RepoId, repository.Revision, file.Path);
                if (response.StatusCode == HttpStatusCode.PartialContent)
                {
                    if (existing == 0 || response.Content.Headers.ContentRange?.From != existing)
                    {
                        Truncate(stream, partialPath);
                        throw new TransientHubException(HubErrorKind.Http, $"{file.Path}: the server answered another byte range than asked; starting over");
                    }
                }
                else if (existing > 0)
                {
                    // 200 to a Range request: the server sends the whole file, so the kept bytes go.
                    _logger.LogInformation("{Path}: the server does not resume transfers; downloading from the start", file.Path);
                    existing = resumedFrom = Truncate(stream, partialPath);
                    hash?.Dispose();
                    hash = file.Sha256 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                }

                stream.Position = existing;
                await CopyBodyAsync(response, stream, hash, buffer, file, existing, partialPath, position, progress, received, cancellationToken).ConfigureAwait(false);
            }

            var length = stream.Length;
            if (file.Size is { } expected && length != expected)
            {
                if (length < expected)
                {
                    throw new TransientHubException(HubErrorKind.Http, $"{file.Path}: the transfer ended after {length} of {expected} bytes");
                }

                throw new HubException(HubErrorKind.Integrity, $"{file.Path}: size mismatch, expected {expected} bytes, got {length}; the file was deleted");
            }

            try
            {
                stream.Flush(flushToDisk: true);
            }
            catch (IOException e)
            {
                throw new HubException(HubErrorKind.LocalIo, $"cannot write {partialPath}: {e.Message}", e);
            }

            return (length, resumedFrom, hash is null ? null : Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        finally
        {
            hash?.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task CopyBodyAsync(
        HttpResponseMessage response,
        FileStream stream,
        IncrementalHash? hash,
        byte[] buffer,
        HubFile file,
        long existing,
        string partialPath,
        (int Number, int Count) position,
        IProgress<DownloadProgress>? progress,
        StrongBox<long> received,
        CancellationToken cancellationToken)
    {
        var done = existing;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                stall.CancelAfter(Options.ReadTimeout);
                var read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                if (file.Size is { } size && done + read > size)
                {
                    throw new HubException(HubErrorKind.Integrity, $"{file.Path}: size mismatch, the server sent more than the listed {size} bytes; the file was deleted");
                }

                try
                {
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    throw new HubException(HubErrorKind.LocalIo, $"cannot write {partialPath}: {e.Message}", e);
                }

                hash?.AppendData(buffer, 0, read);
                done += read;
                received.Value += read;
                progress?.Report(new DownloadProgress(file.Path, DownloadStage.Transferring, done, file.Size, position.Number, position.Count));
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransientHubException(HubErrorKind.Unreachable,
                $"{file.Path}: no data for {Seconds(Options.ReadTimeout)} s after {done} bytes", e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            throw new TransientHubException(HubErrorKind.Http, $"{file.Path}: the connection broke after {done} bytes ({e.Message})", e);
        }
    }

    private static async Task HashPrefixAsync(
        FileStream stream, IncrementalHash hash, long length, byte[] buffer, string partialPath, CancellationToken cancellationToken)
    {
        try
        {
            stream.Position = 0;
            var remaining = length;
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, read);
                remaining -= read;
            }
        }
        catch (IOException e)
        {
            throw new HubException(HubErrorKind.LocalIo, $"cannot read {partialPath}: {e.Message}", e);
        }
    }

    private static long Truncate(FileStream stream, string partialPath)
    {
        try
        {
            stream.SetLength(0);
            stream.Position = 0;
            return 0;
        }
        catch (IOException e)
        {
            throw new HubException(HubErrorKind.LocalIo, $"cannot write {partialPath}: {e.Message}", e);
        }
    }

    /// <summary>Sends a GET, following redirects by hand; answers the first non-redirect response (any status).</summary>
    private async Task<HttpResponseMessage> SendAsync(Uri uri, long rangeStart, CancellationToken cancellationToken)
    {
        var current = uri;
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            if (Options.Token is { } token && IsHubHost(current))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (rangeStart > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            }

            HttpResponseMessage response;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(Options.ResponseTimeout);
                try
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TransientHubException(HubErrorKind.Unreachable,
                        $"cannot reach {_endpoint} (offline?): no answer from {current.Authority} within {Seconds(Options.ResponseTimeout)} s", e);
                }
                catch (HttpRequestException e)
                {
                    throw new TransientHubException(HubErrorKind.Unreachable, $"cannot reach {_endpoint} (offline?): {e.Message}", e);
                }
            }

            if ((int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is { } location)
            {
                response.Dispose();
                var next = location.IsAbsoluteUri ? location : new Uri(current, location);
                if (hop >= MaxRedirects)
                {
                    throw new HubException(HubErrorKind.Http, $"{_endpoint}: more than {MaxRedirects} redirects for {uri.AbsolutePath}");
                }

                if (current.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                {
                    throw new HubException(HubErrorKind.Http, $"{_endpoint}: refusing a redirect from https to {next.Scheme} ({next.Authority})");
                }

                current = next;
                continue;
            }

            return response;
        }
    }

    private bool IsHubHost(Uri uri) =>
        string.Equals(uri.Scheme, Options.Endpoint.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(uri.Authority, Options.Endpoint.Authority, StringComparison.OrdinalIgnoreCase);

    /// <summary>Turns an error status into the user's one-line message; 5xx, 408 and 429 are retried.</summary>
    private void ThrowForStatus(HttpResponseMessage response, string repoId, string revision, string? path)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300)
        {
            return;
        }

        var errorCode = response.Headers.TryGetValues("X-Error-Code", out var codes) ? codes.FirstOrDefault() : null;
        switch (status)
        {
            case 401 or 403 when errorCode == "RepoNotFound":
                throw new HubException(HubErrorKind.NotFound,
                    $"{repoId}: repository not found at {_endpoint}, or it is private: set {HubClientOptions.TokenVariable} to a token that can read it (HTTP {status})");
            case 401 or 403:
                throw new HubException(HubErrorKind.Unauthorized, Options.Token is null
                    ? $"{repoId} is gated or private: set {HubClientOptions.TokenVariable} to a token that can read it (and accept the model's terms at {_endpoint}/{repoId}) (HTTP {status})"
                    : $"{repoId} is gated or private and the token was refused: set {HubClientOptions.TokenVariable} to a token that can read it (and accept the model's terms at {_endpoint}/{repoId}) (HTTP {status})");
            case 404 when errorCode == "RevisionNotFound":
                throw new HubException(HubErrorKind.NotFound, $"{repoId}: revision '{revision}' not found (HTTP 404)");
            case 404 when errorCode == "EntryNotFound" && path is not null:
                throw new HubException(HubErrorKind.NotFound, $"{repoId}@{revision}: file {path} not found (HTTP 404)");
            case 404:
                throw new HubException(HubErrorKind.NotFound, $"{repoId}@{revision}: repository or revision not found at {_endpoint} (HTTP 404)");
            case 408 or 429 or >= 500:
                throw new TransientHubException(HubErrorKind.Http,
                    $"{_endpoint} answered HTTP {status} {response.ReasonPhrase} for {path ?? "the file list of " + repoId}");
            default:
                throw new HubException(HubErrorKind.Http,
                    $"{_endpoint} answered HTTP {status} {response.ReasonPhrase} for {path ?? "the file list of " + repoId}");
        }
    }

    private async Task<T> WithRetriesAsync<T>(string what, Func<Task<T>> attempt, CancellationToken cancellationToken)
    {
        var delay = Options.RetryDelay;
        for (var number = 1; ; number++)
        {
            try
            {
                return await attempt().ConfigureAwait(false);
            }
            catch (TransientHubException e) when (number < Options.MaxAttempts)
            {
                _logger.LogWarning("{What} failed ({Reason}); retrying in {DelayMs} ms (attempt {Attempt} of {MaxAttempts})",
                    what, e.Message, (long)delay.TotalMilliseconds, number + 1, Options.MaxAttempts);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
            catch (TransientHubException e)
            {
                throw new HubException(e.Kind, e.Message, e.InnerException);
            }
        }
    }

    /// <summary>The local path of a repository file; refuses names that would escape the folder.</summary>
    private static string LocalPath(string directory, string repoPath, string repoId)
    {
        var safe = repoPath.Length > 0 && !repoPath.StartsWith('/') && !repoPath.Contains('\\') && !repoPath.Contains('\0');
        if (safe)
        {
            foreach (var segment in repoPath.Split('/'))
            {
                if (segment is "" or "." or "..")
                {
                    safe = false;
                    break;
                }
            }
        }

        if (!safe)
        {
            throw new HubException(HubErrorKind.InvalidArgument, $"{repoId} lists an unsafe file name '{repoPath}'; refusing to write it");
        }

        return Path.Combine(directory, repoPath.Replace('/', Path.DirectorySeparatorChar));
    }

    private static string EscapePath(string repoPath)
    {
        var segments = repoPath.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            segments[i] = Uri.EscapeDataString(segments[i]);
        }

        return string.Join('/', segments);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A failure worth another attempt; becomes a <see cref="HubException"/> of <see cref="Kind"/> when attempts run out.</summary>
    private sealed class TransientHubException(HubErrorKind kind, string message, Exception? innerException = null)
        : Exception(message, innerException)
    {
        public HubErrorKind Kind { get; } = kind;
    }
}
