using System.Net;
using System.Net.Http.Headers;
using Truss.Server;

namespace Truss.Clip;

/// <summary>
/// Downloads <c>image_url</c> images through one shared <see cref="HttpClient"/> (pooled connections, DNS refresh),
/// bounded in time and size: a slow URL answers 504, an unreachable one 502, an oversized one 413, all with the
/// URL's problem in the message. Only <c>http</c> and <c>https</c> are fetched. Thread-safe.
/// </summary>
internal sealed class ImageFetcher : IDisposable
{
    private readonly HttpClient _client;
    private readonly ImageFetchOptions _options;

    public ImageFetcher(ImageFetchOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _client = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = options.Timeout,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = options.MaxRedirects,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Truss.Clip", "1.0"));
    }

    /// <summary>Fetches the image bytes at <paramref name="url"/>.</summary>
    public async Task<byte[]> FetchAsync(string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ModelInputException("`image_url` must be an absolute http:// or https:// URL.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new ModelInputException(
                    $"Could not fetch `image_url`: the server answered {(int)response.StatusCode} {response.ReasonPhrase}.", 502);
            }

            // Servers label images loosely (octet-stream, no type at all), but a declared non-image type such as an
            // HTML error page is rejected before any byte of it is decoded.
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is not null && !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) &&
                !mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase) &&
                !mediaType.Equals("binary/octet-stream", StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelInputException($"`image_url` answered with Content-Type {mediaType}, which is not an image.", 415);
            }

            if (response.Content.Headers.ContentLength > _options.MaxBytes)
            {
                throw TooLarge();
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            return await ReadBoundedAsync(body, response.Content.Headers.ContentLength, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ModelInputException(
                $"Could not fetch `image_url`: no complete answer within {_options.Timeout.TotalSeconds:0.#} s " +
                "(model_metadata.clip.fetch.timeout_seconds).", 504);
        }
        catch (HttpRequestException e)
        {
            throw new ModelInputException($"Could not fetch `image_url`: {e.Message}", 502, e);
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task<byte[]> ReadBoundedAsync(Stream body, long? declaredLength, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream(declaredLength is { } length ? (int)Math.Min(length, _options.MaxBytes) : 64 * 1024);
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > _options.MaxBytes)
            {
                throw TooLarge();
            }

            buffer.Write(chunk, 0, read);
        }

        if (declaredLength is { } expected && buffer.Length != expected)
        {
            throw new ModelInputException(
                $"Could not fetch `image_url`: the body ended after {buffer.Length} of {expected} bytes.", 502);
        }

        return buffer.ToArray();
    }

    private ModelInputException TooLarge() => new(
        $"`image_url` is larger than {_options.MaxBytes} bytes (model_metadata.clip.fetch.max_bytes).", 413);
}

/// <summary>Bounds for <see cref="ImageFetcher"/>, from <c>model_metadata.clip.fetch</c>.</summary>
internal sealed record ImageFetchOptions(TimeSpan Timeout, long MaxBytes, int MaxRedirects);
