using System.Buffers;
using Clip.Imaging;
using Truss.Server;

namespace Truss.Clip;

/// <summary>
/// Turns the seed API's <c>image</c> field, a nested list of shape H×W×3 (also H×W gray, H×W×1 and H×W×4 RGBA)
/// of integers 0–255 as numpy's <c>tolist()</c> produces, into an <see cref="RgbImage"/>. Every row and pixel is
/// checked; errors name the first offending index so a caller can fix their encoder.
/// </summary>
internal static class PixelArray
{
    /// <summary>Parses and validates <paramref name="value"/>; the caller owns (and disposes) the result.</summary>
    public static RgbImage ToImage(object? value, long maxPixels, AlphaMode alphaMode, string field = "image")
    {
        if (value is not List<object?> rows || rows.Count == 0 || rows[0] is not List<object?> firstRow || firstRow.Count == 0)
        {
            throw Invalid(field, "must be a non-empty H×W×3 array of integers 0-255");
        }

        var height = rows.Count;
        var width = firstRow.Count;
        var channels = firstRow[0] is List<object?> firstPixel ? firstPixel.Count : 1;
        var nested = firstRow[0] is List<object?>;
        if (channels is not (1 or 3 or 4))
        {
            throw Invalid(field, $"pixels must have 1, 3 or 4 channels (H×W, H×W×3 or H×W×4), got {channels} at {field}[0][0]");
        }

        if ((long)width * height > maxPixels)
        {
            throw new ModelInputException(
                $"`{field}` is {width}x{height} = {(long)width * height} pixels, more than the limit of {maxPixels} " +
                "(model_metadata.clip.image.max_pixels)", 413);
        }

        var length = width * height * channels;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var offset = 0;
            for (var y = 0; y < height; y++)
            {
                if (rows[y] is not List<object?> row || row.Count != width)
                {
                    throw Invalid(field, $"rows must all have {width} pixels; {field}[{y}] is {Describe(rows[y])}");
                }

                for (var x = 0; x < width; x++)
                {
                    if (!nested)
                    {
                        buffer[offset++] = ToByte(row[x], field, y, x, null);
                        continue;
                    }

                    if (row[x] is not List<object?> pixel || pixel.Count != channels)
                    {
                        throw Invalid(field, $"pixels must all have {channels} channels; {field}[{y}][{x}] is {Describe(row[x])}");
                    }

                    for (var c = 0; c < channels; c++)
                    {
                        buffer[offset++] = ToByte(pixel[c], field, y, x, c);
                    }
                }
            }

            return RgbImage.FromInterleaved(buffer.AsSpan(0, length), width, height, channels, alphaMode);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static byte ToByte(object? value, string field, int y, int x, int? c)
    {
        switch (value)
        {
            case long integer and >= 0 and <= 255:
                return (byte)integer;
            case double number when number >= 0 && number <= 255 && Math.Floor(number) == number:
                return (byte)number;
            default:
                var index = c is null ? $"{field}[{y}][{x}]" : $"{field}[{y}][{x}][{c}]";
                throw Invalid(field, $"pixel values must be integers from 0 to 255; {index} is {Describe(value)}", value is long or double ? 422 : 400);
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        List<object?> list => $"a list of {list.Count}",
        string => "a string",
        bool b => b ? "true" : "false",
        double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        byte[] bytes => $"binary data of {bytes.Length} bytes",
        OrderedDictionary<string, object?> => "an object",
        _ => "a value of an unsupported type",
    };

    private static ModelInputException Invalid(string field, string detail, int status = 400) => new($"`{field}` {detail}", status);
}
