using System.Buffers.Binary;
using System.Text;

namespace Truss.Clip.Tests.Properties.Shared;

/// <summary>What one <see cref="Mutation"/> does to a byte string.</summary>
internal enum MutationKind
{
    FlipBit,
    RandomByte,
    Interesting8,
    Interesting16,
    Interesting32,
    InsertBytes,
    InsertRepeated,
    DeleteRange,
    DuplicateRange,
    Truncate,
    SpliceHead,
    SpliceTail,
    InsertToken,
    OverwriteToken,
    SetImageSize,
    FixPngCrcs,
}

/// <summary>
/// One edit, described by plain non-negative integers that <see cref="ByteMutator.Apply"/> maps onto the input
/// (positions modulo its length, table entries modulo the table size), so that a property generator and the fuzz
/// runner's random source can both produce them and a failing case prints as a readable, replayable recipe.
/// </summary>
internal readonly record struct Mutation(MutationKind Kind, int A, int B, int C);

/// <summary>
/// The AFL-style havoc mutations shared by the property tests (through FsCheck generators) and the bounded fuzz
/// runner (through <see cref="System.Random"/>): bit flips, random and "interesting" values, inserts, deletes,
/// duplications, truncation, splices with other seeds, dictionary tokens, and two image-aware edits (rewrite the
/// declared width/height in the header of a PNG, GIF, BMP, JPEG, WebP or ICO, and repair PNG chunk CRCs so that a
/// mutated PNG gets past libpng's checksum test into the deeper code).
/// </summary>
/// <remarks>Shared, as source, with the fuzz project; depends on nothing but the BCL.</remarks>
internal static class ByteMutator
{
    private static readonly byte[] Interesting8Values = [0, 1, 0x10, 0x20, 0x40, 0x7F, 0x80, 0xFF];
    private static readonly ushort[] Interesting16Values = [0, 1, 0x00FF, 0x0100, 0x7FFF, 0x8000, 0xFFFF, 1000];
    private static readonly uint[] Interesting32Values = [0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 100_000];

    /// <summary>Declared sizes that sit on limits: zero, one, byte/short/int edges, and just over the decoder's caps.</summary>
    private static readonly uint[] InterestingDimensions =
        [0, 1, 2, 3, 255, 256, 4096, 7072, 16383, 16384, 46341, 65535, 65536, 100_000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    /// <summary>Dictionary tokens for JSON requests: structure, field names, number and string edge cases.</summary>
    public static IReadOnlyList<byte[]> JsonTokens { get; } = Tokens(
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\"labels\"", "\"image\"", "\"image_url\"", "\"image_base64\"", "null", "true",
        "false", "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "0.0", "255", "256", "-1", "1.5",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890", "\\u0000",
        "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\\"", "\\/", "\\x", "\"data:image/png;base64,\"", "\"iVBORw0KGgo=\"", "\"\"",
        "\"   \"", "[[[0,0,0]]]", "[[[]]]", "[[]]", "/*", "//", "\ufeff", "\u00a0", "\u2028", "\t", "\r\n",
        new string('[', 70), new string(']', 70));

    /// <summary>Dictionary tokens for msgpack requests: type codes whose lengths and payloads stress the reader.</summary>
    public static IReadOnlyList<byte[]> MsgPackTokens { get; } =
    [
        [0xC0], [0xC1], [0xC2], [0xC3], [0xCA, 0x7F, 0xC0, 0, 0], [0xCB, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0],
        [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0], [0xDC, 0xFF, 0xFF],
        [0xDD, 0x7F, 0xFF, 0xFF, 0xFF], [0xDE, 0xFF, 0xFF], [0xDF, 0xFF, 0xFF, 0xFF, 0xFF], [0xDB, 0xFF, 0xFF, 0xFF, 0xFF],
        [0xC6, 0x7F, 0xFF, 0xFF, 0xFF], [0xD4, 0x01, 0x00], [0xD6, 0xFF, 0, 0, 0, 0], [0xC7, 0x0C, 0xFF], [0xA6, .. "labels"u8],
        [0xA5, .. "image"u8], [0xA9, .. "image_url"u8], [0xAC, .. "image_base64"u8], [0x91, 0x91, 0x93, 0, 0, 0],
        [0xA2, 0xED, 0xA0], [0xA1, 0xFF], [0x90], [0x80], [0xC4, 0x00],
    ];

    /// <summary>Dictionary tokens for images: magic numbers, chunk and marker names.</summary>
    public static IReadOnlyList<byte[]> ImageTokens { get; } =
    [
        [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], [.. "IHDR"u8], [.. "IDAT"u8], [.. "IEND"u8], [.. "PLTE"u8],
        [.. "tRNS"u8], [.. "acTL"u8], [.. "fcTL"u8], [.. "iCCP"u8], [0xFF, 0xD8, 0xFF], [0xFF, 0xC0], [0xFF, 0xC2], [0xFF, 0xC4],
        [0xFF, 0xDA], [0xFF, 0xDB], [0xFF, 0xD9], [0xFF, 0xE1], [.. "Exif\0\0"u8], [.. "GIF89a"u8], [0x21, 0xF9, 0x04],
        [0x2C], [0x3B], [.. "NETSCAPE2.0"u8], [.. "BM"u8], [.. "RIFF"u8], [.. "WEBP"u8], [.. "VP8 "u8], [.. "VP8L"u8],
        [.. "VP8X"u8], [.. "ALPH"u8], [.. "ANIM"u8], [.. "ANMF"u8], [0x00, 0x00, 0x01, 0x00], [.. "ftypavif"u8], [.. "ftypheic"u8],
    ];

    /// <summary>Applies <paramref name="mutation"/> to a copy of <paramref name="input"/>, keeping the result under <paramref name="maxLength"/> bytes.</summary>
    /// <param name="input">The bytes to mutate; not modified.</param>
    /// <param name="mutation">The edit.</param>
    /// <param name="donors">Other inputs to splice with (may be empty).</param>
    /// <param name="tokens">Dictionary tokens (may be empty).</param>
    /// <param name="maxLength">Cap on the result's length, so repeated inserts cannot grow inputs without bound.</param>
    public static byte[] Apply(byte[] input, Mutation mutation, IReadOnlyList<byte[]> donors, IReadOnlyList<byte[]> tokens, int maxLength = 1 << 16)
    {
        var data = new List<byte>(input);
        int a = mutation.A & int.MaxValue;
        int b = mutation.B & int.MaxValue;
        int c = mutation.C & int.MaxValue;
        switch (mutation.Kind)
        {
            case MutationKind.FlipBit when data.Count > 0:
                data[a % data.Count] ^= (byte)(1 << (b % 8));
                break;
            case MutationKind.RandomByte when data.Count > 0:
                data[a % data.Count] = (byte)b;
                break;
            case MutationKind.Interesting8 when data.Count > 0:
                data[a % data.Count] = Interesting8Values[b % Interesting8Values.Length];
                break;
            case MutationKind.Interesting16 when data.Count >= 2:
                Write(data, a % (data.Count - 1), Interesting16Values[b % Interesting16Values.Length], 2, bigEndian: c % 2 == 1);
                break;
            case MutationKind.Interesting32 when data.Count >= 4:
                Write(data, a % (data.Count - 3), Interesting32Values[b % Interesting32Values.Length], 4, bigEndian: c % 2 == 1);
                break;
            case MutationKind.InsertBytes:
                data.InsertRange(a % (data.Count + 1), Enumerable.Range(0, 1 + (b % 8)).Select(i => (byte)((c >> (i % 4 * 8)) + i)));
                break;
            case MutationKind.InsertRepeated:
                data.InsertRange(a % (data.Count + 1), Enumerable.Repeat((byte)c, 1 + (b % 256)));
                break;
            case MutationKind.DeleteRange when data.Count > 0:
                {
                    int start = a % data.Count;
                    data.RemoveRange(start, Math.Min(1 + (b % 64), data.Count - start));
                    break;
                }

            case MutationKind.DuplicateRange when data.Count > 0:
                {
                    int start = a % data.Count;
                    var range = data.GetRange(start, Math.Min(1 + (b % 64), data.Count - start));
                    data.InsertRange(c % (data.Count + 1), range);
                    break;
                }

            case MutationKind.Truncate when data.Count > 0:
                data.RemoveRange(a % data.Count, data.Count - (a % data.Count));
                break;
            case MutationKind.SpliceHead when donors.Count > 0:
                {
                    // This input's head, another one's tail: a valid header over foreign (or mismatched) content.
                    var donor = donors[c % donors.Count];
                    int keep = data.Count == 0 ? 0 : a % data.Count;
                    int from = donor.Length == 0 ? 0 : b % donor.Length;
                    data.RemoveRange(keep, data.Count - keep);
                    data.AddRange(donor.AsSpan(from).ToArray());
                    break;
                }

            case MutationKind.SpliceTail when donors.Count > 0:
                {
                    // Another input's header over this one's body.
                    var donor = donors[c % donors.Count];
                    int take = donor.Length == 0 ? 0 : 1 + (b % donor.Length);
                    int from = data.Count == 0 ? 0 : a % data.Count;
                    data.RemoveRange(0, from);
                    data.InsertRange(0, donor.AsSpan(0, Math.Min(take, donor.Length)).ToArray());
                    break;
                }

            case MutationKind.InsertToken when tokens.Count > 0:
                data.InsertRange(a % (data.Count + 1), tokens[b % tokens.Count]);
                break;
            case MutationKind.OverwriteToken when tokens.Count > 0 && data.Count > 0:
                {
                    var token = tokens[b % tokens.Count];
                    int start = a % data.Count;
                    for (int i = 0; i < token.Length; i++)
                    {
                        if (start + i < data.Count)
                        {
                            data[start + i] = token[i];
                        }
                        else
                        {
                            data.Add(token[i]);
                        }
                    }

                    break;
                }

            case MutationKind.SetImageSize:
                {
                    var bytes = data.ToArray();
                    SetImageSize(bytes, InterestingDimensions[a % InterestingDimensions.Length], InterestingDimensions[b % InterestingDimensions.Length], c);
                    return Cap(bytes, maxLength);
                }

            case MutationKind.FixPngCrcs:
                {
                    var bytes = data.ToArray();
                    FixPngCrcs(bytes);
                    return Cap(bytes, maxLength);
                }
        }

        return Cap([.. data], maxLength);
    }

    /// <summary>A random mutation for the fuzz runner; the kinds that need donors or tokens fall back to a bit flip when there are none.</summary>
    public static Mutation Next(Random random) =>
        new((MutationKind)random.Next(Enum.GetValues<MutationKind>().Length), random.Next(), random.Next(), random.Next());

    /// <summary>Applies 1 to <paramref name="maxStack"/> random mutations in a row (AFL's "havoc" stacking).</summary>
    public static byte[] Havoc(byte[] input, Random random, int maxStack, IReadOnlyList<byte[]> donors, IReadOnlyList<byte[]> tokens, int maxLength)
    {
        var data = input;
        int count = 1 << random.Next(1 + (int)Math.Log2(maxStack));
        for (int i = 0; i < count; i++)
        {
            data = Apply(data, Next(random), donors, tokens, maxLength);
        }

        return data;
    }

    /// <summary>The PNG/zlib CRC-32 of <paramref name="bytes"/>.</summary>
    public static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte value in bytes)
        {
            crc ^= value;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }

    /// <summary>Rewrites the declared size in the header of a PNG, GIF, BMP, JPEG, WebP or ICO, in place; other data is left alone.</summary>
    /// <param name="image">The encoded image.</param>
    /// <param name="width">New width (truncated to the field's width).</param>
    /// <param name="height">New height (truncated to the field's width).</param>
    /// <param name="variant">Bit 0: also rewrite the GIF frame / use a negative (top-down) BMP height.</param>
    public static void SetImageSize(byte[] image, uint width, uint height, int variant)
    {
        var span = image.AsSpan();
        if (span.Length >= 33 && span[..8].SequenceEqual((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[16..], width);
            BinaryPrimitives.WriteUInt32BigEndian(span[20..], height);
            BinaryPrimitives.WriteUInt32BigEndian(span[29..], Crc32(span[12..29]));
        }
        else if (span.Length >= 13 && span[..4].SequenceEqual("GIF8"u8))
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)width);
            BinaryPrimitives.WriteUInt16LittleEndian(span[8..], (ushort)height);
            int descriptor = span[13..].IndexOf((byte)0x2C);
            if (variant % 2 == 1 && descriptor >= 0 && 13 + descriptor + 9 <= span.Length)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span[(13 + descriptor + 5)..], (ushort)width);
                BinaryPrimitives.WriteUInt16LittleEndian(span[(13 + descriptor + 7)..], (ushort)height);
            }
        }
        else if (span.Length >= 26 && span[0] == 'B' && span[1] == 'M')
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[18..], width);
            BinaryPrimitives.WriteInt32LittleEndian(span[22..], variant % 2 == 1 ? -(int)height : (int)height);
        }
        else if (span.Length >= 4 && span[0] == 0xFF && span[1] == 0xD8)
        {
            for (int i = 2; i + 9 <= span.Length; i++)
            {
                if (span[i] == 0xFF && span[i + 1] is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(span[(i + 5)..], (ushort)height);
                    BinaryPrimitives.WriteUInt16BigEndian(span[(i + 7)..], (ushort)width);
                    break;
                }
            }
        }
        else if (span.Length >= 30 && span[..4].SequenceEqual("RIFF"u8) && span[8..12].SequenceEqual("WEBP"u8))
        {
            var chunk = span[12..16];
            if (chunk.SequenceEqual("VP8X"u8))
            {
                WriteUInt24(span[24..], width - 1);
                WriteUInt24(span[27..], height - 1);
            }
            else if (chunk.SequenceEqual("VP8L"u8))
            {
                uint packed = BinaryPrimitives.ReadUInt32LittleEndian(span[21..]);
                packed = (packed & 0xF000_0000) | ((width - 1) & 0x3FFF) | (((height - 1) & 0x3FFF) << 14);
                BinaryPrimitives.WriteUInt32LittleEndian(span[21..], packed);
            }
            else if (chunk.SequenceEqual("VP8 "u8))
            {
                BinaryPrimitives.WriteUInt16LittleEndian(span[26..], (ushort)width);
                BinaryPrimitives.WriteUInt16LittleEndian(span[28..], (ushort)height);
            }
        }
        else if (span.Length >= 8 && span[0] == 0 && span[1] == 0 && span[2] == 1 && span[3] == 0)
        {
            span[6] = (byte)width;
            span[7] = (byte)height;
        }
    }

    /// <summary>Recomputes the CRC of every complete chunk of a PNG, in place (no-op for anything else).</summary>
    public static void FixPngCrcs(byte[] png)
    {
        if (png.Length < 8 || png[0] != 0x89 || png[1] != 'P')
        {
            return;
        }

        long at = 8;
        while (at + 12 <= png.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan((int)at));
            if (at + 12 + length > png.Length)
            {
                break;
            }

            var crc = Crc32(png.AsSpan((int)at + 4, (int)length + 4));
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan((int)(at + 8 + length)), crc);
            at += 12 + length;
        }
    }

    private static void Write(List<byte> data, int at, uint value, int size, bool bigEndian)
    {
        for (int i = 0; i < size; i++)
        {
            int shift = 8 * (bigEndian ? size - 1 - i : i);
            data[at + i] = (byte)(value >> shift);
        }
    }

    private static void WriteUInt24(Span<byte> span, uint value)
    {
        span[0] = (byte)value;
        span[1] = (byte)(value >> 8);
        span[2] = (byte)(value >> 16);
    }

    private static byte[] Cap(byte[] data, int maxLength) => data.Length <= maxLength ? data : data[..maxLength];

    private static byte[][] Tokens(params string[] tokens) => [.. tokens.Select(Encoding.UTF8.GetBytes)];
}
