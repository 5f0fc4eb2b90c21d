using System.Buffers;

namespace Clip.Imaging;

/// <summary>
/// An 8-bit RGB image stored row-major and interleaved (R, G, B, R, G, B, ...), with no row padding:
/// the pixel at (x, y) starts at byte <c>(y * Width + x) * 3</c>.
/// </summary>
/// <remarks>
/// <para>
/// Ownership: the pixel buffer is rented from <see cref="ArrayPool{T}.Shared"/> because images are created and
/// dropped on every request and a 1080p frame would otherwise be a fresh 6 MB large-object allocation each time.
/// The instance owns that buffer and gives it back in <see cref="Dispose"/>; always dispose (<c>using</c>).
/// An image that is never disposed is simply collected by the GC (nothing leaks, the pool just misses a return).
/// After disposal every accessor throws <see cref="ObjectDisposedException"/>; never keep a span obtained from
/// <see cref="Pixels"/> or <see cref="GetRow"/> past disposal, because the array may already serve another image.
/// </para>
/// <para>
/// Thread safety: concurrent reads are safe; writes, and disposal, must not race with any other use.
/// </para>
/// </remarks>
public sealed class RgbImage : IDisposable
{
    /// <summary>Bytes per pixel (R, G, B).</summary>
    public const int Channels = 3;

    private byte[]? _buffer;
    private IDisposable? _reservation;

    private RgbImage(byte[] buffer, int width, int height)
    {
        _buffer = buffer;
        Width = width;
        Height = height;
    }

    /// <summary>Width in pixels (at least 1).</summary>
    public int Width { get; }

    /// <summary>Height in pixels (at least 1).</summary>
    public int Height { get; }

    /// <summary>Bytes per row: <c>Width * 3</c> (rows are not padded).</summary>
    public int Stride => Width * Channels;

    /// <summary>Total pixel bytes: <c>Width * Height * 3</c>.</summary>
    public int ByteLength => Width * Height * Channels;

    /// <summary>
    /// All pixels, exactly <see cref="ByteLength"/> bytes (the rented array may be longer; the excess is hidden).
    /// Valid until <see cref="Dispose"/>.
    /// </summary>
    public Span<byte> Pixels
    {
        get
        {
            var buffer = _buffer;
            ObjectDisposedException.ThrowIf(buffer is null, this);
            return buffer.AsSpan(0, ByteLength);
        }
    }

    /// <summary>One row of <see cref="Stride"/> bytes. Valid until <see cref="Dispose"/>.</summary>
    /// <param name="y">Row index, 0 (top) to <c>Height - 1</c>.</param>
    public Span<byte> GetRow(int y)
    {
        var buffer = _buffer;
        ObjectDisposedException.ThrowIf(buffer is null, this);
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        return buffer.AsSpan(y * Stride, Stride);
    }

    /// <summary>
    /// Copies interleaved 8-bit RGB bytes (an H×W×3 uint8 array in C order) into a new image.
    /// </summary>
    /// <param name="rgb">Exactly <c>width * height * 3</c> bytes.</param>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <returns>A new image the caller owns and must dispose.</returns>
    /// <exception cref="ArgumentException">The length does not match the dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is below 1 or the image is too large.</exception>
    public static RgbImage FromRgb(ReadOnlySpan<byte> rgb, int width, int height) =>
        FromInterleaved(rgb, width, height, 3);

    /// <summary>
    /// Converts interleaved 8-bit RGBA bytes (H×W×4, straight i.e. not premultiplied alpha) into a new RGB image,
    /// resolving alpha as <paramref name="alphaMode"/> says.
    /// </summary>
    /// <param name="rgba">Exactly <c>width * height * 4</c> bytes.</param>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <param name="alphaMode">How transparency becomes colour; see <see cref="AlphaMode"/>.</param>
    /// <returns>A new image the caller owns and must dispose.</returns>
    /// <exception cref="ArgumentException">The length does not match the dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is below 1 or the image is too large.</exception>
    public static RgbImage FromRgba(ReadOnlySpan<byte> rgba, int width, int height, AlphaMode alphaMode = AlphaMode.Black) =>
        FromInterleaved(rgba, width, height, 4, alphaMode);

    /// <summary>
    /// Converts 8-bit grayscale bytes (an H×W uint8 array) into a new RGB image with R = G = B.
    /// </summary>
    /// <param name="gray">Exactly <c>width * height</c> bytes.</param>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <returns>A new image the caller owns and must dispose.</returns>
    /// <exception cref="ArgumentException">The length does not match the dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is below 1 or the image is too large.</exception>
    public static RgbImage FromGray(ReadOnlySpan<byte> gray, int width, int height) =>
        FromInterleaved(gray, width, height, 1);

    /// <summary>
    /// Builds an RGB image from an interleaved uint8 array with 1 (gray), 3 (RGB) or 4 (RGBA) channels, the shapes
    /// H×W, H×W×3 and H×W×4 that clients send as raw arrays.
    /// </summary>
    /// <param name="pixels">Exactly <c>width * height * channels</c> bytes, row-major.</param>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <param name="channels">1, 3 or 4.</param>
    /// <param name="alphaMode">Used only when <paramref name="channels"/> is 4.</param>
    /// <returns>A new image the caller owns and must dispose.</returns>
    /// <exception cref="ArgumentException">The length does not match the dimensions.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// A dimension is below 1, the image is too large, or <paramref name="channels"/> is not 1, 3 or 4.
    /// </exception>
    public static RgbImage FromInterleaved(
        ReadOnlySpan<byte> pixels, int width, int height, int channels, AlphaMode alphaMode = AlphaMode.Black)
    {
        if (channels is not (1 or 3 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected 1 (gray), 3 (RGB) or 4 (RGBA) channels.");
        }

        ValidateDimensions(width, height);
        long expected = (long)width * height * channels;
        if (pixels.Length != expected)
        {
            throw new ArgumentException(
                $"A {width}x{height} image with {channels} channel(s) needs {expected} bytes, got {pixels.Length}.",
                nameof(pixels));
        }

        var image = Rent(width, height);
        var destination = image.Pixels;
        switch (channels)
        {
            case 1:
                PixelConverter.GrayToRgb(pixels, destination);
                break;
            case 3:
                pixels.CopyTo(destination);
                break;
            default:
                PixelConverter.RgbaToRgb(pixels, width, height, ExifOrientation.TopLeft, destination, alphaMode);
                break;
        }

        return image;
    }

    /// <summary>
    /// Returns the pixel buffer to the pool. Idempotent. Not thread-safe with respect to other uses of the instance.
    /// </summary>
    public void Dispose()
    {
        var buffer = _buffer;
        if (buffer is null)
        {
            return;
        }

        _buffer = null;
        ArrayPool<byte>.Shared.Return(buffer);
        _reservation?.Dispose();
        _reservation = null;
    }

    /// <summary>
    /// Ties a reservation of memory (a <see cref="DecodeBudget"/> one) to this image: <see cref="Dispose"/> gives it
    /// back together with the pixels, whoever disposes the image.
    /// </summary>
    internal void HoldUntilDisposed(IDisposable reservation)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        _reservation = reservation;
    }

    /// <summary>
    /// Creates an image over a rented buffer whose contents are unspecified; the caller must overwrite every byte.
    /// </summary>
    internal static RgbImage Rent(int width, int height)
    {
        ValidateDimensions(width, height);
        return new RgbImage(ArrayPool<byte>.Shared.Rent(width * height * Channels), width, height);
    }

    private static void ValidateDimensions(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if ((long)width * height * Channels > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(width), $"A {width}x{height} RGB image does not fit in one buffer ({Array.MaxLength} bytes at most).");
        }
    }
}
