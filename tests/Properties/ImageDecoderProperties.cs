using Clip.Imaging;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="ImageDecoder.Decode(byte[])"/>, the one place where client bytes reach native code
/// (Skia's codecs): any input, from random bytes to a valid image with flipped bits, cut short, spliced onto another
/// format's header or declaring absurd dimensions, decodes to a well-formed <see cref="RgbImage"/> or throws
/// <see cref="ImageDecodeException"/>. A native crash would take the test host down with it, which is the loudest
/// possible failure. Every decoded image also goes through <see cref="ClipPreprocessor"/>, as in the server.
/// </summary>
public class ImageDecoderProperties
{
    /// <summary>
    /// A 1-megapixel cap keeps each case cheap (a mutated header may claim any size up to the cap, and Skia fills
    /// what the data does not cover) while leaving the per-side limits at their production values.
    /// </summary>
    private static readonly Gen<ImageDecoder> Decoders =
        from alpha in Gen.Elements(AlphaMode.Black, AlphaMode.Drop, AlphaMode.White)
        from exif in Gen.Elements(true, false)
        select new ImageDecoder(new ImageDecodeOptions(maxPixels: 1 << 20, applyExifOrientation: exif, alphaMode: alpha));

    private static readonly ClipPreprocessor Preprocessor = new();

    private static readonly byte[][] Seeds = [.. SeedImages.All.Select(s => s.Bytes)];

    /// <summary>A seed, then 1 to 6 stacked mutations; the recipe is printed on failure so it can be replayed.</summary>
    private static readonly Gen<MutatedImage> MutatedSeeds =
        from seed in Gen.Choose(0, Seeds.Length - 1)
        from mutations in Gen.Frequency(
            (6, Generators.Mutations(6)),
            (1, from size in Generators.Mutation.Select(m => m with { Kind = MutationKind.SetImageSize })
                from rest in Generators.Mutations(2)
                select (Mutation[])[size, .. rest, new Mutation(MutationKind.FixPngCrcs, 0, 0, 0)]))
        select new MutatedImage(SeedImages.All[seed].Name, mutations,
            mutations.Aggregate(Seeds[seed], (bytes, m) => ByteMutator.Apply(bytes, m, Seeds, ByteMutator.ImageTokens)));

    /// <summary>Random bytes behind a real format signature, so the bytes reach each codec rather than the sniffer.</summary>
    private static readonly Gen<byte[]> MagicThenNoise =
        from magic in Gen.Elements(ByteMutator.ImageTokens.Take(1).Concat([
            [0xFF, 0xD8, 0xFF, 0xE0], [.. "GIF89a"u8], [.. "GIF87a"u8], [.. "BM"u8], [.. "RIFF\0\0\0\0WEBPVP8 "u8], [.. "RIFF\0\0\0\0WEBPVP8L"u8],
            [.. "RIFF\0\0\0\0WEBPVP8X"u8], [0x00, 0x00, 0x01, 0x00], [0x00, 0x00], [0x00, 0x00, 0x02, 0x00]]).ToArray())
        from noise in Generators.Bytes
        select (byte[])[.. magic, .. noise];

    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Decode_ArbitraryBytes_ReturnsImageOrThrowsImageDecode() =>
        Prop.ForAll(Generators.Bytes.ToArbitrary(), Decoders.ToArbitrary(), (bytes, decoder) => AssertDecodesOrRejects(decoder, bytes, "random"));

    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Decode_FormatSignatureThenNoise_ReturnsImageOrThrowsImageDecode() =>
        Prop.ForAll(MagicThenNoise.ToArbitrary(), Decoders.ToArbitrary(), (bytes, decoder) => AssertDecodesOrRejects(decoder, bytes, "magic+noise"));

    [Property(MaxTest = 800, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Decode_MutatedValidImage_ReturnsImageOrThrowsImageDecode() =>
        Prop.ForAll(MutatedSeeds.ToArbitrary(), Decoders.ToArbitrary(), (image, decoder) => AssertDecodesOrRejects(decoder, image.Bytes, image.ToString()));

    [Property(MaxTest = 150, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Decode_HugeDeclaredSizeWithDefaultLimits_ThrowsBeforeDecoding() =>
        Prop.ForAll(Gen.Choose(0, Seeds.Length - 1).ToArbitrary(), Gen.Elements(65536u, 100_000u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu).ToArbitrary(), Generators.Operand.ToArbitrary(),
            (seed, huge, variant) =>
            {
                // Decompression-bomb headers: one side past 65,535 (or, for 16-bit fields, the other side maxed). With
                // the production limits, the decoder must refuse from the header alone, whatever the format.
                var bytes = (byte[])Seeds[seed].Clone();
                ByteMutator.SetImageSize(bytes, variant % 2 == 0 ? huge : 65535u, variant % 2 == 0 ? 65535u : huge, variant / 2);
                var decoder = new ImageDecoder();
                RgbImage? image = null;

                var thrown = Outcome.Capture(() => image = decoder.Decode(bytes));
                using var owned = image;

                Assert.That(thrown, Is.Null.Or.TypeOf<ImageDecodeException>(), () => $"{thrown}\n{SeedImages.All[seed].Name}: {Outcome.Show(bytes)}");
                if (owned is not null)
                {
                    // Formats whose size field is narrower (ICO: 1 byte) or not rewritten (WBMP) keep a small size.
                    Assert.That((long)owned.Width * owned.Height, Is.LessThanOrEqualTo(ImageDecodeOptions.DefaultMaxPixels));
                }
            });

    private static IEnumerable<string> SeedNames => SeedImages.All.Select(s => s.Name);

    [TestCaseSource(nameof(SeedNames))]
    public void Decode_Seed_DecodesToDeclaredSize(string name)
    {
        var seed = SeedImages.All.Single(s => s.Name == name);
        // The mutation properties start from these seeds: were one not decodable, its mutants would mostly test
        // the decoder's front door only.
        var size = seed.Name.Split('-', '.').Single(part => part.Contains('x') && part.Split('x').All(n => n.Length > 0 && n.All(char.IsAsciiDigit)));
        var (width, height) = (int.Parse(size.Split('x')[0]), int.Parse(size.Split('x')[1]));
        using var image = new ImageDecoder(new ImageDecodeOptions(applyExifOrientation: false)).Decode(seed.Bytes);

        Assert.That((image.Width, image.Height), Is.EqualTo((width, height)));
    }

    /// <summary>
    /// The core property: <see cref="ImageDecodeException"/> or an image whose size is at least 1×1, within the
    /// limits, with exactly width × height × 3 pixel bytes, which the CLIP preprocessor turns into finite floats.
    /// </summary>
    private static void AssertDecodesOrRejects(ImageDecoder decoder, byte[] bytes, string recipe)
    {
        RgbImage? image = null;
        float[]? tensor = null;
        var thrown = Outcome.Capture(() =>
        {
            image = decoder.Decode(bytes);
            tensor = new float[Preprocessor.TensorLength];
            Preprocessor.Preprocess(image, tensor);
        });
        using var owned = image;

        Assert.That(thrown, Is.Null.Or.TypeOf<ImageDecodeException>(), () => $"{thrown}\n{recipe}\n{Outcome.Show(bytes)}");
        if (thrown is ImageDecodeException rejection)
        {
            Assert.That(rejection.Message, Is.Not.Empty);
            return;
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(owned!.Width, Is.GreaterThanOrEqualTo(1));
            Assert.That(owned.Height, Is.GreaterThanOrEqualTo(1));
            Assert.That((long)owned.Width * owned.Height, Is.LessThanOrEqualTo(decoder.Options.MaxPixels));
            Assert.That(owned.Pixels.Length, Is.EqualTo(owned.Width * owned.Height * 3));
            Assert.That(tensor!.All(float.IsFinite), Is.True, "preprocessed tensor has a non-finite value");
        }
    }

    /// <summary>A mutated seed; <see cref="ToString"/> gives the recipe and the bytes so a failure can be replayed.</summary>
    private sealed record MutatedImage(string Seed, Mutation[] Mutations, byte[] Bytes)
    {
        public override string ToString() => $"{Seed} + [{string.Join(", ", Mutations)}]: {Outcome.Show(Bytes)}";
    }
}
