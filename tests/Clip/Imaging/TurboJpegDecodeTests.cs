using System.Runtime.InteropServices;
using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>
/// The TurboJPEG decode path (<see cref="JpegDecoder.Auto"/> with libturbojpeg installed) against the Skia path:
/// identical pixels on the exact and the fast path, the same failures, the fallback for files TurboJPEG refuses,
/// and concurrency. Tests that need the library are ignored, with the reason, where it cannot be loaded.
/// </summary>
public class TurboJpegDecodeTests
{
    private static readonly ImageDecodeOptions SkiaOptions = new() { JpegDecoder = JpegDecoder.Skia };

    private static void RequireTurboJpeg()
    {
        if (!TurboJpeg.IsAvailable)
        {
            Assert.Ignore($"TurboJPEG cannot be loaded ({TurboJpeg.Description}); install libturbojpeg (Ubuntu) or libturbojpeg0 (Debian) to run this test.");
        }
    }

    /// <summary>JPEGs of the shapes the engine meets, built in memory (Skia's encoder, and TurboJPEG's for the rest).</summary>
    private static IEnumerable<(string Name, byte[] Jpeg)> GeneratedCorpus()
    {
        foreach (var (width, height) in new[] { (1, 1), (17, 13), (64, 48), (333, 211), (1000, 750) })
        {
            yield return ($"rgb {width}x{height}", TestImages.EncodeRgbJpeg(Photo(width, height), width, height));
        }

        yield return ("gray 33x21", TestImages.EncodeGrayJpeg(Photo(33, 21).Where((_, i) => i % 3 == 0).ToArray(), 33, 21));
        byte[] small = TestImages.EncodeRgbJpeg(Photo(40, 24), 40, 24);
        for (int orientation = 1; orientation <= 8; orientation++)
        {
            yield return ($"exif {orientation}", TestImages.WithExifOrientation(small, orientation));
        }

        if (TestEncoder.IsAvailable)
        {
            byte[] photo = Photo(501, 377);
            yield return ("4:4:4", TestEncoder.Compress(photo, 501, 377, TestEncoder.Subsampling444, progressive: false));
            yield return ("4:2:2", TestEncoder.Compress(photo, 501, 377, TestEncoder.Subsampling422, progressive: false));
            yield return ("4:2:0 progressive", TestEncoder.Compress(photo, 501, 377, TestEncoder.Subsampling420, progressive: true));
        }
    }

    /// <summary>Smooth gradients plus noise: enough detail that any IDCT or upsampling difference shows.</summary>
    private static byte[] Photo(int width, int height)
    {
        var random = new Random(width * 31 + height);
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = ((y * width) + x) * 3;
                rgb[i] = (byte)Math.Clamp((x * 255 / Math.Max(1, width - 1)) + random.Next(-20, 21), 0, 255);
                rgb[i + 1] = (byte)Math.Clamp((y * 255 / Math.Max(1, height - 1)) + random.Next(-20, 21), 0, 255);
                rgb[i + 2] = (byte)(((x ^ y) * 5) & 0xFF);
            }
        }

        return rgb;
    }

    /// <summary>
    /// Decodes with the default decoder and with Skia forced, and asserts the same outcome: identical images (size and
    /// every byte), or the same failure.
    /// </summary>
    private static void AssertSameAsSkia(string name, byte[] jpeg, ImageDecodeOptions options, ImageDecodeOptions skiaOptions)
    {
        var (auto, autoError) = TryDecode(new ImageDecoder(options), jpeg);
        var (skia, skiaError) = TryDecode(new ImageDecoder(skiaOptions), jpeg);
        using (auto)
        using (skia)
        {
            Assert.That(autoError?.Error, Is.EqualTo(skiaError?.Error), $"{name}: failure ({autoError?.Message} vs {skiaError?.Message})");
            Assert.That(auto is null, Is.EqualTo(skia is null), $"{name}: one decoder failed");
            if (auto is not null && skia is not null)
            {
                Assert.That((auto.Width, auto.Height), Is.EqualTo((skia.Width, skia.Height)), $"{name}: size");
                Assert.That(auto.Pixels.SequenceEqual(skia.Pixels), Is.True, $"{name}: pixels differ from Skia's");
            }
        }
    }

    private static (RgbImage? Image, ImageDecodeException? Error) TryDecode(ImageDecoder decoder, byte[] data)
    {
        try
        {
            return (decoder.Decode(data), null);
        }
        catch (ImageDecodeException exception)
        {
            return (null, exception);
        }
    }

    /// <summary>TurboJPEG itself decodes the file (no fallback) to exactly Skia's pixels, EXIF orientation left aside.</summary>
    private static unsafe void AssertTurboJpegDecodesLikeSkia(string name, byte[] jpeg)
    {
        using var skia = new ImageDecoder(new ImageDecodeOptions(applyExifOrientation: false) { JpegDecoder = JpegDecoder.Skia }).Decode(jpeg);
        var rgb = new byte[skia.ByteLength];
        nint handle = TurboJpeg.CreateDecompressor();
        Assert.That(handle, Is.Not.Zero);
        try
        {
            fixed (byte* encoded = jpeg)
            fixed (byte* pixels = rgb)
            {
                Assert.That(TurboJpeg.TryReadHeader(handle, encoded, jpeg.Length, out int width, out int height, out _), Is.True, $"{name}: header");
                Assert.That((width, height), Is.EqualTo((skia.Width, skia.Height)), $"{name}: header size");
                Assert.That(TurboJpeg.TryDecodeRgb(handle, encoded, jpeg.Length, pixels, width, height), Is.True, $"{name}: TurboJPEG refused it");
            }
        }
        finally
        {
            TurboJpeg.DestroyHandle(handle);
        }

        Assert.That(rgb.AsSpan().SequenceEqual(skia.Pixels), Is.True, $"{name}: TurboJPEG's pixels differ from Skia's");
    }

    [Test]
    public void Decode_GeneratedJpegs_AreByteIdenticalToSkia()
    {
        RequireTurboJpeg();
        using (Assert.EnterMultipleScope())
        {
            foreach (var (name, jpeg) in GeneratedCorpus())
            {
                AssertTurboJpegDecodesLikeSkia(name, jpeg);
                AssertSameAsSkia(name, jpeg, ImageDecodeOptions.Default, SkiaOptions);
            }
        }
    }

    [TestCase(100)]
    [TestCase(224)]
    [TestCase(448)]
    public void Decode_GeneratedJpegsOnTheFastPath_AreByteIdenticalToSkia(int minShortSide)
    {
        RequireTurboJpeg();
        var fast = new ImageDecodeOptions { FastJpegMinShortSide = minShortSide };
        var fastSkia = new ImageDecodeOptions { FastJpegMinShortSide = minShortSide, JpegDecoder = JpegDecoder.Skia };
        using (Assert.EnterMultipleScope())
        {
            foreach (var (name, jpeg) in GeneratedCorpus())
            {
                AssertSameAsSkia(name, jpeg, fast, fastSkia);
            }
        }
    }

    [Test]
    [Category("Reference")]
    public void Decode_SharedTestImages_AreByteIdenticalToSkia()
    {
        RequireTurboJpeg();
        string directory = Path.Combine(ReferenceImages.RequireSharedDirectory(), "test-images");
        var files = Directory.GetFiles(directory).Order(StringComparer.Ordinal).ToArray();
        Assert.That(files.Count(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)), Is.GreaterThanOrEqualTo(2), "the shared JPEGs");
        using (Assert.EnterMultipleScope())
        {
            // Every file, not only *.jpg: a PNG or GIF must be untouched by the JPEG switch, and truncated.jpg must fail
            // as it does on the Skia path.
            foreach (string file in files.Where(f => !f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)))
            {
                byte[] data = File.ReadAllBytes(file);
                string name = Path.GetFileName(file);
                AssertSameAsSkia(name, data, ImageDecodeOptions.Default, SkiaOptions);
                foreach (int minShortSide in new[] { 224, 448 })
                {
                    AssertSameAsSkia(
                        $"{name} fast {minShortSide}",
                        data,
                        new ImageDecodeOptions { FastJpegMinShortSide = minShortSide },
                        new ImageDecodeOptions { FastJpegMinShortSide = minShortSide, JpegDecoder = JpegDecoder.Skia });
                }
            }

            AssertTurboJpegDecodesLikeSkia("rocket.jpg", File.ReadAllBytes(Path.Combine(directory, "rocket.jpg")));
            AssertTurboJpegDecodesLikeSkia("scene_1920x1080.jpg", File.ReadAllBytes(Path.Combine(directory, "scene_1920x1080.jpg")));
        }
    }

    [Test]
    public void Decode_FastPath_UsesTheSameScaleAsSkia()
    {
        RequireTurboJpeg();
        byte[] jpeg = TestImages.EncodeRgbJpeg(Photo(1920, 1080), 1920, 1080);

        using var image = new ImageDecoder(new ImageDecodeOptions { FastJpegMinShortSide = 448 }).Decode(jpeg);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((image.Width, image.Height), Is.EqualTo((960, 540)));
            Assert.That(TurboJpeg.ReductionFactors.ToArray(), Is.EqualTo(new[] { (1, 8), (1, 4), (1, 2) }));
        }
    }

    [Test]
    public void Decode_CmykJpeg_FallsBackToSkia()
    {
        RequireTurboJpeg();
        if (!TestEncoder.IsAvailable)
        {
            Assert.Ignore($"The TurboJPEG compressor is not exported by the loaded library ({TurboJpeg.Description}).");
        }

        var cmyk = new byte[48 * 32 * 4];
        new Random(3).NextBytes(cmyk);
        byte[] jpeg = TestEncoder.Compress(cmyk, 48, 32, TestEncoder.Subsampling444, progressive: false, pixelFormat: TestEncoder.PixelFormatCmyk);

        unsafe
        {
            nint handle = TurboJpeg.CreateDecompressor();
            try
            {
                fixed (byte* encoded = jpeg)
                {
                    Assert.That(TurboJpeg.TryReadHeader(handle, encoded, jpeg.Length, out _, out _, out int colorspace), Is.True);
                    Assert.That(colorspace, Is.EqualTo(TurboJpeg.ColorspaceCmyk).Or.EqualTo(TurboJpeg.ColorspaceYcck), "a four-channel JPEG");
                }
            }
            finally
            {
                TurboJpeg.DestroyHandle(handle);
            }
        }

        using var image = new ImageDecoder().Decode(jpeg);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((image.Width, image.Height), Is.EqualTo((48, 32)));
            AssertSameAsSkia("cmyk", jpeg, ImageDecodeOptions.Default, SkiaOptions);
        }
    }

    [Test]
    public void Decode_CorruptOrTruncatedJpegs_FailOrSucceedExactlyAsSkia()
    {
        RequireTurboJpeg();
        byte[] jpeg = TestImages.EncodeRgbJpeg(Photo(120, 80), 120, 80);
        var cases = new List<(string, byte[])>
        {
            ("cut at 1/3", jpeg[..(jpeg.Length / 3)]),
            ("cut 2 bytes before the end", jpeg[..^2]),
            ("header only", jpeg[..700]),
        };
        var random = new Random(11);
        for (int i = 0; i < 6; i++)
        {
            byte[] corrupt = (byte[])jpeg.Clone();
            for (int k = 0; k < 4; k++)
            {
                corrupt[random.Next(jpeg.Length / 2, jpeg.Length - 2)] ^= (byte)random.Next(1, 256);
            }

            cases.Add(($"corrupt {i}", corrupt));
        }

        using (Assert.EnterMultipleScope())
        {
            foreach (var (name, data) in cases)
            {
                AssertSameAsSkia(name, data, ImageDecodeOptions.Default, SkiaOptions);
            }

            var truncated = Assert.Throws<ImageDecodeException>(() => new ImageDecoder().Decode(jpeg[..(jpeg.Length / 2)]));
            Assert.That(truncated!.Error, Is.EqualTo(ImageDecodeError.Truncated));
        }
    }

    [Test]
    public void Decode_JpegAboveTheLimits_ThrowsTooLargeLikeSkia()
    {
        byte[] jpeg = TestImages.EncodeRgbJpeg(Photo(64, 48), 64, 48);

        using (Assert.EnterMultipleScope())
        {
            foreach (var decoder in new[] { JpegDecoder.Auto, JpegDecoder.Skia })
            {
                var pixels = Assert.Throws<ImageDecodeException>(() => new ImageDecoder(new ImageDecodeOptions(maxPixels: 3000) { JpegDecoder = decoder }).Decode(jpeg));
                var width = Assert.Throws<ImageDecodeException>(() => new ImageDecoder(new ImageDecodeOptions(maxWidth: 63) { JpegDecoder = decoder }).Decode(jpeg));
                Assert.That(pixels!.Error, Is.EqualTo(ImageDecodeError.TooLarge));
                Assert.That(pixels.Message, Does.Contain("64x48 (3,072 pixels)"));
                Assert.That(width!.Message, Does.Contain("above the limit of 63x65535"));
            }
        }
    }

    [Test]
    public void Decode_ConcurrentJpegs_GiveTheSequentialResults()
    {
        RequireTurboJpeg();
        byte[][] jpegs =
        [
            TestImages.EncodeRgbJpeg(Photo(640, 480), 640, 480),
            TestImages.WithExifOrientation(TestImages.EncodeRgbJpeg(Photo(300, 200), 300, 200), 6),
            TestImages.EncodeRgbJpeg(Photo(1000, 750), 1000, 750)[..5000],
        ];
        var decoder = new ImageDecoder(new ImageDecodeOptions { FastJpegMinShortSide = 150 });
        var expected = jpegs.Select(jpeg => Fingerprint(decoder, jpeg)).ToArray();

        var results = new string[8 * 30];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => results[i] = Fingerprint(decoder, jpegs[i % jpegs.Length]));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(expected[2], Does.StartWith("error Truncated"), "the cut file");
            for (int i = 0; i < results.Length; i++)
            {
                Assert.That(results[i], Is.EqualTo(expected[i % jpegs.Length]), $"decode {i}");
            }
        }
    }

    private static string Fingerprint(ImageDecoder decoder, byte[] jpeg)
    {
        try
        {
            using var image = decoder.Decode(jpeg);
            return $"{image.Width}x{image.Height} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(image.Pixels))}";
        }
        catch (ImageDecodeException exception)
        {
            return $"error {exception.Error}";
        }
    }

    [Test]
    public void JpegDecoderDescription_NamesTheLibraryInUse()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(new ImageDecoder(SkiaOptions).JpegDecoderDescription, Does.StartWith("Skia (forced"));
            Assert.That(
                new ImageDecoder().JpegDecoderDescription,
                TurboJpeg.IsAvailable ? Does.StartWith("TurboJPEG (libturbojpeg") : Does.StartWith("Skia (").And.Contain("libturbojpeg"));
        }
    }

    [Test]
    public void Options_UndefinedJpegDecoder_Throws() =>
        Assert.That(() => new ImageDecodeOptions { JpegDecoder = (JpegDecoder)7 }, Throws.TypeOf<ArgumentOutOfRangeException>());

    /// <summary>
    /// TurboJPEG's compressor, bound here for the tests only: it writes what Skia's encoder cannot (4:4:4, 4:2:2,
    /// progressive, CMYK/YCCK).
    /// </summary>
    private static unsafe class TestEncoder
    {
        public const int Subsampling444 = 0;
        public const int Subsampling422 = 1;
        public const int Subsampling420 = 2;
        public const int PixelFormatRgb = 0;
        public const int PixelFormatCmyk = 11;
        private const int FlagProgressive = 1 << 14;

        private static readonly nint Init;
        private static readonly nint Compress2;
        private static readonly nint Free;
        private static readonly nint Destroy;

        static TestEncoder()
        {
            if (NativeLibrary.TryLoad("libturbojpeg.so.0", out nint library)
                && NativeLibrary.TryGetExport(library, "tjInitCompress", out Init)
                && NativeLibrary.TryGetExport(library, "tjCompress2", out Compress2)
                && NativeLibrary.TryGetExport(library, "tjFree", out Free))
            {
                NativeLibrary.TryGetExport(library, "tjDestroy", out Destroy);
            }
        }

        public static bool IsAvailable => Destroy != 0;

        public static byte[] Compress(byte[] pixels, int width, int height, int subsampling, bool progressive, int pixelFormat = PixelFormatRgb)
        {
            nint handle = ((delegate* unmanaged<nint>)Init)();
            Assert.That(handle, Is.Not.Zero);
            byte* jpeg = null;
            CULong size = default;
            try
            {
                int result;
                fixed (byte* source = pixels)
                {
                    result = ((delegate* unmanaged<nint, byte*, int, int, int, int, byte**, CULong*, int, int, int, int>)Compress2)(
                        handle, source, width, 0, height, pixelFormat, &jpeg, &size, subsampling, 90, progressive ? FlagProgressive : 0);
                }

                Assert.That(result, Is.Zero, "tjCompress2");
                return new ReadOnlySpan<byte>(jpeg, (int)size.Value).ToArray();
            }
            finally
            {
                ((delegate* unmanaged<byte*, void>)Free)(jpeg);
                ((delegate* unmanaged<nint, int>)Destroy)(handle);
            }
        }
    }
}
