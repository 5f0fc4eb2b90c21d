namespace Clip.Imaging;

/// <summary>
/// Limits and policies for <see cref="ImageDecoder"/>. Immutable and validated on construction, so one instance can be
/// shared by every request and thread.
/// </summary>
public sealed class ImageDecodeOptions
{
    /// <summary>Default for <see cref="MaxPixels"/>: 50 megapixels (200 MB of RGBA while decoding).</summary>
    public const long DefaultMaxPixels = 50_000_000;

    /// <summary>Default for <see cref="MaxWidth"/> and <see cref="MaxHeight"/>: 65,535 pixels, the largest side a JPEG or GIF can declare.</summary>
    public const int DefaultMaxDimension = 65_535;

    /// <summary>Creates options; every argument is optional and defaults to the documented value.</summary>
    /// <param name="maxPixels">Largest accepted <c>width * height</c>, read from the file header before decoding.</param>
    /// <param name="maxWidth">Largest accepted width in pixels (stored, before EXIF rotation).</param>
    /// <param name="maxHeight">Largest accepted height in pixels (stored, before EXIF rotation).</param>
    /// <param name="applyExifOrientation">Rotate/flip according to the EXIF orientation tag.</param>
    /// <param name="alphaMode">How transparency becomes colour.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is below 1 or <paramref name="alphaMode"/> is undefined.</exception>
    public ImageDecodeOptions(
        long maxPixels = DefaultMaxPixels,
        int maxWidth = DefaultMaxDimension,
        int maxHeight = DefaultMaxDimension,
        bool applyExifOrientation = true,
        AlphaMode alphaMode = AlphaMode.Black)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPixels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeight, 1);
        if (!Enum.IsDefined(alphaMode))
        {
            throw new ArgumentOutOfRangeException(nameof(alphaMode), alphaMode, "Expected Black, Drop or White.");
        }

        MaxPixels = maxPixels;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        ApplyExifOrientation = applyExifOrientation;
        AlphaMode = alphaMode;
    }

    /// <summary>The defaults: 50 MP, 65,535 px per side, EXIF orientation applied, alpha composited on black.</summary>
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>
    /// Largest accepted pixel count (<c>width * height</c>). Checked against the dimensions in the file header before
    /// any pixel is decoded, which is the defence against decompression bombs (a few KB of PNG can claim gigapixels).
    /// Default <see cref="DefaultMaxPixels"/>.
    /// </summary>
    public long MaxPixels { get; }

    /// <summary>Largest accepted width in pixels, as stored (before EXIF rotation). Default <see cref="DefaultMaxDimension"/>.</summary>
    public int MaxWidth { get; }

    /// <summary>Largest accepted height in pixels, as stored (before EXIF rotation). Default <see cref="DefaultMaxDimension"/>.</summary>
    public int MaxHeight { get; }

    /// <summary>
    /// Whether to apply the EXIF orientation tag (all eight values), so a phone photo is classified upright.
    /// Default <see langword="true"/>. The Pillow-based reference pipelines ignore the tag; set <see langword="false"/>
    /// for bit-parity with them on rotated photos.
    /// </summary>
    public bool ApplyExifOrientation { get; }

    /// <summary>How transparency is resolved into RGB. Default <see cref="Imaging.AlphaMode.Black"/>.</summary>
    public AlphaMode AlphaMode { get; }

    /// <summary>
    /// The fast JPEG path: when set, a JPEG whose short side is at least twice this many pixels is decoded at a
    /// reduced DCT scale (1/2, 1/4 or 1/8, the smallest that keeps the short side ≥ this value) before the exact
    /// resample. Decoding is most of the cost of a large JPEG, so this is several times faster; the result differs
    /// slightly from a full decode (the DCT downscale is a box-like prefilter), which is why it is opt-in.
    /// Null (the default) always decodes at full size.
    /// </summary>
    public int? FastJpegMinShortSide
    {
        get;
        init => field = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(FastJpegMinShortSide), value, "Must be ≥ 1.");
    }

    /// <summary>
    /// Which library decodes JPEGs: <see cref="Imaging.JpegDecoder.Auto"/> (the default) uses the system's TurboJPEG
    /// when it is installed, <see cref="Imaging.JpegDecoder.Skia"/> forces Skia. The decoded pixels are the same.
    /// </summary>
    public JpegDecoder JpegDecoder
    {
        get;
        init => field = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(JpegDecoder), value, "Expected Auto or Skia.");
    }
}
