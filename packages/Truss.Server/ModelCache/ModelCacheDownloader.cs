using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Truss.Server.ModelCache;

/// <summary>
/// Brings config.yaml's <c>model_cache</c> entries onto disk before the model is constructed, as Truss does at
/// startup: the server runs <see cref="Run"/> on the background load thread, so liveness answers and readiness stays
/// 503 meanwhile, and a failure is a load failure (logged; the process exits with code 1).
/// </summary>
/// <remarks>
/// Files already present and intact are not downloaded again, so a restart costs one listing request per entry. The
/// Hub is <c>HF_ENDPOINT</c> (default <c>https://huggingface.co</c>); the token is the Truss secret named by the
/// entry's <c>runtime_secret_name</c> (default <c>hf_access_token</c>, which must be declared under <c>secrets</c>),
/// else <c>HF_TOKEN</c>. Start and end of each entry are logged with sizes and durations, and long transfers report
/// progress every 15 s.
/// <para>After a complete download the folder records what it holds (<c>.cache/truss/model_cache.json</c>). When the
/// Hub cannot be reached later (or <c>HF_HUB_OFFLINE=1</c>), an entry whose record matches its repository, revision
/// and patterns, with every file still present at its size, is used as it is, with a warning: a restart does not
/// depend on the Hub being up.</para>
/// </remarks>
public sealed class ModelCacheDownloader
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(15);
    private static readonly JsonSerializerOptions ManifestJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    private readonly ModelCacheSettings _settings;
    private readonly TrussSecrets _secrets;
    private readonly Func<string, string?> _environment;
    private readonly ILogger _logger;

    /// <summary>Creates the downloader; nothing happens until <see cref="Run"/>.</summary>
    public ModelCacheDownloader(ModelCacheSettings settings, TrussSecrets secrets, Func<string, string?> environment, ILogger logger)
    {
        _settings = settings;
        _secrets = secrets;
        _environment = environment;
        _logger = logger;
    }

    /// <summary>Adjusts the Hub client's options (timeouts, retries) after they are read from the environment.</summary>
    public Func<HubClientOptions, HubClientOptions>? ConfigureClient { get; init; }

    /// <summary>Downloads every entry's missing files, blocking the calling (background) thread.</summary>
    /// <exception cref="HubException">A download failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the server is stopping).</exception>
    public void Run(CancellationToken cancellationToken) => RunAsync(cancellationToken).GetAwaiter().GetResult();

    /// <summary>Downloads every entry's missing files.</summary>
    /// <exception cref="HubException">A download failed.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_settings.Entries.Count == 0)
        {
            return;
        }

        var baseOptions = HubClientOptions.FromEnvironment(_environment);
        var offline = _environment("HF_HUB_OFFLINE")?.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on";
        foreach (var entry in _settings.Entries)
        {
            if (offline)
            {
                if (!TryUseEarlierDownload(entry, "HF_HUB_OFFLINE is set"))
                {
                    throw new HubException(HubErrorKind.Unreachable,
                        $"HF_HUB_OFFLINE is set and {entry.Directory} holds no complete download of {entry.RepoId}@{entry.Revision}");
                }

                continue;
            }

            var options = _secrets.TryGet(entry.RuntimeSecretName, out var secret) && secret.Trim() is { Length: > 0 } token
                ? baseOptions with { Token = token }
                : baseOptions;
            options = ConfigureClient?.Invoke(options) ?? options;

            _logger.LogInformation("model_cache: fetching {RepoId}@{Revision} from {Endpoint} into {Directory}",
                entry.RepoId, entry.Revision, options.Endpoint.AbsoluteUri.TrimEnd('/'), entry.Directory);
            var stopwatch = Stopwatch.StartNew();
            using var client = new HuggingFaceHubClient(options, _logger);
            HubRepository repository;
            try
            {
                repository = await client.GetRepositoryAsync(entry.RepoId, entry.Revision, cancellationToken).ConfigureAwait(false);
            }
            catch (HubException e) when (e.Kind is HubErrorKind.Unreachable or HubErrorKind.Http)
            {
                // The Hub being down need not stop a restart whose files are all here. Only a failed listing falls
                // back: once files start being replaced, the folder may mix two commits.
                if (TryUseEarlierDownload(entry, e.Message))
                {
                    continue;
                }

                LogFailure(entry, stopwatch, e);
                throw;
            }
            catch (HubException e)
            {
                LogFailure(entry, stopwatch, e);
                throw;
            }

            HubDownloadResult result;
            try
            {
                result = await client.DownloadAsync(
                    repository, HuggingFaceHubClient.SelectFiles(repository, entry.Filter), entry.Directory, new LogProgress(_logger),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (HubException e)
            {
                LogFailure(entry, stopwatch, e);
                throw;
            }

            _logger.LogInformation(
                "model_cache: {RepoId}@{Revision} is ready in {Directory}: {DownloadedFiles} files downloaded ({BytesDownloaded} bytes), " +
                "{SkippedFiles} already present, {TotalBytes} bytes in all, in {ElapsedMs} ms",
                entry.RepoId, entry.Revision, result.Directory, result.Downloaded.Count, result.BytesDownloaded,
                result.Skipped.Count, result.TotalBytes, (long)result.Elapsed.TotalMilliseconds);
            WriteManifest(entry, result);
        }
    }

    private void LogFailure(ModelCacheEntry entry, Stopwatch stopwatch, HubException e) =>
        _logger.LogError("model_cache: fetching {RepoId}@{Revision} failed after {ElapsedMs} ms: {Reason}",
            entry.RepoId, entry.Revision, (long)stopwatch.Elapsed.TotalMilliseconds, e.Message);

    private static string ManifestPath(ModelCacheEntry entry) => Path.Combine(entry.Directory, ".cache", "truss", "model_cache.json");

    /// <summary>Records a complete download; a failure only costs the offline fallback.</summary>
    private void WriteManifest(ModelCacheEntry entry, HubDownloadResult result)
    {
        var files = new List<ManifestFile>(result.Downloaded.Count + result.Skipped.Count);
        foreach (var list in new[] { result.Downloaded, result.Skipped })
        {
            foreach (var repoPath in list)
            {
                files.Add(new ManifestFile(repoPath, new FileInfo(Path.Combine(entry.Directory, repoPath)).Length));
            }
        }

        var manifest = new Manifest(entry.RepoId, entry.Revision, [.. entry.Filter.AllowPatterns], [.. entry.Filter.IgnorePatterns], files);
        var path = ManifestPath(entry);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(manifest, ManifestJson));
            File.Move(path + ".tmp", path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("model_cache: cannot record the download in {Path}: {Reason}", path, e.Message);
        }
    }

    /// <summary>True (with a warning) when the folder holds a complete earlier download of exactly this entry.</summary>
    private bool TryUseEarlierDownload(ModelCacheEntry entry, string reason)
    {
        Manifest? manifest;
        try
        {
            var path = ManifestPath(entry);
            manifest = File.Exists(path) ? JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), ManifestJson) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            manifest = null;
        }

        if (manifest is null || manifest.RepoId != entry.RepoId || manifest.Revision != entry.Revision ||
            !manifest.AllowPatterns.AsSpan().SequenceEqual([.. entry.Filter.AllowPatterns]) ||
            !manifest.IgnorePatterns.AsSpan().SequenceEqual([.. entry.Filter.IgnorePatterns]) || manifest.Files.Count == 0)
        {
            return false;
        }

        long bytes = 0;
        foreach (var file in manifest.Files)
        {
            var info = new FileInfo(Path.Combine(entry.Directory, file.Path));
            if (!info.Exists || info.Length != file.Size)
            {
                return false;
            }

            bytes += file.Size;
        }

        _logger.LogWarning(
            "model_cache: {Reason}; using the {FileCount} files ({TotalBytes} bytes) of {RepoId}@{Revision} downloaded earlier into {Directory}",
            reason, manifest.Files.Count, bytes, entry.RepoId, entry.Revision, entry.Directory);
        return true;
    }

    private sealed record Manifest(
        string RepoId, string Revision, string[] AllowPatterns, string[] IgnorePatterns, IReadOnlyList<ManifestFile> Files);

    private sealed record ManifestFile(string Path, long Size);

    /// <summary>Logs each transfer's start and end, and its progress at most every <see cref="ProgressInterval"/>.</summary>
    private sealed class LogProgress(ILogger logger) : IProgress<DownloadProgress>
    {
        private readonly Stopwatch _sinceLast = Stopwatch.StartNew();

        public void Report(DownloadProgress value)
        {
            switch (value.Stage)
            {
                case DownloadStage.Starting:
                    _sinceLast.Restart();
                    logger.LogInformation("model_cache: downloading {Path} ({FileNumber}/{FileCount}, {TotalBytes} bytes{Resume})",
                        value.Path, value.FileNumber, value.FileCount, value.TotalBytes,
                        value.BytesDone > 0 ? $", resuming at byte {value.BytesDone}" : "");
                    break;
                case DownloadStage.Transferring when _sinceLast.Elapsed >= ProgressInterval:
                    _sinceLast.Restart();
                    logger.LogInformation("model_cache: {Path}: {BytesDone} of {TotalBytes} bytes", value.Path, value.BytesDone, value.TotalBytes);
                    break;
                case DownloadStage.Completed:
                    logger.LogDebug("model_cache: {Path} downloaded and verified", value.Path);
                    break;
                case DownloadStage.Skipped:
                    logger.LogDebug("model_cache: {Path} already present", value.Path);
                    break;
            }
        }
    }
}
