using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>Builds small encoded images in memory so the decoder tests need no binary fixtures.</summary>
internal static class TestImages
{
    /// <summary>Encodes straight-alpha RGBA pixels as PNG (lossless, alpha and hidden colours kept).</summary>
    public static byte[] EncodeRgbaPng(byte[] rgba, int width, int height) =>
        Encode(rgba, new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul), SKEncodedImageFormat.Png, 100);

    /// <summary>Encodes 8-bit gray pixels as a grayscale PNG.</summary>
    public static byte[] EncodeGrayPng(byte[] gray, int width, int height) =>
        Encode(gray, new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), SKEncodedImageFormat.Png, 100);

    /// <summary>Encodes 8-bit gray pixels as a grayscale JPEG.</summary>
    public static byte[] EncodeGrayJpeg(byte[] gray, int width, int height) =>
        Encode(gray, new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), SKEncodedImageFormat.Jpeg, 95);

    /// <summary>Encodes opaque RGB pixels as a JPEG.</summary>
    public static byte[] EncodeRgbJpeg(byte[] rgb, int width, int height) =>
        Encode(ToOpaqueRgba(rgb), new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), SKEncodedImageFormat.Jpeg, 95);

    /// <summary>Encodes opaque RGB pixels in a lossless format (PNG or lossless WebP at quality 100).</summary>
    public static byte[] EncodeRgb(byte[] rgb, int width, int height, SKEncodedImageFormat format) =>
        Encode(ToOpaqueRgba(rgb), new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), format, 100);

    /// <summary>A PNG of random pixels, the same for the same arguments.</summary>
    public static byte[] RandomPng(int width, int height, int seed)
    {
        var rgb = new byte[width * height * 3];
        new Random(seed).NextBytes(rgb);
        return EncodeRgb(rgb, width, height, SKEncodedImageFormat.Png);
    }

    /// <summary>
    /// Inserts an APP1 Exif segment holding only the orientation tag right after the JPEG's SOI marker.
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        // TIFF little-endian header, one IFD entry: tag 0x0112 (Orientation), type SHORT, count 1, value.
        byte[] tiff =
        [
            (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0,
            1, 0,
            0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte)orientation, 0, 0, 0,
            0, 0, 0, 0,
        ];
        byte[] exifHeader = "Exif\0\0"u8.ToArray();
        int segmentLength = 2 + exifHeader.Length + tiff.Length;
        var result = new List<byte>(jpeg.Length + segmentLength + 2);
        result.AddRange(jpeg.AsSpan(0, 2));
        result.Add(0xFF);
        result.Add(0xE1);
        result.Add((byte)(segmentLength >> 8));
        result.Add((byte)segmentLength);
        result.AddRange(exifHeader);
        result.AddRange(tiff);
        result.AddRange(jpeg.AsSpan(2));
        return [.. result];
    }

    /// <summary>
    /// A syntactically valid PNG whose header declares <paramref name="width"/>×<paramref name="height"/> RGB but whose
    /// image data is a few bytes: decoding it for real would fail, so rejecting it proves the size check ran first.
    /// </summary>
    public static byte[] PngHeaderOnly(int width, int height)
    {
        var png = new List<byte>();
        png.AddRange([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB
        AddChunk(png, "IHDR", ihdr);
        AddChunk(png, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
        AddChunk(png, "IEND", []);
        return [.. png];
    }

    /// <summary>A 16-bit grayscale PNG (bit depth 16, colour type 0) with the given big-endian samples.</summary>
    public static byte[] Gray16Png(ushort[] samples, int width, int height)
    {
        var raw = new byte[height * (1 + (width * 2))];
        for (int y = 0; y < height; y++)
        {
            int row = y * (1 + (width * 2));
            raw[row] = 0; // filter: none
            for (int x = 0; x < width; x++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(raw.AsSpan(row + 1 + (x * 2)), samples[(y * width) + x]);
            }
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        var png = new List<byte>();
        png.AddRange([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 16; // bit depth
        ihdr[9] = 0; // grayscale
        AddChunk(png, "IHDR", ihdr);
        AddChunk(png, "IDAT", compressed.ToArray());
        AddChunk(png, "IEND", []);
        return [.. png];
    }

    /// <summary>
    /// A two-frame animated 1x1 GIF: frame 0 is red, frame 1 is blue (global palette [red, blue]).
    /// </summary>
    public static byte[] TwoFrameGif()
    {
        var gif = new List<byte>();
        gif.AddRange("GIF89a"u8.ToArray());
        gif.AddRange([1, 0, 1, 0, 0x80, 0, 0]); // 1x1, global colour table of 2 entries
        gif.AddRange([255, 0, 0, 0, 0, 255]); // red, blue
        gif.AddRange([0x21, 0xFF, 11]);
        gif.AddRange("NETSCAPE2.0"u8.ToArray());
        gif.AddRange([3, 1, 0, 0, 0]); // loop forever
        AddGifFrame(gif, 0);
        AddGifFrame(gif, 1);
        gif.Add(0x3B);
        return [.. gif];
    }

    private static void AddGifFrame(List<byte> gif, int colorIndex)
    {
        gif.AddRange([0x21, 0xF9, 4, 0, 10, 0, 0, 0]); // graphic control: 100 ms, no transparency
        gif.AddRange([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // image descriptor 1x1 at (0, 0)
        // LZW, minimum code size 2 (3-bit codes): clear (4), the index, end (5), packed LSB first.
        int bits = 4 | (colorIndex << 3) | (5 << 6);
        gif.AddRange([2, 2, (byte)bits, (byte)(bits >> 8), 0]);
    }

    private static void AddChunk(List<byte> png, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        for (int i = 0; i < 4; i++)
        {
            header[4 + i] = (byte)type[i];
        }

        png.AddRange(header);
        png.AddRange(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(header.AsSpan(4), data));
        png.AddRange(crc);
    }

    private static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        crc = Update(crc, type);
        crc = Update(crc, data);
        return ~crc;

        static uint Update(uint crc, ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
                }
            }

            return crc;
        }
    }

    /// <summary>Interleaved RGB → RGBA with alpha 255.</summary>
    internal static byte[] ToOpaqueRgba(byte[] rgb)
    {
        var rgba = new byte[rgb.Length / 3 * 4];
        for (int i = 0, o = 0; i < rgb.Length; i += 3, o += 4)
        {
            rgba[o] = rgb[i];
            rgba[o + 1] = rgb[i + 1];
            rgba[o + 2] = rgb[i + 2];
            rgba[o + 3] = 255;
        }

        return rgba;
    }

    private static byte[] Encode(byte[] pixels, SKImageInfo info, SKEncodedImageFormat format, int quality)
    {
        using var image = SKImage.FromPixelCopy(info, pixels);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
