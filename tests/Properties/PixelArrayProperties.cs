using Clip.Imaging;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="PixelArray.ToImage"/> over generated nested lists (H×W, H×W×C with right and wrong C,
/// ragged rows, odd pixels, out-of-range, fractional, non-finite and non-numeric values): the result is an image of
/// exactly the declared size holding exactly the sent pixels, or a <see cref="ModelInputException"/> about `image`.
/// The expected outcome comes from an independent reading of the README's contract, not from the parser.
/// </summary>
public class PixelArrayProperties
{
    /// <summary>A generated <c>image</c> field; <see cref="ToString"/> keeps FsCheck's failure report readable.</summary>
    public sealed record PixelCase(object? Value, string Recipe)
    {
        public override string ToString() => $"{Recipe}: {ValueTree.Describe(Value, 600)}";
    }

    private static readonly Gen<object?> ValidValue = Gen.Frequency(
        (8, Gen.Choose(0, 255).Select(v => (object?)(long)v)),
        (1, Gen.Choose(0, 255).Select(v => (object?)(double)v)),
        (1, Gen.Elements<object?>(0L, 255L, -0.0, 255.0)));

    private static readonly Gen<object?> InvalidValue = Gen.Frequency(
        (3, Gen.Elements<object?>(-1L, 256L, long.MinValue, long.MaxValue, 1000L)),
        (2, Gen.Elements<object?>(0.5, 254.9, 255.5, -0.5, -1.0, 256.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, 1e300)),
        (2, Gen.Elements<object?>(null, true, false, "7", "", new byte[] { 1 })),
        (1, Gen.Elements<object?>(new List<object?>(), new List<object?> { 1L }, new OrderedDictionary<string, object?>())));

    /// <summary>Nested lists shaped like images, half of them valid, the rest with one to three defects.</summary>
    internal static Gen<PixelCase> NestedPixels { get; } = Gen.Frequency(
        (12, from height in Gen.Choose(1, 6)
             from width in Gen.Choose(1, 6)
             from channels in Gen.Frequency((2, Gen.Constant(-1)), (1, Gen.Constant(1)), (4, Gen.Constant(3)), (2, Gen.Constant(4)), (1, Gen.Elements(0, 2, 5)))
             from values in Gen.ArrayOf(ValidValue, height * width * Math.Max(channels, 1))
             from defects in Gen.Frequency((3, Gen.Constant(0)), (3, Gen.Choose(1, 3))).SelectMany(n => Gen.ListOf(Defect, n))
             select Build(height, width, channels, values, defects)),
        (1, Gen.Elements<object?>(
                null, "pixels", 5L, new List<object?>(), new List<object?> { new List<object?>() }, new List<object?> { null },
                new List<object?> { new List<object?> { new List<object?>() } }, new List<object?> { 1L, 2L }, new OrderedDictionary<string, object?>())
            .Select(v => new PixelCase(v, "degenerate"))));

    private static readonly Gen<(string Kind, int A, int B, object? Value)> Defect =
        from kind in Gen.Elements("value", "value", "ragged", "pixel", "row")
        from a in Generators.Operand
        from b in Gen.Choose(0, 6)
        from value in InvalidValue
        select (kind, a, b, value);

    [Property(MaxTest = 600, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property ToImage_GeneratedNestedList_ReturnsExactImageOrThrowsImageError() =>
        Prop.ForAll(
            NestedPixels.ToArbitrary(),
            Gen.Frequency((3, Gen.Choose(1, 40).Select(v => (long)v)), (1, Gen.Constant(50_000_000L))).ToArbitrary(),
            Gen.Elements(AlphaMode.Black, AlphaMode.Drop, AlphaMode.White).ToArbitrary(),
            (pixels, maxPixels, alphaMode) =>
            {
                var expected = Expect(pixels.Value, alphaMode);
                RgbImage? image = null;
                var thrown = Outcome.Capture(() => image = PixelArray.ToImage(pixels.Value, maxPixels, alphaMode));
                using var owned = image;

                Assert.That(thrown, Is.Null.Or.TypeOf<ModelInputException>(), () => thrown!.ToString());
                if (thrown is ModelInputException rejection)
                {
                    var declared = DeclaredPixels(pixels.Value);
                    using (Assert.EnterMultipleScope())
                    {
                        Assert.That(rejection.Message, Does.StartWith("`image`"));
                        Assert.That(rejection.StatusCode, Is.AnyOf(400, 413, 422));
                        if (rejection.StatusCode == 413)
                        {
                            Assert.That(declared, Is.GreaterThan(maxPixels), "413 only over the pixel limit: " + rejection.Message);
                        }

                        if (expected is not null)
                        {
                            Assert.That(rejection.StatusCode, Is.EqualTo(413), "a valid array within the limit was refused: " + rejection.Message);
                        }
                    }

                    return;
                }

                Assert.That(expected, Is.Not.Null, "an invalid array was accepted");
                using (Assert.EnterMultipleScope())
                {
                    Assert.That((owned!.Width, owned.Height), Is.EqualTo((expected!.Value.Width, expected.Value.Height)));
                    Assert.That(owned.Pixels.Length, Is.EqualTo(owned.Width * owned.Height * 3));
                    Assert.That(owned.Pixels.ToArray(), Is.EqualTo(expected.Value.Rgb));
                    Assert.That((long)owned.Width * owned.Height, Is.LessThanOrEqualTo(maxPixels));
                }
            });

    private static PixelCase Build(int height, int width, int channels, object?[] values, List<(string Kind, int A, int B, object? Value)> defects)
    {
        int index = 0;
        var rows = new List<object?>();
        for (int y = 0; y < height; y++)
        {
            var row = new List<object?>();
            for (int x = 0; x < width; x++)
            {
                if (channels < 0)
                {
                    row.Add(values[index++]);
                    continue;
                }

                var pixel = new List<object?>();
                for (int c = 0; c < channels; c++)
                {
                    pixel.Add(values[index++]);
                }

                row.Add(pixel);
            }

            rows.Add(row);
        }

        foreach (var (kind, a, b, value) in defects)
        {
            if (rows[a % height] is not List<object?> row)
            {
                continue; // an earlier defect already replaced this row
            }

            int x = b % width;
            switch (kind)
            {
                case "value" when row.Count > 0 && row[x % row.Count] is List<object?> { Count: > 0 } pixel:
                    pixel[a % pixel.Count] = value;
                    break;
                case "value" when row.Count > 0:
                    row[x % row.Count] = value;
                    break;
                case "ragged" when b % 2 == 0 && row.Count > 0:
                    row.RemoveAt(row.Count - 1);
                    break;
                case "ragged":
                    row.Add(row.Count > 0 ? row[0] : 0L);
                    break;
                case "pixel" when row.Count > 0:
                    row[x % row.Count] = Enumerable.Repeat<object?>(7L, b).ToList();
                    break;
                case "row":
                    rows[a % height] = value;
                    break;
            }
        }

        var shape = channels < 0 ? $"{height}x{width}" : $"{height}x{width}x{channels}";
        return new PixelCase(rows, $"{shape} with {defects.Count} defect(s) [{string.Join(", ", defects.Select(d => d.Kind))}]");
    }

    /// <summary>
    /// The README's contract, read independently: a non-empty H×W list of rows of equal width whose pixels are all
    /// scalars (gray) or all lists of 1, 3 or 4 integers 0–255 (integral doubles included). Null when invalid.
    /// </summary>
    private static (int Width, int Height, byte[] Rgb)? Expect(object? value, AlphaMode alphaMode)
    {
        if (value is not List<object?> { Count: > 0 } rows || rows[0] is not List<object?> { Count: > 0 } first)
        {
            return null;
        }

        int height = rows.Count;
        int width = first.Count;
        int channels = first[0] is List<object?> firstPixel ? firstPixel.Count : 0; // 0: H×W, scalar pixels
        if (channels is not (0 or 1 or 3 or 4))
        {
            return null;
        }

        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            if (rows[y] is not List<object?> row || row.Count != width)
            {
                return null;
            }

            for (int x = 0; x < width; x++)
            {
                var samples = new byte[Math.Max(channels, 1)];
                if (channels == 0)
                {
                    if (!TryByte(row[x], out samples[0]))
                    {
                        return null;
                    }
                }
                else if (row[x] is not List<object?> pixel || pixel.Count != channels || !pixel.Select((v, i) => TryByte(v, out samples[i])).All(ok => ok))
                {
                    return null;
                }

                var (r, g, b) = samples.Length switch
                {
                    1 => (samples[0], samples[0], samples[0]),
                    3 => (samples[0], samples[1], samples[2]),
                    _ => (Composite(samples[0], samples[3], alphaMode), Composite(samples[1], samples[3], alphaMode), Composite(samples[2], samples[3], alphaMode)),
                };
                rgb[((y * width) + x) * 3] = r;
                rgb[((y * width) + x) * 3 + 1] = g;
                rgb[((y * width) + x) * 3 + 2] = b;
            }
        }

        return (width, height, rgb);
    }

    private static bool TryByte(object? value, out byte result)
    {
        (bool ok, result) = value switch
        {
            long l and >= 0 and <= 255 => (true, (byte)l),
            double d when d is >= 0 and <= 255 && d == Math.Truncate(d) => (true, (byte)d),
            _ => (false, (byte)0),
        };
        return ok;
    }

    /// <summary>The README's alpha modes: black and white backgrounds by straight-alpha "over", or alpha ignored.</summary>
    private static byte Composite(byte color, byte alpha, AlphaMode mode) => mode switch
    {
        AlphaMode.Drop => color,
        AlphaMode.White => (byte)Math.Round(((color * alpha) + (255.0 * (255 - alpha))) / 255.0),
        _ => (byte)Math.Round(color * alpha / 255.0),
    };

    private static long DeclaredPixels(object? value) =>
        value is List<object?> rows && rows.Count > 0 && rows[0] is List<object?> first ? (long)rows.Count * first.Count : 0;
}
