using System.Buffers;
using Clip.Diagnostics;
using SkiaSharp;

namespace Clip.Imaging;

/// <summary>
/// Decodes encoded images (JPEG, PNG, WebP, GIF first frame, BMP, and whatever else the bundled Skia build reads)
/// into upright 8-bit <see cref="RgbImage"/>s. This is the only type in the engine that touches SkiaSharp or TurboJPEG.
/// </summary>
/// <remarks>
/// <para>
/// Pixels are requested as straight-alpha RGBA8888 with no colour space, so Skia applies no ICC conversion (like
/// Pillow, which ignores ICC profiles too), then converted to RGB in one pass that also resolves alpha
/// (<see cref="ImageDecodeOptions.AlphaMode"/>) and EXIF orientation, which Skia reports but does not apply.
/// Grayscale, palette and 16-bit inputs come out as 8-bit RGB. 16-bit PNGs are scaled properly to 8 bits by Skia,
/// whereas Pillow clamps 16-bit gray to 255 (almost all white); this deviation from the reference is deliberate.
/// </para>
/// <para>
/// JPEGs go to the system's libjpeg-turbo through <see cref="TurboJpeg"/> when it is installed and
/// <see cref="ImageDecodeOptions.JpegDecoder"/> allows it: Skia's Linux build lacks the SIMD kernels, so this halves
/// the decode time. Skia still opens the file (a header read, no pixels), so format detection, the size limits and
/// the EXIF orientation are exactly those of the Skia path, and any file TurboJPEG refuses or warns about (CMYK,
/// truncated, corrupt) is then decoded, or rejected, by Skia as before. Both use libjpeg-turbo's accurate integer
/// IDCT and fancy upsampling, so the pixels are identical.
/// </para>
/// <para>
/// Every failure (unknown format, truncated or corrupt data, zero or excessive size) is an
/// <see cref="ImageDecodeException"/>; a partially decoded image is never returned.
/// </para>
/// <para>Thread safety: stateless apart from its immutable options; one instance can serve all threads.</para>
/// </remarks>
public sealed class ImageDecoder
{
    /// <summary>Creates a decoder.</summary>
    /// <param name="options">Limits and policies; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    public ImageDecoder(ImageDecodeOptions? options = null)
    {
        Options = options ?? ImageDecodeOptions.Default;
    }

    /// <summary>The options this decoder applies.</summary>
    public ImageDecodeOptions Options { get; }

    /// <summary>Which library decodes JPEGs, and why, for the startup log.</summary>
    public string JpegDecoderDescription => Options.JpegDecoder == JpegDecoder.Skia
        ? "Skia (forced by the options)"
        : UsesTurboJpeg ? TurboJpeg.Description : $"Skia ({TurboJpeg.Description})";

    private bool UsesTurboJpeg => Options.JpegDecoder == JpegDecoder.Auto && TurboJpeg.IsAvailable;

    /// <summary>Decodes an encoded image held in an array.</summary>
    /// <param name="data">The complete encoded file.</param>
    /// <returns>An upright RGB image; the caller owns it and must dispose it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ImageDecodeException">The data is not a complete, supported image within the limits.</exception>
    public RgbImage Decode(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Decode(data.AsSpan());
    }

    /// <summary>Reads <paramref name="stream"/> to its end and decodes it.</summary>
    /// <param name="stream">A readable stream positioned at the start of the encoded file; it is not disposed.</param>
    /// <returns>An upright RGB image; the caller owns it and must dispose it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ImageDecodeException">The data is not a complete, supported image within the limits.</exception>
    /// <exception cref="IOException">Reading the stream failed.</exception>
    public RgbImage Decode(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream is MemoryStream memory && memory.TryGetBuffer(out var segment))
        {
            int start = (int)Math.Min(memory.Position, memory.Length);
            memory.Position = memory.Length;
            return Decode(segment.AsSpan(start));
        }

        // Buffer the whole file: Skia's codecs want random access, and a pooled buffer avoids wrapping the managed
        // stream in a native callback stream.
        // One spare byte lets the final zero-length read happen without growing the buffer.
        int initialSize = stream.CanSeek ? (int)Math.Clamp(stream.Length - stream.Position + 1, 1, Array.MaxLength) : 64 * 1024;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(initialSize);
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= Array.MaxLength)
                    {
                        throw new ImageDecodeException(
                            ImageDecodeError.TooLarge, $"The encoded image is larger than {Array.MaxLength:N0} bytes.");
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, Array.MaxLength));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = stream.Read(buffer, length, buffer.Length - length);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return Decode(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Decodes an encoded image held in memory. The bytes are read in place, not copied.</summary>
    /// <param name="data">The complete encoded file.</param>
    /// <returns>An upright RGB image; the caller owns it and must dispose it.</returns>
    /// <exception cref="ImageDecodeException">The data is not a complete, supported image within the limits.</exception>
    public RgbImage Decode(ReadOnlySpan<byte> data)
    {
        // Failed decodes are timed too: a corrupt or oversized image costs decode time all the same.
        var started = Metrics?.StartPreprocess() ?? 0;
        try
        {
            return DecodeInPlace(data);
        }
        finally
        {
            Metrics?.EndDecode(started);
        }
    }

    /// <summary>Where decode times are recorded (set by the engine that owns this decoder).</summary>
    internal ClipMetrics? Metrics { get; init; }

    /// <summary>
    /// Reads only the header of an encoded image: its format and stored size, checked against the limits exactly
    /// as <see cref="Decode(ReadOnlySpan{byte})"/> checks them, without decoding a pixel (microseconds). Lets a
    /// caller reserve memory for the decode before it starts (<see cref="DecodeBudget"/>).
    /// </summary>
    /// <param name="data">The complete encoded file (a prefix holding the header is enough).</param>
    /// <exception cref="ImageDecodeException">The data is not a supported image, or its size is outside the limits.</exception>
    public ImageHeader ReadHeader(ReadOnlySpan<byte> data) => WithCodec(data, ReadCheckedHeader);

    private unsafe RgbImage DecodeInPlace(ReadOnlySpan<byte> data) => WithCodec(data, DecodeOpened);

    private unsafe delegate T CodecReader<T>(ImageDecoder decoder, SKCodec codec, byte* encoded, int length);

    private static readonly unsafe CodecReader<RgbImage> DecodeOpened =
        static (decoder, codec, encoded, length) => decoder.DecodeFirstFrame(codec, encoded, length);

    private static readonly unsafe CodecReader<ImageHeader> ReadCheckedHeader = static (decoder, codec, _, _) =>
    {
        var header = new ImageHeader(FormatName(codec.EncodedFormat), codec.Info.Width, codec.Info.Height);
        decoder.CheckSize(header.Format, header.Width, header.Height);
        return header;
    };

    /// <summary>Opens a Skia codec over <paramref name="data"/> in place and runs <paramref name="read"/> on it.</summary>
    private unsafe T WithCodec<T>(ReadOnlySpan<byte> data, CodecReader<T> read)
    {
        if (data.IsEmpty)
        {
            throw new ImageDecodeException(ImageDecodeError.Empty, "The image data is empty.");
        }

        // The SKData wraps the pinned span without a copy, so the codec and every Skia object that can reach the
        // bytes must be disposed before the fixed block ends; the usings below guarantee that.
        fixed (byte* encoded = data)
        {
            using var skData = SKData.Create((IntPtr)encoded, data.Length)
                ?? throw new ImageDecodeException(ImageDecodeError.Corrupt, "Skia could not wrap the image data.");
            using var skStream = new SKMemoryStream(skData);
            using var codec = SKCodec.Create(skStream, out var createResult);
            if (codec is null)
            {
                throw CreateFailure(createResult, data.Length);
            }

            return read(this, codec, encoded, data.Length);
        }
    }

    private unsafe RgbImage DecodeFirstFrame(SKCodec codec, byte* encoded, int encodedLength)
    {
        var header = codec.Info;
        int width = header.Width;
        int height = header.Height;
        string format = FormatName(codec.EncodedFormat);
        CheckSize(format, width, height);
        var orientation = Options.ApplyExifOrientation ? ToOrientation(codec.EncodedOrigin) : ExifOrientation.TopLeft;

        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && UsesTurboJpeg
            && TryDecodeWithTurboJpeg(encoded, encodedLength, width, height, orientation) is { } decoded)
        {
            return decoded;
        }

        if (Options.FastJpegMinShortSide is { } minShortSide && codec.EncodedFormat == SKEncodedImageFormat.Jpeg)
        {
            (width, height) = ReducedJpegSize(codec, width, height, minShortSide);
        }

        // Straight alpha and no colour space: no premultiplication (AlphaMode decides) and no ICC conversion.
        var decodeInfo = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        int rgbaLength = width * height * 4;
        byte[] rgba = ArrayPool<byte>.Shared.Rent(rgbaLength);
        try
        {
            SKCodecResult result;
            fixed (byte* pixels = rgba)
            {
                // Frame 0 only. Skia fills any canvas area the first frame does not cover (GIF/WebP frame rects)
                // with transparent pixels because we do not claim the buffer is zero-initialised.
                result = codec.GetPixels(decodeInfo, (IntPtr)pixels, decodeInfo.RowBytes, new SKCodecOptions(0));
            }

            if (result != SKCodecResult.Success)
            {
                throw PixelsFailure(result, format, width, height);
            }

            (int outWidth, int outHeight) = PixelConverter.OrientedSize(width, height, orientation);
            // An opaque source has alpha 255 everywhere, where every mode is the identity; Drop is the cheapest.
            var alphaMode = header.AlphaType == SKAlphaType.Opaque ? AlphaMode.Drop : Options.AlphaMode;
            var image = RgbImage.Rent(outWidth, outHeight);
            PixelConverter.RgbaToRgb(rgba.AsSpan(0, rgbaLength), width, height, orientation, image.Pixels, alphaMode);
            return image;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    /// <summary>The smallest DCT scale (1/8, 1/4, 1/2) whose short side still reaches <paramref name="minShortSide"/>.</summary>
    private static (int Width, int Height) ReducedJpegSize(SKCodec codec, int width, int height, int minShortSide)
    {
        foreach (var scale in (ReadOnlySpan<float>)[0.125f, 0.25f, 0.5f])
        {
            var scaled = codec.GetScaledDimensions(scale);
            if (Math.Min(scaled.Width, scaled.Height) >= minShortSide)
            {
                return (scaled.Width, scaled.Height);
            }
        }

        return (width, height);
    }

    /// <summary>
    /// Decodes a JPEG whose header Skia has already read and checked against the limits. Returns null when TurboJPEG
    /// refuses the file or warns about it (CMYK/YCCK, a header it reads differently, truncated or corrupt data), so
    /// the caller decodes it with Skia; a partially decoded image is never returned.
    /// </summary>
    private unsafe RgbImage? TryDecodeWithTurboJpeg(byte* encoded, int length, int width, int height, ExifOrientation orientation)
    {
        // One handle per call: creating one is a small allocation next to a decode, and it is never shared between
        // threads nor left behind by a thread that exits.
        nint handle = TurboJpeg.CreateDecompressor();
        if (handle == 0)
        {
            return null;
        }

        try
        {
            if (!TurboJpeg.TryReadHeader(handle, encoded, length, out int headerWidth, out int headerHeight, out int colorspace)
                || headerWidth != width || headerHeight != height
                || colorspace is TurboJpeg.ColorspaceCmyk or TurboJpeg.ColorspaceYcck)
            {
                return null;
            }

            if (Options.FastJpegMinShortSide is { } minShortSide)
            {
                (width, height) = ReducedTurboJpegSize(width, height, minShortSide);
            }

            (int outWidth, int outHeight) = PixelConverter.OrientedSize(width, height, orientation);
            var image = RgbImage.Rent(outWidth, outHeight);
            byte[]? stored = null;
            try
            {
                bool decoded;
                if (orientation == ExifOrientation.TopLeft)
                {
                    // The common case: straight into the image's pooled buffer, no intermediate copy.
                    fixed (byte* pixels = image.Pixels)
                    {
                        decoded = TurboJpeg.TryDecodeRgb(handle, encoded, length, pixels, width, height);
                    }
                }
                else
                {
                    int storedLength = image.ByteLength;
                    stored = ArrayPool<byte>.Shared.Rent(storedLength);
                    fixed (byte* pixels = stored)
                    {
                        decoded = TurboJpeg.TryDecodeRgb(handle, encoded, length, pixels, width, height);
                    }

                    if (decoded)
                    {
                        PixelConverter.OrientRgb(stored.AsSpan(0, storedLength), width, height, orientation, image.Pixels);
                    }
                }

                if (!decoded)
                {
                    image.Dispose();
                    return null;
                }

                return image;
            }
            catch
            {
                image.Dispose();
                throw;
            }
            finally
            {
                if (stored is not null)
                {
                    ArrayPool<byte>.Shared.Return(stored);
                }
            }
        }
        finally
        {
            TurboJpeg.DestroyHandle(handle);
        }
    }

    /// <summary>The same rule as <see cref="ReducedJpegSize"/>, with TurboJPEG's scaling factors.</summary>
    private static (int Width, int Height) ReducedTurboJpegSize(int width, int height, int minShortSide)
    {
        foreach (var factor in TurboJpeg.ReductionFactors)
        {
            int scaledWidth = TurboJpeg.Scaled(width, factor);
            int scaledHeight = TurboJpeg.Scaled(height, factor);
            if (Math.Min(scaledWidth, scaledHeight) >= minShortSide)
            {
                return (scaledWidth, scaledHeight);
            }
        }

        return (width, height);
    }

    private void CheckSize(string format, int width, int height)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ImageDecodeException(ImageDecodeError.ZeroSize, $"The {format} image declares an empty size ({width}x{height}).");
        }

        long pixels = (long)width * height;
        if (pixels > Options.MaxPixels)
        {
            throw new ImageDecodeException(
                ImageDecodeError.TooLarge,
                $"The {format} image is {width}x{height} ({pixels:N0} pixels), above the limit of {Options.MaxPixels:N0} pixels.");
        }

        if (width > Options.MaxWidth || height > Options.MaxHeight)
        {
            throw new ImageDecodeException(
                ImageDecodeError.TooLarge,
                $"The {format} image is {width}x{height}, above the limit of {Options.MaxWidth}x{Options.MaxHeight}.");
        }

        if (pixels * 4 > Array.MaxLength)
        {
            throw new ImageDecodeException(
                ImageDecodeError.TooLarge,
                $"The {format} image is {width}x{height}, too large to decode into one buffer.");
        }
    }

    private static ImageDecodeException CreateFailure(SKCodecResult result, int length) => result switch
    {
        SKCodecResult.IncompleteInput => new ImageDecodeException(
            ImageDecodeError.Truncated, $"The image data ({length} bytes) ends inside the image header: the file is truncated."),
        SKCodecResult.Unimplemented => new ImageDecodeException(
            ImageDecodeError.UnknownFormat,
            $"The data ({length} bytes) is not in a supported image format (JPEG, PNG, WebP, GIF, BMP)."),
        SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput => new ImageDecodeException(
            ImageDecodeError.Corrupt, $"The image header is corrupt or unsupported ({length} bytes; decoder said {result})."),
        _ => new ImageDecodeException(
            ImageDecodeError.Corrupt, $"The image could not be opened ({length} bytes; decoder said {result})."),
    };

    private static ImageDecodeException PixelsFailure(SKCodecResult result, string format, int width, int height) => result switch
    {
        SKCodecResult.IncompleteInput => new ImageDecodeException(
            ImageDecodeError.Truncated,
            $"The {format} image ({width}x{height}) is incomplete: the data ends before all pixels were decoded."),
        SKCodecResult.ErrorInInput => new ImageDecodeException(
            ImageDecodeError.Corrupt, $"The {format} image ({width}x{height}) contains corrupt pixel data."),
        _ => new ImageDecodeException(
            ImageDecodeError.Corrupt, $"The {format} image ({width}x{height}) could not be decoded (decoder said {result})."),
    };

    private static ExifOrientation ToOrientation(SKEncodedOrigin origin) =>
        origin is >= SKEncodedOrigin.TopLeft and <= SKEncodedOrigin.LeftBottom ? (ExifOrientation)(int)origin : ExifOrientation.TopLeft;

    private static string FormatName(SKEncodedImageFormat format) => format switch
    {
        SKEncodedImageFormat.Jpeg => "JPEG",
        SKEncodedImageFormat.Png => "PNG",
        SKEncodedImageFormat.Webp => "WebP",
        SKEncodedImageFormat.Gif => "GIF",
        SKEncodedImageFormat.Bmp => "BMP",
        _ => format.ToString().ToUpperInvariant(),
    };
}

/// <summary>What an image's header declares (<see cref="ImageDecoder.ReadHeader"/>).</summary>
/// <param name="Format">The format's name (JPEG, PNG, WebP, GIF, BMP, ...).</param>
/// <param name="Width">Stored width in pixels, before EXIF rotation.</param>
/// <param name="Height">Stored height in pixels, before EXIF rotation.</param>
public readonly record struct ImageHeader(string Format, int Width, int Height)
{
    /// <summary>Width × height: what decoding it at full size produces.</summary>
    public long Pixels => (long)Width * Height;
}
