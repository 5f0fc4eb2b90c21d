namespace Clip.Imaging;

/// <summary>Why an image could not be decoded; lets callers map failures to responses without parsing messages.</summary>
public enum ImageDecodeError
{
    /// <summary>No input bytes.</summary>
    Empty,

    /// <summary>The bytes are not in a supported format (JPEG, PNG, WebP, GIF, BMP, ...).</summary>
    UnknownFormat,

    /// <summary>The data ends before the image is complete.</summary>
    Truncated,

    /// <summary>The data is in a known format but corrupt or uses an unsupported variant.</summary>
    Corrupt,

    /// <summary>The header declares a width or height of zero.</summary>
    ZeroSize,

    /// <summary>The declared size exceeds <see cref="ImageDecodeOptions"/> limits.</summary>
    TooLarge,
}

/// <summary>
/// The input could not be decoded into an image. The message says what is wrong in terms a client can act on
/// (format, truncation, size and limit); <see cref="Error"/> classifies it.
/// </summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">The failure class.</param>
    /// <param name="message">A message that names the problem, and sizes/limits where they apply.</param>
    public ImageDecodeException(ImageDecodeError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The failure class.</summary>
    public ImageDecodeError Error { get; }
}
