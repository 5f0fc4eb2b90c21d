using System.Runtime.Intrinsics;

namespace Clip.Imaging;

/// <summary>
/// EXIF orientation (tag 0x0112), numbered as in the EXIF specification. The name says where the stored row 0 and
/// column 0 end up on screen; e.g. <see cref="RightTop"/> (6): row 0 is the right edge, column 0 the top edge,
/// i.e. the stored pixels must be rotated 90° clockwise for display.
/// </summary>
internal enum ExifOrientation
{
    TopLeft = 1,
    TopRight = 2,
    BottomRight = 3,
    BottomLeft = 4,
    LeftTop = 5,
    RightTop = 6,
    RightBottom = 7,
    LeftBottom = 8,
}

/// <summary>Channel conversions into interleaved RGB, with alpha resolution and EXIF orientation.</summary>
internal static class PixelConverter
{
    /// <summary>Replicates each gray byte into R, G and B.</summary>
    public static void GrayToRgb(ReadOnlySpan<byte> gray, Span<byte> rgb)
    {
        if (rgb.Length < gray.Length * 3)
        {
            throw new ArgumentException($"RGB destination holds {rgb.Length} bytes, {gray.Length * 3} needed.", nameof(rgb));
        }

        for (int i = 0, o = 0; i < gray.Length; i++, o += 3)
        {
            byte g = gray[i];
            rgb[o] = g;
            rgb[o + 1] = g;
            rgb[o + 2] = g;
        }
    }

    /// <summary>Width and height after applying <paramref name="orientation"/> to a stored width×height image.</summary>
    public static (int Width, int Height) OrientedSize(int width, int height, ExifOrientation orientation) =>
        orientation >= ExifOrientation.LeftTop ? (height, width) : (width, height);

    /// <summary>
    /// Converts a stored <paramref name="width"/>×<paramref name="height"/> RGBA image (straight alpha, no row
    /// padding) into the upright RGB image described by <paramref name="orientation"/>, in one pass.
    /// </summary>
    /// <remarks>
    /// Each display pixel (dx, dy) reads the stored pixel <c>origin + dx * stepX + dy * stepY</c> (in pixels), so all
    /// eight orientations share one gather loop and the destination is written sequentially. The destination holds
    /// <c>width * height * 3</c> bytes (the oriented size has the same pixel count) and must not overlap the source.
    /// </remarks>
    public static unsafe void RgbaToRgb(
        ReadOnlySpan<byte> rgba, int width, int height, ExifOrientation orientation, Span<byte> rgb, AlphaMode alphaMode)
    {
        long pixels = (long)width * height;
        if (rgba.Length < pixels * 4 || rgb.Length < pixels * 3)
        {
            throw new ArgumentException(
                $"A {width}x{height} conversion needs {pixels * 4} RGBA and {pixels * 3} RGB bytes, got {rgba.Length} and {rgb.Length}.");
        }

        fixed (byte* source = rgba)
        fixed (byte* destination = rgb)
        {
            RgbaToRgb(source, width, height, orientation, destination, alphaMode);
        }
    }

    private static unsafe void RgbaToRgb(
        byte* rgba, int width, int height, ExifOrientation orientation, byte* rgb, AlphaMode alphaMode)
    {
        if (orientation == ExifOrientation.TopLeft && alphaMode == AlphaMode.Drop)
        {
            // The common case (an upright opaque photo) is a plain byte shuffle.
            DropAlphaLinear(rgba, (long)width * height, rgb);
            return;
        }

        (long origin, long stepX, long stepY) = GatherSteps(width, height, orientation);
        (int outWidth, int outHeight) = OrientedSize(width, height, orientation);

        // One loop per alpha mode (via a generic struct) keeps the per-pixel work branch-free.
        switch (alphaMode)
        {
            case AlphaMode.Drop:
                Gather<DropAlpha>(rgba, 4, origin, stepX, stepY, outWidth, outHeight, rgb);
                break;
            case AlphaMode.White:
                Gather<OverWhite>(rgba, 4, origin, stepX, stepY, outWidth, outHeight, rgb);
                break;
            default:
                Gather<OverBlack>(rgba, 4, origin, stepX, stepY, outWidth, outHeight, rgb);
                break;
        }
    }

    /// <summary>
    /// Copies a stored <paramref name="width"/>×<paramref name="height"/> RGB image into the upright image described
    /// by <paramref name="orientation"/> (the same gather as <see cref="RgbaToRgb(ReadOnlySpan{byte}, int, int, ExifOrientation, Span{byte}, AlphaMode)"/>,
    /// three bytes per source pixel). The buffers must not overlap.
    /// </summary>
    public static unsafe void OrientRgb(ReadOnlySpan<byte> source, int width, int height, ExifOrientation orientation, Span<byte> rgb)
    {
        long bytes = (long)width * height * 3;
        if (source.Length < bytes || rgb.Length < bytes)
        {
            throw new ArgumentException(
                $"A {width}x{height} orientation needs {bytes} bytes on both sides, got {source.Length} and {rgb.Length}.");
        }

        (long origin, long stepX, long stepY) = GatherSteps(width, height, orientation);
        (int outWidth, int outHeight) = OrientedSize(width, height, orientation);
        fixed (byte* from = source)
        fixed (byte* to = rgb)
        {
            Gather<DropAlpha>(from, 3, origin, stepX, stepY, outWidth, outHeight, to);
        }
    }

    /// <summary>
    /// Where the gather starts and how far it moves (in stored pixels) per display column and per display row.
    /// </summary>
    private static (long Origin, long StepX, long StepY) GatherSteps(int width, int height, ExifOrientation orientation)
    {
        long w = width;
        long last = width - 1L;
        long bottom = (height - 1L) * w;
        return orientation switch
        {
            ExifOrientation.TopRight => (last, -1L, w),
            ExifOrientation.BottomRight => (bottom + last, -1L, -w),
            ExifOrientation.BottomLeft => (bottom, 1L, -w),
            ExifOrientation.LeftTop => (0L, w, 1L),
            ExifOrientation.RightTop => (bottom, -w, 1L),
            ExifOrientation.RightBottom => (bottom + last, -w, -1L),
            ExifOrientation.LeftBottom => (last, w, -1L),
            _ => (0L, 1L, w),
        };
    }

    private static unsafe void DropAlphaLinear(byte* rgba, long pixels, byte* rgb)
    {
        long i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            // 4 RGBA pixels -> 12 RGB bytes; the 16-byte store spills 4 bytes that the next iteration overwrites,
            // so the loop stops while a full 16 bytes still fit in the destination.
            var keepRgb = Vector128.Create((byte)0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0xFF, 0xFF, 0xFF, 0xFF);
            for (; ((i + 4) * 3) + 4 <= pixels * 3; i += 4)
            {
                Vector128.Shuffle(Vector128.Load(rgba + (i * 4)), keepRgb).Store(rgb + (i * 3));
            }
        }

        for (; i < pixels; i++)
        {
            DropAlpha.Resolve(rgba + (i * 4), rgb + (i * 3));
        }
    }

    private static unsafe void Gather<TAlpha>(
        byte* rgba, int sourceChannels, long origin, long stepX, long stepY, int outWidth, int outHeight, byte* rgb)
        where TAlpha : struct, IAlphaResolver
    {
        byte* destination = rgb;
        for (int dy = 0; dy < outHeight; dy++)
        {
            long index = origin + dy * stepY;
            for (int dx = 0; dx < outWidth; dx++, index += stepX, destination += 3)
            {
                byte* source = rgba + index * sourceChannels;
                TAlpha.Resolve(source, destination);
            }
        }
    }

    private interface IAlphaResolver
    {
        static abstract unsafe void Resolve(byte* rgba, byte* rgb);
    }

    private readonly struct DropAlpha : IAlphaResolver
    {
        public static unsafe void Resolve(byte* rgba, byte* rgb)
        {
            rgb[0] = rgba[0];
            rgb[1] = rgba[1];
            rgb[2] = rgba[2];
        }
    }

    private readonly struct OverBlack : IAlphaResolver
    {
        public static unsafe void Resolve(byte* rgba, byte* rgb)
        {
            uint a = rgba[3];
            rgb[0] = MulDiv255(rgba[0], a);
            rgb[1] = MulDiv255(rgba[1], a);
            rgb[2] = MulDiv255(rgba[2], a);
        }
    }

    private readonly struct OverWhite : IAlphaResolver
    {
        public static unsafe void Resolve(byte* rgba, byte* rgb)
        {
            uint a = rgba[3];
            uint background = 255 - a;
            // c*a/255 + 255*(255-a)/255 = (c*a + 255*(255-a)) / 255, rounded once.
            rgb[0] = (byte)((rgba[0] * a + 255 * background + 127) / 255);
            rgb[1] = (byte)((rgba[1] * a + 255 * background + 127) / 255);
            rgb[2] = (byte)((rgba[2] * a + 255 * background + 127) / 255);
        }
    }

    /// <summary>round(c * a / 255); exact because c * a / 255 is never exactly halfway (255 is odd).</summary>
    private static byte MulDiv255(uint c, uint a) => (byte)((c * a + 127) / 255);
}
