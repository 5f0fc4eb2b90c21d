using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// A stand-in for the Hugging Face Hub on 127.0.0.1 (Kestrel on a free port): the model-info listing
/// (<c>/api/models/{repo}/revision/{rev}?blobs=true</c>) and <c>/{repo}/resolve/{rev}/{path}</c> for repositories
/// built from local folders. As on the Hub, LFS files (<c>*.onnx</c>) are listed with <c>lfs.sha256</c> and resolve
/// by a 302 to a storage host (here a second loopback port, <c>/cdn/</c>, no token needed), and plain files by a
/// relative 307 to <c>/api/resolve-cache/...</c> on the Hub's own host (token needed). Range requests are honoured. It can cut a transfer
/// once, serve corrupt bytes, require a token, and hold file requests until released. Every request is recorded.
/// </summary>
public sealed class FakeHuggingFaceHub : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Repository> _repositories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _cuts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _corrupt = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly WebApplication _app;
    private volatile TaskCompletionSource? _hold;
    private int _failuresLeft;
    private int _failureStatus;
    private volatile TaskCompletionSource _held = NewSignal();

    private FakeHuggingFaceHub(WebApplication app) => _app = app;

    /// <summary>The endpoint to put in <c>HF_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The storage host LFS files redirect to: another port, so another origin, as the Hub's CDN is.</summary>
    public Uri StorageEndpoint { get; private set; } = null!;

    /// <summary>When set, listing and resolve requests without <c>Authorization: Bearer</c> this token get 401.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => _requests.ToArray();

    /// <summary>Completes when a file request is waiting on <see cref="HoldFileRequests"/>.</summary>
    public Task FileRequestHeld => _held.Task;

    /// <summary>Starts a hub with no repositories on two free loopback ports.</summary>
    public static async Task<FakeHuggingFaceHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, 0);
            k.Listen(System.Net.IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var hub = new FakeHuggingFaceHub(app);
        app.Run(hub.HandleAsync);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        hub.Endpoint = new Uri(addresses[0]);
        hub.StorageEndpoint = new Uri(addresses[1]);
        return hub;
    }

    /// <summary>Publishes every file under <paramref name="folder"/> as <paramref name="repoId"/> at branch <c>main</c>; returns the commit sha.</summary>
    public string AddRepository(string repoId, string folder)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(folder, path).Replace('\\', '/')] = File.ReadAllBytes(path);
        }

        var commit = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(repoId + string.Join(',', files.Keys))));
        _repositories[repoId] = new Repository(commit, files);
        return commit;
    }

    /// <summary>The next request for the file ends after <paramref name="bytes"/> body bytes (the connection is aborted).</summary>
    public void CutTransferOnce(string repoId, string path, long bytes) => _cuts[Key(repoId, path)] = bytes;

    /// <summary>The next <paramref name="count"/> requests (of any kind) are answered <paramref name="status"/>.</summary>
    public void FailRequests(int status, int count)
    {
        _failureStatus = status;
        Volatile.Write(ref _failuresLeft, count);
    }

    /// <summary>From now on the file is served with one byte flipped (the listing keeps the true SHA-256).</summary>
    public void Corrupt(string repoId, string path) => _corrupt[Key(repoId, path)] = true;

    /// <summary>File requests wait until the returned handle is disposed (listing requests are not held).</summary>
    public IDisposable HoldFileRequests()
    {
        var hold = NewSignal();
        _hold = hold;
        return new Release(() =>
        {
            _hold = null;
            hold.TrySetResult();
        });
    }

    /// <summary>The SHA-256 the listing reports for a file (of its true bytes).</summary>
    public string Sha256(string repoId, string path) => Convert.ToHexStringLower(SHA256.HashData(_repositories[repoId].Files[path]));

    public async ValueTask DisposeAsync()
    {
        _hold?.TrySetResult();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string Key(string repoId, string path) => repoId + "\n" + path;

    private static bool IsLfs(string path) => path.EndsWith(".onnx", StringComparison.Ordinal);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var rawPath = Uri.UnescapeDataString(request.Path.Value ?? "");
        _requests.Enqueue(new RecordedRequest(rawPath, request.Headers.Range.ToString() is { Length: > 0 } range ? range : null,
            request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null));

        if (Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            context.Response.StatusCode = _failureStatus;
            return;
        }

        if (rawPath.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            // Storage-host stand-in: addressed by repository and path, no token (a signed URL in the real Hub).
            var rest = rawPath["/cdn/".Length..];
            foreach (var (repoId, repository) in _repositories)
            {
                if (rest.StartsWith(repoId + "/", StringComparison.Ordinal) &&
                    repository.Files.ContainsKey(rest[(repoId.Length + 1)..]))
                {
                    await ServeFileAsync(context, repoId, repository, rest[(repoId.Length + 1)..]);
                    return;
                }
            }

            context.Response.StatusCode = 404;
            return;
        }

        if (RequiredToken is { } token && request.Headers.Authorization.ToString() != "Bearer " + token)
        {
            context.Response.StatusCode = 401;
            context.Response.Headers["X-Error-Code"] = "GatedRepo";
            await context.Response.WriteAsync("{\"error\":\"Access to this model is restricted.\"}");
            return;
        }

        if (rawPath.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            await ListAsync(context, rawPath["/api/models/".Length..]);
            return;
        }

        if (rawPath.StartsWith("/api/resolve-cache/models/", StringComparison.Ordinal))
        {
            // Where the Hub sends plain git files: /api/resolve-cache/models/{repo}/{commit}/{path}, token required.
            var rest = rawPath["/api/resolve-cache/models/".Length..];
            foreach (var (repoId, repository) in _repositories)
            {
                var prefix = repoId + "/" + repository.Commit + "/";
                if (rest.StartsWith(prefix, StringComparison.Ordinal) && repository.Files.ContainsKey(rest[prefix.Length..]))
                {
                    await ServeFileAsync(context, repoId, repository, rest[prefix.Length..]);
                    return;
                }
            }

            await NotFoundAsync(context, "EntryNotFound");
            return;
        }

        foreach (var (repoId, repository) in _repositories)
        {
            var prefix = "/" + repoId + "/resolve/";
            if (!rawPath.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            // The revision is one escaped segment; Path.Value keeps %2F escaped, so split on the raw value.
            var rawRest = (request.Path.Value ?? "")[prefix.Length..];
            var slash = rawRest.IndexOf('/', StringComparison.Ordinal);
            var revision = slash < 0 ? "" : Uri.UnescapeDataString(rawRest[..slash]);
            var path = slash < 0 ? "" : Uri.UnescapeDataString(rawRest[(slash + 1)..]);
            if (revision != "main" && revision != repository.Commit)
            {
                await NotFoundAsync(context, "RevisionNotFound");
                return;
            }

            if (!repository.Files.ContainsKey(path))
            {
                await NotFoundAsync(context, "EntryNotFound");
                return;
            }

            if (IsLfs(path))
            {
                context.Response.StatusCode = 302;
                context.Response.Headers.Location = new Uri(StorageEndpoint, "/cdn/" + repoId + "/" + path).AbsoluteUri;
                return;
            }

            // A relative redirect on the Hub's own host: the client must keep its token for it.
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = $"/api/resolve-cache/models/{repoId}/{repository.Commit}/{path}";
            return;
        }

        await NotFoundAsync(context, "RepoNotFound");
    }

    private async Task ListAsync(HttpContext context, string rest)
    {
        var marker = rest.IndexOf("/revision/", StringComparison.Ordinal);
        var repoId = marker < 0 ? rest : rest[..marker];
        if (!_repositories.TryGetValue(repoId, out var repository))
        {
            await NotFoundAsync(context, "RepoNotFound");
            return;
        }

        var revision = marker < 0 ? "main" : rest[(marker + "/revision/".Length)..];
        if (revision != "main" && revision != repository.Commit)
        {
            await NotFoundAsync(context, "RevisionNotFound");
            return;
        }

        var siblings = new List<object>();
        foreach (var (path, bytes) in repository.Files)
        {
            var blobId = Convert.ToHexStringLower(SHA1.HashData(bytes));
            siblings.Add(IsLfs(path)
                ? new { rfilename = path, blobId, size = (long)bytes.Length, lfs = new { sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)), size = (long)bytes.Length, pointerSize = 134 } }
                : new { rfilename = path, blobId, size = (long)bytes.Length });
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { id = repoId, sha = repository.Commit, siblings }));
    }

    private async Task ServeFileAsync(HttpContext context, string repoId, Repository repository, string path)
    {
        if (_hold is { } hold)
        {
            _held.TrySetResult();
            await hold.Task.WaitAsync(context.RequestAborted);
        }

        var bytes = repository.Files[path];
        if (_corrupt.ContainsKey(Key(repoId, path)))
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0xFF;
        }

        long start = 0;
        var range = context.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') &&
            long.TryParse(range["bytes=".Length..^1], out var from))
        {
            if (from >= bytes.Length)
            {
                context.Response.StatusCode = 416;
                context.Response.Headers.ContentRange = $"bytes */{bytes.Length}";
                return;
            }

            start = from;
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {start}-{bytes.Length - 1}/{bytes.Length}";
        }

        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = bytes.Length - start;
        if (_cuts.TryRemove(Key(repoId, path), out var cut))
        {
            await context.Response.Body.WriteAsync(bytes.AsMemory((int)start, (int)Math.Min(cut, bytes.Length - start)));
            await context.Response.Body.FlushAsync();
            // Aborting sends a reset, which makes the client drop bytes it has not read yet: let it read them first.
            await Task.Delay(200);
            context.Abort();
            return;
        }

        await context.Response.Body.WriteAsync(bytes.AsMemory((int)start));
    }

    private static async Task NotFoundAsync(HttpContext context, string errorCode)
    {
        context.Response.StatusCode = 404;
        context.Response.Headers["X-Error-Code"] = errorCode;
        await context.Response.WriteAsync($"{{\"error\":\"{errorCode}\"}}");
    }

    /// <summary>One request as the fake Hub saw it.</summary>
    public sealed record RecordedRequest(string Path, string? Range, string? Authorization);

    private sealed record Repository(string Commit, SortedDictionary<string, byte[]> Files);

    private sealed class Release(Action release) : IDisposable
    {
        public void Dispose() => release();
    }
}
