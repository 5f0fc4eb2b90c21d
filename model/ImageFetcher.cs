using System.Net;
using System.Net.Http.Headers;
using Truss.Clip.ImageSources;
using Truss.Server;
using Truss.Server.Configuration;
using Truss.Server.Hosting;

namespace Truss.Clip;

/// <summary>
/// Downloads <c>image_url</c> images through one shared <see cref="HttpClient"/> (pooled connections, DNS refresh),
/// bounded in time and size: a slow URL answers 504, an unreachable one 502, an oversized one 413, all with the
/// URL's problem in the message. Only <c>http</c> and <c>https</c> are fetched. Thread-safe.
/// </summary>
/// <remarks>
/// Every connection goes through a <see cref="GuardedConnector"/> (SSRF guard): a URL whose host is, or resolves to,
/// a loopback, private, link-local or other non-public address that config does not allow answers 400 before any
/// socket to it is opened, also when a redirect leads there. Redirects are followed here, one checked hop at a
/// time, not by the handler. There is no way to build a fetcher without the guard; tests swap only its resolver and
/// connector.
/// </remarks>
internal sealed class ImageFetcher : IDisposable
{
    private readonly HttpClient _client;
    private readonly ImageFetchOptions _options;
    private readonly BufferedBytesBudget _inFlight;

    /// <summary>
    /// Creates the fetcher. <paramref name="resolver"/> and <paramref name="connector"/> replace DNS and the socket
    /// connect for tests; the address checks between them always run.
    /// </summary>
    public ImageFetcher(ImageFetchOptions options, HostResolver? resolver = null, EndpointConnector? connector = null)
    {
        _options = options;
        _inFlight = new BufferedBytesBudget(options.MaxBytesInFlight, "downloaded images", "model_metadata.clip.fetch.max_bytes_in_flight");
        var guard = new GuardedConnector(options.Addresses, resolver, connector);
        _client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = guard.ConnectAsync,
            // An environment proxy (HTTP_PROXY) would make the proxy, not the guard, choose the destination.
            UseProxy = false,
            // Cookies set during one caller's fetch must not ride along on another caller's.
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.Timeout,
            // Redirects are followed by FetchAsync, hop by hop, because the handler's own following sends any
            // Location scheme (gopher://host:70 included) to the host as HTTP. Each hop's connection still passes
            // the guard.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
            // HTTP/3 runs over QUIC, which does not use ConnectCallback; HTTP/1.1 (no Alt-Svc upgrade) keeps every
            // connection behind the guard.
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Truss.Clip", "1.0"));
    }

    /// <summary>Bytes of downloaded images held now, across all requests (<c>fetch.max_bytes_in_flight</c>).</summary>
    public long BytesInFlight => _inFlight.Reserved;

    /// <summary>
    /// Fetches the image bytes at <paramref name="url"/>, following up to <c>max_redirects</c> redirects. Error
    /// messages name <paramref name="field"/>, the request field the URL came from. The bytes count against
    /// <c>fetch.max_bytes_in_flight</c> while they arrive and until the returned download is disposed; a download
    /// that would pass it while others hold part of it fails at once with a 503 (nothing waits, so downloads cannot
    /// deadlock one another).
    /// </summary>
    public async Task<ImageDownload> FetchAsync(string url, CancellationToken cancellationToken, string field = "image_url")
    {
        if (!ImageSource.IsHttpUrl(url, out var uri))
        {
            throw new ModelInputException($"`{field}` must be an absolute http:// or https:// URL.");
        }

        // HttpClient would not send these credentials anyway, so the fetch would differ from what the URL says; and
        // user@host is a favourite for making one host look like another.
        if (uri.UserInfo.Length > 0)
        {
            throw new ModelInputException($"`{field}` must not contain credentials (user:password@ before the host).");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        var redirects = 0;
        try
        {
            // One timeout covers every hop, so a redirect chain cannot stretch the fetch past timeout_seconds.
            for (var current = uri; ; redirects++)
            {
                using var response = await GetWithRetriesAsync(current, timeout.Token);
                if (IsRedirect(response.StatusCode) && response.Headers.Location is { } location)
                {
                    current = NextHop(current, location, redirects, _options.MaxRedirects, field);
                    continue;
                }

                return await ReadImageAsync(response, field, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ModelInputException(
                $"Could not fetch `{field}`: no complete answer within {_options.Timeout.TotalSeconds:0.#} s " +
                "(model_metadata.clip.fetch.timeout_seconds).", 504);
        }
        catch (HttpRequestException e) when (FindRefusal(e) is { } refusal)
        {
            throw new ModelInputException(RefusalMessage(refusal, viaRedirect: redirects > 0, field), 400, e);
        }
        catch (HttpRequestException e)
        {
            throw new ModelInputException($"Could not fetch `{field}`: {e.Message}", 502, e);
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// One hop, retried up to <c>fetch.retries</c> times (within the overall timeout) when the failure is transient:
    /// a refused or reset connection, or 429/502/503/504. Refusals by the address guard are never retried.
    /// </summary>
    private async Task<HttpResponseMessage> GetWithRetriesAsync(Uri uri, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var response = await _client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (attempt >= _options.Retries || response.StatusCode is not (HttpStatusCode.TooManyRequests or
                    HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout))
                {
                    return response;
                }

                response.Dispose();
            }
            catch (HttpRequestException e) when (attempt < _options.Retries && FindRefusal(e) is null &&
                                                 e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded)
            {
                // Transient; tried again below.
            }

            await Task.Delay(_options.RetryDelay * (1 << attempt), cancellationToken);
        }
    }

    private static DestinationRefusedException? FindRefusal(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is DestinationRefusedException refusal)
            {
                return refusal;
            }
        }

        return null;
    }

    /// <summary>
    /// Names the host as the URL (or the redirect's Location) wrote it and the address class, never a resolved
    /// address: the caller learns that a name is internal, not where it points.
    /// </summary>
    private static string RefusalMessage(DestinationRefusedException refusal, bool viaRedirect, string field)
    {
        var kind = AddressPolicy.Describe(refusal.Verdict.Class);
        var what = (viaRedirect, refusal.HostIsLiteral) switch
        {
            (false, true) => $"`{field}` points at {refusal.Host}, {kind} address,",
            (false, false) => $"`{field}` host {refusal.Host} resolves to {kind} address,",
            (true, true) => $"`{field}` redirects to {refusal.Host}, {kind} address,",
            (true, false) => $"`{field}` redirects to host {refusal.Host}, which resolves to {kind} address,",
        };
        var how = refusal.Verdict.Class switch
        {
            _ when !AddressPolicy.CanBeAllowed(refusal.Verdict.Class) => "which this server never fetches.",
            AddressClass.Private or AddressClass.SharedAddressSpace =>
                "which this server does not fetch (model_metadata.clip.fetch.allowed_networks, allow_private_networks).",
            _ => "which this server does not fetch (model_metadata.clip.fetch.allowed_networks).",
        };
        return $"{what} {how}";
    }

    private static bool IsRedirect(HttpStatusCode status) => status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found
        or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>
    /// The URL a redirect leads to, or a 502 when it is one this server does not follow: past <c>max_redirects</c>,
    /// not http(s), https → http (the rest of the chain would travel in the clear), or carrying credentials. Where
    /// it connects to is the guard's business, at connect time.
    /// </summary>
    internal static Uri NextHop(Uri current, Uri location, int redirectsSoFar, int maxRedirects, string field = "image_url")
    {
        if (redirectsSoFar >= maxRedirects)
        {
            throw new ModelInputException(
                $"Could not fetch `{field}`: too many redirects (model_metadata.clip.fetch.max_redirects is {maxRedirects}).", 502);
        }

        var next = location.IsAbsoluteUri ? location : new Uri(current, location);
        var problem = next switch
        {
            _ when !ImageSource.IsHttp(next) => "to a URL that is not http:// or https://",
            _ when current.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp => "from https to plain http",
            _ when next.UserInfo.Length > 0 => "to a URL with credentials",
            _ => null,
        };
        return problem is null
            ? next
            : throw new ModelInputException($"Could not fetch `{field}`: it redirects {problem}, which this server does not follow.", 502);
    }

    /// <summary>Checks the final answer (status, type, size) and reads its body within <c>max_bytes</c>.</summary>
    private async Task<ImageDownload> ReadImageAsync(HttpResponseMessage response, string field, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new ModelInputException(
                $"Could not fetch `{field}`: the server answered {(int)response.StatusCode} {response.ReasonPhrase}.", 502);
        }

        // Servers label images loosely (octet-stream, no type at all), but a declared non-image type such as an
        // HTML error page is rejected before any byte of it is decoded.
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is not null && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) &&
            !mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase) &&
            !mediaType.Equals("binary/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelInputException($"`{field}` answered with Content-Type {mediaType}, which is not an image.", 415);
        }

        if (response.Content.Headers.ContentLength > _options.MaxBytes)
        {
            throw TooLarge(field);
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await ReadBoundedAsync(body, response.Content.Headers.ContentLength, field, cancellationToken);
    }

    private async Task<ImageDownload> ReadBoundedAsync(Stream body, long? declaredLength, string field, CancellationToken cancellationToken)
    {
        // What the body announces is reserved before it arrives; bytes beyond it (no Content-Length) as they do.
        var initial = declaredLength is { } length ? Math.Min(length, _options.MaxBytes) : 64 * 1024;
        var reservation = _inFlight.Reserve(initial);
        try
        {
            using var buffer = new MemoryStream((int)initial);
            var chunk = new byte[81920];
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > _options.MaxBytes)
                {
                    throw TooLarge(field);
                }

                if (buffer.Length + read > reservation.Bytes)
                {
                    reservation.Extend(buffer.Length + read - reservation.Bytes);
                }

                buffer.Write(chunk, 0, read);
            }

            if (declaredLength is { } expected && buffer.Length != expected)
            {
                throw new ModelInputException(
                    $"Could not fetch `{field}`: the body ended after {buffer.Length} of {expected} bytes.", 502);
            }

            return new ImageDownload(buffer.ToArray(), reservation);
        }
        catch
        {
            reservation.Dispose();
            throw;
        }
    }

    private ModelInputException TooLarge(string field) => new(
        $"`{field}` is larger than {_options.MaxBytes} bytes (model_metadata.clip.fetch.max_bytes).", 413);
}

/// <summary>Bounds and allowed destinations for <see cref="ImageFetcher"/>, from <c>model_metadata.clip.fetch</c>.</summary>
internal sealed record ImageFetchOptions(TimeSpan Timeout, long MaxBytes, int MaxRedirects, AddressPolicy Addresses, int Retries = 1)
{
    /// <summary>Default of <see cref="MaxBytesInFlight"/>: 256 MiB, twelve downloads of the default <c>max_bytes</c>.</summary>
    public const long DefaultMaxBytesInFlight = 256L * 1024 * 1024;

    /// <summary>Pause before the first retry; it doubles for each further one.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The most bytes of downloaded images held at once across all requests, from the first byte until each image is
    /// decoded: without it, <c>predict_concurrency</c> requests of <c>max_batch_images</c> URLs of <c>max_bytes</c>
    /// each could hold 16 × 32 × 20 MiB.
    /// </summary>
    public long MaxBytesInFlight { get; init; } = DefaultMaxBytesInFlight;

    /// <summary>Reads and validates <c>model_metadata.clip.fetch</c> (see README, "Configuration").</summary>
    public static ImageFetchOptions From(ConfigSection fetch)
    {
        var maxBytes = fetch.GetInt64("max_bytes", 20L * 1024 * 1024, min: 1);
        var options = new ImageFetchOptions(
            Timeout: TimeSpan.FromSeconds(fetch.GetDouble("timeout_seconds", 10, min: 0.1, max: 600)),
            MaxBytes: maxBytes,
            MaxRedirects: fetch.GetInt32("max_redirects", 3, min: 0, max: 20),
            Addresses: AddressPolicy.FromConfig(fetch),
            Retries: fetch.GetInt32("retries", 1, min: 0, max: 5))
        {
            MaxBytesInFlight = fetch.GetInt64("max_bytes_in_flight", Math.Max(DefaultMaxBytesInFlight, maxBytes), min: 1),
        };
        return options.MaxBytesInFlight >= maxBytes
            ? options
            : throw fetch.Error("max_bytes_in_flight", "must be at least max_bytes, or a largest image could be refused on a busy server");
    }
}

/// <summary>
/// The bytes of one downloaded image, counted against <c>fetch.max_bytes_in_flight</c> until disposed: dispose it
/// once the image is decoded (or its request has failed).
/// </summary>
internal sealed class ImageDownload(byte[] bytes, IDisposable reservation) : IDisposable
{
    /// <summary>The encoded image.</summary>
    public byte[] Bytes { get; } = bytes;

    /// <summary>Gives the bytes' room back (once; later calls do nothing).</summary>
    public void Dispose() => reservation.Dispose();
}
