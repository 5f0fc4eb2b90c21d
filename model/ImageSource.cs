using System.Diagnostics.CodeAnalysis;
using Truss.Server;

namespace Truss.Clip;

/// <summary>One image of a request: exactly one of <see cref="Pixels"/>, <see cref="Url"/>, <see cref="Bytes"/>.</summary>
/// <param name="Field">The request field it came from, for error messages (e.g. <c>images[2].image_url</c>).</param>
/// <param name="Pixels">The nested pixel list of an <c>image</c> field.</param>
/// <param name="Url">The URL of an <c>image_url</c> field.</param>
/// <param name="Bytes">The decoded bytes of an <c>image_base64</c> field.</param>
internal sealed record ImageSource(string Field, object? Pixels, string? Url, byte[]? Bytes)
{
    /// <summary>
    /// An image given by reference, as <c>image_url</c> and the image inputs of <c>/v1/embeddings</c> give it: a
    /// <c>data:image/...;base64,</c> URI carries the image inline (OpenAI-style APIs accept it; nothing is fetched),
    /// anything else is a URL for <c>ImageFetcher</c>, which checks it.
    /// </summary>
    public static ImageSource FromUrl(string url, string field) =>
        url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)
            ? new ImageSource(field, null, null, DecodeBase64(url, field))
            : new ImageSource(field, null, url, null);

    /// <summary>Whether <paramref name="url"/> is an absolute http:// or https:// URL, the only kind fetched.</summary>
    public static bool IsHttpUrl(string url, [NotNullWhen(true)] out Uri? uri) =>
        Uri.TryCreate(url, UriKind.Absolute, out uri) && IsHttp(uri);

    /// <summary>Whether <paramref name="uri"/> is http or https.</summary>
    public static bool IsHttp(Uri uri) => uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps;

    /// <summary>Encoded image bytes from raw base64, a <c>data:image/...;base64,</c> URI, or msgpack bytes.</summary>
    public static byte[] DecodeBase64(object value, string field)
    {
        if (value is byte[] raw)
        {
            return raw; // msgpack mode carries the bytes themselves
        }

        if (value is not string { Length: > 0 } text)
        {
            throw new ModelInputException($"`{field}` must be a non-empty base64 string or a data: URI.");
        }

        if (text.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = text.IndexOf(',');
            if (comma < 0 || !text.AsSpan(0, comma).EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelInputException($"`{field}` data URIs must be of the form data:image/<type>;base64,<data>.");
            }

            text = text[(comma + 1)..];
        }

        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new ModelInputException($"`{field}` is not valid base64.");
        }
    }
}
