using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace Truss.Clip.Tests.Properties.Shared;

/// <summary>
/// Tiny valid images in every format the decoder claims (PNG, JPEG, WebP, GIF, BMP) plus the extra ones the bundled
/// Skia build also opens (ICO, WBMP), used as the starting points of the mutation properties and as the image fuzz
/// target's seed corpus.
/// </summary>
/// <remarks>
/// Shared, as source, with the fuzz project (<c>fuzz/Truss.Clip.Fuzz.csproj</c> links this file), so it depends on
/// SkiaSharp only, never on NUnit or FsCheck. Skia encodes PNG, JPEG and WebP; GIF, BMP, ICO, WBMP and the PNG
/// variants Skia never writes (palette + tRNS, 16-bit, Adam7) are built byte by byte. Each seed is a few hundred
/// bytes at most: small inputs keep every mutation close to a header, where decoders branch the most.
/// </remarks>
internal static class SeedImages
{
    /// <summary>Every seed, by a short name that says what it exercises (also its corpus file name).</summary>
    public static IReadOnlyList<(string Name, byte[] Bytes)> All { get; } = Build();

    private static List<(string Name, byte[] Bytes)> Build()
    {
        var rgb4x3 = Pattern(4, 3, 3);
        var rgba3x3 = Pattern(3, 3, 4);
        var rgb8x8 = Pattern(8, 8, 3);
        return
        [
            ("rgb-4x3.png", Encode(ToRgba(rgb4x3), 4, 3, SKColorType.Rgba8888, SKAlphaType.Opaque, SKEncodedImageFormat.Png, 100)),
            ("rgba-3x3.png", Encode(rgba3x3, 3, 3, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKEncodedImageFormat.Png, 100)),
            ("gray-5x2.png", Encode(Pattern(5, 2, 1), 5, 2, SKColorType.Gray8, SKAlphaType.Opaque, SKEncodedImageFormat.Png, 100)),
            ("palette-trns-3x2.png", PalettePng()),
            ("rgba16-2x2.png", Rgba16Png()),
            ("adam7-rgb-5x5.png", InterlacedRgbPng(5, 5)),
            ("rgb-8x8.jpg", Encode(ToRgba(rgb8x8), 8, 8, SKColorType.Rgba8888, SKAlphaType.Opaque, SKEncodedImageFormat.Jpeg, 90)),
            ("gray-8x4.jpg", Encode(Pattern(8, 4, 1), 8, 4, SKColorType.Gray8, SKAlphaType.Opaque, SKEncodedImageFormat.Jpeg, 90)),
            ("exif6-rgb-8x8.jpg", WithExifOrientation(Encode(ToRgba(rgb8x8), 8, 8, SKColorType.Rgba8888, SKAlphaType.Opaque, SKEncodedImageFormat.Jpeg, 90), 6)),
            ("lossy-8x8.webp", Encode(ToRgba(rgb8x8), 8, 8, SKColorType.Rgba8888, SKAlphaType.Opaque, SKEncodedImageFormat.Webp, 80)),
            ("lossless-rgba-3x3.webp", Encode(rgba3x3, 3, 3, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKEncodedImageFormat.Webp, 100)),
            ("palette-2x2.gif", Gif(animated: false)),
            ("animated-transparent-2x2.gif", Gif(animated: true)),
            ("rgb24-bottomup-3x2.bmp", Bmp(3, 2, 24, topDown: false)),
            ("rgba32-topdown-2x2.bmp", Bmp(2, 2, 32, topDown: true)),
            ("palette8-2x2.bmp", Bmp(2, 2, 8, topDown: false)),
            ("png-in-3x3.ico", IcoWithPng(Encode(rgba3x3, 3, 3, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKEncodedImageFormat.Png, 100))),
            ("8x2.wbmp", [0x00, 0x00, 0x08, 0x02, 0b1010_1010, 0b0101_0101]),
        ];
    }

    /// <summary>A deterministic gradient with every channel varying, so that decoders cannot take a flat-colour shortcut.</summary>
    private static byte[] Pattern(int width, int height, int channels)
    {
        var pixels = new byte[width * height * channels];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37) + (i / channels * 11));
        }

        if (channels == 4)
        {
            for (int i = 3; i < pixels.Length; i += 4)
            {
                pixels[i] = (byte)(i * 29); // a mix of transparent, translucent and opaque pixels
            }
        }

        return pixels;
    }

    // Kept local (not TestImages.ToOpaqueRgba): this file is also compiled into fuzz/, which has no test helpers.
    private static byte[] ToRgba(byte[] rgb)
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

    private static byte[] Encode(byte[] pixels, int width, int height, SKColorType colorType, SKAlphaType alphaType, SKEncodedImageFormat format, int quality)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, colorType, alphaType), pixels);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    private static byte[] PalettePng()
    {
        byte[] ihdr = Ihdr(3, 2, bitDepth: 8, colorType: 3, interlace: 0);
        byte[] plte = [255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9];
        byte[] trns = [0, 128, 255];
        byte[] rows = [0, 0, 1, 2, 0, 3, 2, 1];
        return Png(("IHDR", ihdr), ("PLTE", plte), ("tRNS", trns), ("IDAT", Zlib(rows)), ("IEND", []));
    }

    private static byte[] Rgba16Png()
    {
        var rows = new List<byte>();
        for (int y = 0; y < 2; y++)
        {
            rows.Add(0);
            for (int i = 0; i < 2 * 8; i++)
            {
                rows.Add((byte)((y * 91) + (i * 53)));
            }
        }

        return Png(("IHDR", Ihdr(2, 2, bitDepth: 16, colorType: 6, interlace: 0)), ("IDAT", Zlib([.. rows])), ("IEND", []));
    }

    /// <summary>An 8-bit RGB Adam7 PNG: seven reduced images, each row with filter type 0.</summary>
    private static byte[] InterlacedRgbPng(int width, int height)
    {
        (int X0, int Y0, int Dx, int Dy)[] passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        var raw = new List<byte>();
        foreach (var (x0, y0, dx, dy) in passes)
        {
            for (int y = y0; y < height; y += dy)
            {
                if (x0 >= width)
                {
                    break; // an empty reduced image has no rows at all
                }

                raw.Add(0);
                for (int x = x0; x < width; x += dx)
                {
                    raw.AddRange([(byte)(x * 50), (byte)(y * 50), (byte)((x + y) * 25)]);
                }
            }
        }

        return Png(("IHDR", Ihdr(width, height, bitDepth: 8, colorType: 2, interlace: 1)), ("IDAT", Zlib([.. raw])), ("IEND", []));
    }

    private static byte[] Ihdr(int width, int height, byte bitDepth, byte colorType, byte interlace)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colorType;
        ihdr[12] = interlace;
        return ihdr;
    }

    private static byte[] Png(params (string Type, byte[] Data)[] chunks)
    {
        var png = new List<byte>([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        foreach (var (type, data) in chunks)
        {
            var chunk = new byte[12 + data.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
            for (int i = 0; i < 4; i++)
            {
                chunk[4 + i] = (byte)type[i];
            }

            data.CopyTo(chunk, 8);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), ByteMutator.Crc32(chunk.AsSpan(4, 4 + data.Length)));
            png.AddRange(chunk);
        }

        return [.. png];
    }

    private static byte[] Zlib(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>A 2x2 GIF89a with a 4-colour global palette; the animated variant adds a transparent second frame.</summary>
    private static byte[] Gif(bool animated)
    {
        var gif = new List<byte>();
        gif.AddRange("GIF89a"u8.ToArray());
        gif.AddRange([2, 0, 2, 0, 0x81, 0, 0]); // 2x2, global colour table of 4 entries
        gif.AddRange([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
        if (animated)
        {
            gif.AddRange([0x21, 0xFF, 11]);
            gif.AddRange("NETSCAPE2.0"u8.ToArray());
            gif.AddRange([3, 1, 0, 0, 0]);
        }

        AddGifFrame(gif, transparentIndex: animated ? 3 : -1);
        if (animated)
        {
            AddGifFrame(gif, transparentIndex: 0);
        }

        gif.Add(0x3B);
        return [.. gif];
    }

    private static void AddGifFrame(List<byte> gif, int transparentIndex)
    {
        byte flags = transparentIndex >= 0 ? (byte)1 : (byte)0;
        gif.AddRange([0x21, 0xF9, 4, flags, 10, 0, (byte)Math.Max(transparentIndex, 0), 0]);
        gif.AddRange([0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0]); // 2x2 at (0, 0), no local palette
        // LZW with minimum code size 2, LSB first. A clear code (4) after every two indices keeps the table below 8
        // entries, so every code stays 3 bits wide: clear 0 1 clear 2 3 end (5).
        int[] codes = [4, 0, 1, 4, 2, 3, 5];
        long bits = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            bits |= (long)codes[i] << (3 * i);
        }

        gif.AddRange([2, 3, (byte)bits, (byte)(bits >> 8), (byte)(bits >> 16), 0]);
    }

    /// <summary>An uncompressed BMP (BITMAPINFOHEADER) of 8 (palette), 24 or 32 bits per pixel.</summary>
    private static byte[] Bmp(int width, int height, int bitsPerPixel, bool topDown)
    {
        int paletteEntries = bitsPerPixel == 8 ? 4 : 0;
        int stride = ((width * bitsPerPixel) + 31) / 32 * 4;
        int pixelOffset = 14 + 40 + (paletteEntries * 4);
        var bmp = new byte[pixelOffset + (stride * height)];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), pixelOffset);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), topDown ? -height : height);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), (short)bitsPerPixel);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(34), stride * height);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(46), paletteEntries);
        for (int i = 0; i < paletteEntries; i++)
        {
            bmp[54 + (i * 4)] = (byte)(i * 80);
            bmp[55 + (i * 4)] = (byte)(255 - (i * 80));
            bmp[56 + (i * 4)] = (byte)(i * 40);
        }

        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int at = pixelOffset + (y * stride) + (x * bitsPerPixel / 8);
                for (int b = 0; b < bitsPerPixel / 8; b++)
                {
                    bmp[at + b] = bitsPerPixel == 8 ? (byte)((x + y) % paletteEntries) : (byte)((x * 70) + (y * 30) + (b * 50));
                }
            }
        }

        return bmp;
    }

    private static byte[] IcoWithPng(byte[] png)
    {
        var ico = new byte[6 + 16 + png.Length];
        BinaryPrimitives.WriteInt16LittleEndian(ico.AsSpan(2), 1); // type: icon
        BinaryPrimitives.WriteInt16LittleEndian(ico.AsSpan(4), 1); // one image
        ico[6] = 3;
        ico[7] = 3;
        BinaryPrimitives.WriteInt16LittleEndian(ico.AsSpan(10), 1);
        BinaryPrimitives.WriteInt16LittleEndian(ico.AsSpan(12), 32);
        BinaryPrimitives.WriteInt32LittleEndian(ico.AsSpan(14), png.Length);
        BinaryPrimitives.WriteInt32LittleEndian(ico.AsSpan(18), 22);
        png.CopyTo(ico, 22);
        return ico;
    }

    /// <summary>Inserts an APP1 Exif segment holding only the orientation tag right after the JPEG's SOI marker.</summary>
    private static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        byte[] tiff = [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (byte)orientation, 0, 0, 0, 0, 0, 0, 0];
        byte[] exif = [.. "Exif\0\0"u8, .. tiff];
        int length = 2 + exif.Length;
        return [.. jpeg.AsSpan(0, 2), 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. exif, .. jpeg.AsSpan(2)];
    }
}
