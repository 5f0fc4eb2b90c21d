using System.Text;
using System.Text.Json;

namespace Truss.Server.Serialization;

/// <summary>
/// Reads a JSON request body into the neutral value tree (see <see cref="ITrussModel"/>): objects become
/// <see cref="OrderedDictionary{TKey,TValue}"/> (duplicate keys: last wins, as Python's json), arrays
/// <see cref="List{T}"/>, integers <see cref="long"/> (or <see cref="double"/> beyond 64 bits), other numbers
/// <see cref="double"/>. Errors become <see cref="InvalidPayloadException"/> worded like Python's json module
/// ("Expecting value: line 1 column 1 (char 0)"), since truss prefixes that text with "Invalid JSON payload: ".
/// </summary>
/// <remarks>
/// Deviations from Python, by choice: the body must be UTF-8 (a BOM is skipped), and the non-standard literals
/// <c>NaN</c>/<c>Infinity</c> are rejected. Nesting depth is capped (default 64) so hostile input cannot exhaust the
/// stack.
/// </remarks>
public static class JsonPayloadReader
{
    /// <summary>Parses <paramref name="utf8"/>; throws <see cref="InvalidPayloadException"/> when it is not JSON.</summary>
    public static object? Read(ReadOnlySpan<byte> utf8, int maxDepth = 64) => Read(utf8, ReadOnlyMemory<byte>.Empty, maxDepth, int.MaxValue);

    /// <summary>
    /// Parses <paramref name="utf8"/>; string values of at least <paramref name="utf8TextMinBytes"/> UTF-8 bytes
    /// without escapes become <see cref="Utf8Text"/> views of <paramref name="utf8"/> (see <see cref="IUtf8TextInputModel"/>).
    /// </summary>
    public static object? Read(ReadOnlyMemory<byte> utf8, int maxDepth = 64, int utf8TextMinBytes = int.MaxValue) =>
        Read(utf8.Span, utf8, maxDepth, utf8TextMinBytes);

    private static object? Read(ReadOnlySpan<byte> utf8, ReadOnlyMemory<byte> backing, int maxDepth, int utf8TextMinBytes)
    {
        if (utf8.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            utf8 = utf8[3..];
            backing = backing.IsEmpty ? backing : backing[3..];
        }

        // Views need the memory behind the span; without it every string is materialized.
        var strings = new StringMode(backing, backing.IsEmpty ? int.MaxValue : Math.Max(1, utf8TextMinBytes));

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read())
            {
                throw Expecting("Expecting value", utf8, utf8.Length);
            }

            var value = ReadValue(ref reader, strings);
            var end = (int)reader.BytesConsumed;
            while (end < utf8.Length && utf8[end] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                end++;
            }

            return end < utf8.Length ? throw Expecting("Extra data", utf8, end) : value;
        }
        catch (JsonException e)
        {
            var offset = (int)Math.Min(reader.BytesConsumed, utf8.Length);
            var reason = e.Message;
            var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            reason = (cut > 0 ? reason[..cut] : reason).TrimEnd('.', ' ');
            if (IsOnlyWhitespace(utf8))
            {
                reason = "Expecting value";
                offset = utf8.Length;
            }

            throw Expecting(reason, utf8, offset, e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader reports invalid UTF-8 inside strings this way.
            throw Expecting("Invalid UTF-8 in string", utf8, (int)Math.Min(reader.BytesConsumed, utf8.Length), e);
        }
    }

    private static object? ReadValue(ref Utf8JsonReader reader, StringMode strings)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var map = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var key = reader.GetString()!;
                    reader.Read();
                    map[key] = ReadValue(ref reader, strings);
                }

                return map;
            case JsonTokenType.StartArray:
                var list = new List<object?>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    list.Add(ReadValue(ref reader, strings));
                }

                return list;
            case JsonTokenType.String:
                if (reader.ValueSpan.Length >= strings.MinBytes && !reader.ValueIsEscaped && !reader.HasValueSequence)
                {
                    // The reader does not check UTF-8 until a string is materialized, so check it here.
                    if (!System.Text.Unicode.Utf8.IsValid(reader.ValueSpan))
                    {
                        throw new InvalidOperationException("Invalid UTF-8 in string.");
                    }

                    return new Utf8Text(strings.Backing.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length));
                }

                return reader.GetString();
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out var integer))
                {
                    return WireValues.Box(integer);
                }

                return reader.GetDouble();
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
                return false;
            case JsonTokenType.Null:
                return null;
            default:
                throw new JsonException($"Unexpected token {reader.TokenType}");
        }
    }

    private static InvalidPayloadException Expecting(string reason, ReadOnlySpan<byte> utf8, int byteOffset, Exception? inner = null)
    {
        // Python reports 1-based line and column and a 0-based character offset.
        var before = utf8[..Math.Clamp(byteOffset, 0, utf8.Length)];
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < before.Length; i++)
        {
            if (before[i] == (byte)'\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        var chars = CountChars(before);
        var column = CountChars(before[lineStart..]) + 1;
        return new InvalidPayloadException($"Invalid JSON payload: {reason}: line {line} column {column} (char {chars})", inner);
    }

    private static int CountChars(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return Encoding.UTF8.GetCharCount(utf8);
        }
        catch (DecoderFallbackException)
        {
            return utf8.Length;
        }
    }

    private static bool IsOnlyWhitespace(ReadOnlySpan<byte> utf8)
    {
        foreach (var b in utf8)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    private readonly record struct StringMode(ReadOnlyMemory<byte> Backing, int MinBytes);
}
