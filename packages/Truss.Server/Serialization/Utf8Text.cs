using System.Text;

namespace Truss.Server.Serialization;

/// <summary>
/// A long JSON string handed to the model as a view of its UTF-8 bytes in the request body instead of a .NET
/// <see cref="string"/>. Only models that ask for it get these (see <see cref="IUtf8TextInputModel"/>).
/// </summary>
/// <remarks>
/// A 1 MB base64 image is 2 MB as a UTF-16 string and lands on the large object heap twice (the string, then the
/// decoded array); decoding straight from the body's bytes avoids both. The bytes are valid UTF-8 (checked when
/// read) and contain no escape sequences (an escaped string is always materialized as a <see cref="string"/>).
/// The view is only valid until the model's <c>PredictAsync</c> task completes: the body buffer then goes back to
/// its pool. Call <see cref="ToString"/> for a copy that outlives the request.
/// </remarks>
public sealed class Utf8Text
{
    internal Utf8Text(ReadOnlyMemory<byte> utf8) => Utf8 = utf8;

    /// <summary>The string's UTF-8 bytes, without quotes.</summary>
    public ReadOnlyMemory<byte> Utf8 { get; }

    /// <summary>Length in UTF-8 bytes (equal to the number of characters for ASCII text such as base64).</summary>
    public int ByteLength => Utf8.Length;

    /// <summary>Creates a view over <paramref name="utf8"/>; for tests and callers that already hold UTF-8 text.</summary>
    public static Utf8Text FromUtf8(ReadOnlyMemory<byte> utf8) =>
        System.Text.Unicode.Utf8.IsValid(utf8.Span) ? new Utf8Text(utf8) : throw new ArgumentException("Not valid UTF-8.", nameof(utf8));

    /// <summary>The text as a .NET string (a copy).</summary>
    public override string ToString() => Encoding.UTF8.GetString(Utf8.Span);
}
