using System.Diagnostics.CodeAnalysis;

namespace Truss.Clip;

/// <summary>One image of a request: exactly one of <see cref="Pixels"/>, <see cref="Url"/>, <see cref="Inline"/>.</summary>
/// <param name="Field">The request field it came from, for error messages (e.g. <c>images[2].image_url</c>).</param>
/// <param name="Pixels">The nested pixel list of an <c>image</c> field.</param>
/// <param name="Url">The URL of an <c>image_url</c> field (or an image input of <c>/v1/embeddings</c>).</param>
/// <param name="Inline">The image carried in the request: <c>image_base64</c>, a data: URI, or msgpack bytes.</param>
internal sealed record ImageSource(string Field, object? Pixels, string? Url, InlineImage? Inline)
{
    /// <summary>
    /// An image given by reference, as <c>image_url</c> and the image inputs of <c>/v1/embeddings</c> give it:
    /// <paramref name="url"/> (a string, or a <c>Utf8Text</c> view when long) that is a
    /// <c>data:image/...;base64,</c> URI carries the image inline (OpenAI-style APIs accept it; nothing is fetched),
    /// anything else is a URL for <c>ImageFetcher</c>, which checks it.
    /// </summary>
    public static ImageSource FromUrl(object url, string field) =>
        InlineImage.IsDataUri(url)
            ? new ImageSource(field, null, null, InlineImage.Parse(url, field))
            : new ImageSource(field, null, url.ToString(), null);

    /// <summary>An image carried in the request (base64 text, a data: URI, or msgpack bytes), checked now.</summary>
    public static ImageSource FromInline(object? value, string field) => new(field, null, null, InlineImage.Parse(value, field));

    /// <summary>Whether <paramref name="url"/> is an absolute http:// or https:// URL, the only kind fetched.</summary>
    public static bool IsHttpUrl(string url, [NotNullWhen(true)] out Uri? uri) =>
        Uri.TryCreate(url, UriKind.Absolute, out uri) && IsHttp(uri);

    /// <summary>Whether <paramref name="uri"/> is http or https.</summary>
    public static bool IsHttp(Uri uri) => uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps;
}
