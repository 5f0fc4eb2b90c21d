using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip;

/// <summary>
/// An image carried inside the request: base64 text (raw, or a <c>data:image/...;base64,</c> URI) or, in msgpack
/// mode, the encoded bytes themselves. The text is checked when the request is parsed and decoded only when the
/// image is, into a pooled buffer: a base64 photo costs no large allocation, whether it arrived as a
/// <see cref="Utf8Text"/> view of the request body (the common case) or as a string.
/// </summary>
internal sealed class InlineImage
{
    // The longest data: URI header we look for the comma in ("data:image/svg+xml;charset=utf-8;base64," is 40).
    private const int MaxDataUriHeader = 256;

    private readonly ReadOnlyMemory<byte> _utf8Base64;
    private readonly string? _base64;
    private readonly byte[]? _encoded;

    private InlineImage(ReadOnlyMemory<byte> utf8Base64, string? base64, byte[]? encoded)
    {
        _utf8Base64 = utf8Base64;
        _base64 = base64;
        _encoded = encoded;
    }

    /// <summary>True when <paramref name="value"/> is text that starts with <c>data:</c> (case-insensitive).</summary>
    public static bool IsDataUri(object? value) => value switch
    {
        string text => text.StartsWith("data:", StringComparison.OrdinalIgnoreCase),
        Utf8Text text => text.Utf8.Span is { Length: >= 5 } bytes && Ascii.EqualsIgnoreCase(bytes[..5], "data:"u8),
        _ => false,
    };

    /// <summary>Validates <paramref name="value"/> (base64 text, a data: URI, or msgpack bytes) from <paramref name="field"/>.</summary>
    public static InlineImage Parse(object? value, string field)
    {
        switch (value)
        {
            case byte[] raw:
                return new InlineImage(default, null, raw);
            case Utf8Text { ByteLength: > 0 } text:
            {
                var utf8 = StripDataUriHeader(text.Utf8, field);
                return Base64.IsValid(utf8.Span) && !utf8.IsEmpty
                    ? new InlineImage(utf8, null, null)
                    : throw NotBase64(field);
            }

            case string { Length: > 0 } text:
            {
                var base64 = text.StartsWith("data:", StringComparison.OrdinalIgnoreCase) ? text[(DataUriComma(text.AsSpan(), field) + 1)..] : text;
                return Base64.IsValid(base64) && base64.Length > 0
                    ? new InlineImage(default, base64, null)
                    : throw NotBase64(field);
            }

            default:
                throw new ModelInputException($"`{field}` must be a non-empty base64 string or a data: URI.");
        }
    }

    /// <summary>Runs <paramref name="decode"/> over the encoded image bytes, which live only for that call.</summary>
    public T Decode<T>(Func<ReadOnlySpan<byte>, T> decode)
    {
        if (_encoded is not null)
        {
            return decode(_encoded);
        }

        var buffer = RentDecoded(out var length);
        try
        {
            return decode(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// <see cref="Decode{T}"/> for a decode that may wait (for room in the engine's decode budget): the encoded bytes
    /// live until the returned task completes.
    /// </summary>
    public ValueTask<T> DecodeAsync<T>(Func<ReadOnlyMemory<byte>, ValueTask<T>> decode)
    {
        if (_encoded is not null)
        {
            return decode(_encoded);
        }

        var buffer = RentDecoded(out var length);
        ValueTask<T> decoding;
        try
        {
            decoding = decode(buffer.AsMemory(0, length));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        if (decoding.IsCompleted)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return decoding;
        }

        return ReturnWhenDoneAsync(decoding, buffer);

        static async ValueTask<T> ReturnWhenDoneAsync(ValueTask<T> decoding, byte[] buffer)
        {
            try
            {
                return await decoding.ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The base64 text decoded into a pooled buffer (its first <paramref name="length"/> bytes); return it to the shared pool.</summary>
    private byte[] RentDecoded(out int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, Base64.GetMaxDecodedFromUtf8Length(_base64?.Length ?? _utf8Base64.Length)));
        try
        {
            length = DecodeInto(buffer);
            return buffer;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private int DecodeInto(byte[] buffer)
    {
        if (_base64 is not null)
        {
            // Validated at parse time, so this cannot fail (Convert skips the whitespace Base64.IsValid allows).
            return Convert.TryFromBase64String(_base64, buffer, out var fromString) ? fromString : throw new InvalidOperationException("Base64 validated but not decodable.");
        }

        var status = Base64.DecodeFromUtf8(_utf8Base64.Span, buffer, out _, out var decoded);
        if (status == OperationStatus.Done)
        {
            return decoded;
        }

        // Base64.DecodeFromUtf8 stops at whitespace, which Base64.IsValid (and Python's b64decode) allow: the
        // in-place variant skips it, on a copy so the request body stays untouched.
        var copy = _utf8Base64.Span;
        copy.CopyTo(buffer);
        return Base64.DecodeFromUtf8InPlace(buffer.AsSpan(0, copy.Length), out var written) == OperationStatus.Done
            ? written
            : throw new InvalidOperationException("Base64 validated but not decodable.");
    }

    private static ReadOnlyMemory<byte> StripDataUriHeader(ReadOnlyMemory<byte> utf8, string field)
    {
        var span = utf8.Span;
        if (span.Length < 5 || !Ascii.EqualsIgnoreCase(span[..5], "data:"u8))
        {
            return utf8;
        }

        var header = span[..Math.Min(span.Length, MaxDataUriHeader)];
        var comma = header.IndexOf((byte)',');
        if (comma < 7 || !Ascii.EqualsIgnoreCase(header[(comma - 7)..comma], ";base64"u8))
        {
            throw BadDataUri(field);
        }

        return utf8[(comma + 1)..];
    }

    private static int DataUriComma(ReadOnlySpan<char> text, string field)
    {
        var comma = text.IndexOf(',');
        return comma >= 0 && text[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase) ? comma : throw BadDataUri(field);
    }

    private static ModelInputException BadDataUri(string field) =>
        new($"`{field}` data URIs must be of the form data:image/<type>;base64,<data>.");

    private static ModelInputException NotBase64(string field) => new($"`{field}` is not valid base64.");
}
