using System.Buffers;
using Microsoft.AspNetCore.Http;
using Truss.Server.Hosting;

namespace Truss.Server.Http;

/// <summary>
/// A whole request body in a buffer rented from <see cref="ArrayPool{T}.Shared"/>; dispose to return it.
/// Bodies are read fully before parsing, as truss does, but without a per-request large allocation.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private byte[]? _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    /// <summary>Reads the body, enforcing <paramref name="limitBytes"/> whether or not Content-Length was sent.</summary>
    public static async Task<RequestBody> ReadAsync(HttpRequest request, long limitBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > limitBytes)
        {
            // Answer only after the client has sent everything (up to a bound), as nginx's lingering close does:
            // a client still writing when the server closes sees a reset instead of the 413 and its message.
            // A client that waits to be asked (Expect: 100-continue, which curl sends for uploads over 1 MB) has
            // sent nothing yet: reading would make Kestrel answer 100 and invite the whole body only to discard it,
            // so it gets the 413 at once and the connection closes (RFC 9110, 10.1.1).
            var drained = !ExpectsContinue(request) && declared - limitBytes <= MaxDrainBytes &&
                          await TryDrainAsync(request, cancellationToken).ConfigureAwait(false);
            throw new RequestBodyTooLargeException(limitBytes) { BodyWasDrained = drained };
        }

        var capacity = (int)Math.Min(request.ContentLength ?? 16 * 1024, Math.Min(limitBytes, Array.MaxLength));
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 256));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= limitBytes)
                    {
                        // One byte more than the limit proves the body is too large.
                        var probe = new byte[1];
                        if (await request.Body.ReadAsync(probe, cancellationToken).ConfigureAwait(false) > 0)
                        {
                            throw new RequestBodyTooLargeException(limitBytes);
                        }

                        break;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, Math.Min(limitBytes, Array.MaxLength)));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (length > limitBytes)
            {
                // The pool may hand out a larger buffer than the limit; the limit still holds.
                throw new RequestBodyTooLargeException(limitBytes);
            }

            return new RequestBody(buffer, length);
        }
        catch (RequestBodyTooLargeException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new RequestBodyTooLargeException(limitBytes);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new ClientDisconnectedException("Client disconnected while reading request.", e);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>The client sent <c>Expect: 100-continue</c>: it sends its body only once the server reads it.</summary>
    internal static bool ExpectsContinue(HttpRequest request) =>
        request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase);

    /// <summary>How far past the limit a declared body is still read (and discarded) before answering 413.</summary>
    internal const long MaxDrainBytes = 16L * 1024 * 1024;

    private static async Task<bool> TryDrainAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var limit = request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>();
        if (limit is null || limit.IsReadOnly)
        {
            return false;
        }

        limit.MaxRequestBodySize = null;
        var scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await request.Body.ReadAsync(scratch, cancellationToken).ConfigureAwait(false) > 0)
            {
            }

            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
