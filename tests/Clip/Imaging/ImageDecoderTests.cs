using Clip.Imaging;
using SkiaSharp;

namespace Truss.Clip.Tests.Clip.Imaging;

public class ImageDecoderTests
{
    private static readonly ImageDecoder Decoder = new();

    [Test]
    public void Decode_LosslessPng_ReturnsExactRgb()
    {
        byte[] rgb = [10, 20, 30, 1, 2, 3, 255, 128, 0, 7, 8, 9, 200, 100, 50, 0, 0, 0];
        byte[] png = TestImages.EncodeRgb(rgb, 3, 2, SKEncodedImageFormat.Png);

        using var image = Decoder.Decode(png);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Width, Is.EqualTo(3));
            Assert.That(image.Height, Is.EqualTo(2));
            Assert.That(image.Pixels.ToArray(), Is.EqualTo(rgb));
        }
    }

    [Test]
    public void Decode_LosslessWebp_ReturnsExactRgb()
    {
        byte[] rgb = [10, 20, 30, 1, 2, 3, 255, 128, 0, 7, 8, 9];
        byte[] webp = TestImages.EncodeRgb(rgb, 2, 2, SKEncodedImageFormat.Webp);

        using var image = Decoder.Decode(webp);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(rgb));
    }

    [Test]
    public void Decode_NonSeekableStream_ReadsWholeImage()
    {
        // Noise does not compress, so the PNG is larger than the initial 64 KB read buffer and forces it to grow.
        var rgb = new byte[200 * 200 * 3];
        new Random(3).NextBytes(rgb);
        byte[] png = TestImages.EncodeRgb(rgb, 200, 200, SKEncodedImageFormat.Png);
        using var stream = new NonSeekableStream(png);

        using var image = Decoder.Decode(stream);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(rgb));
    }

    [Test]
    public void Decode_ConcurrentCalls_GiveIdenticalImages()
    {
        var rgb = new byte[64 * 48 * 3];
        new Random(11).NextBytes(rgb);
        byte[] jpeg = TestImages.EncodeRgbJpeg(rgb, 64, 48);
        using var first = Decoder.Decode(jpeg);
        byte[] expected = first.Pixels.ToArray();
        var results = new bool[16];

        Parallel.For(0, results.Length, i =>
        {
            using var image = Decoder.Decode(jpeg);
            results[i] = image.Pixels.SequenceEqual(expected);
        });

        Assert.That(results, Is.All.True);
    }

    [Test]
    public void Decode_GrayPng_ReplicatesGrayIntoRgb()
    {
        byte[] gray = [0, 17, 128, 255, 3, 99];
        byte[] png = TestImages.EncodeGrayPng(gray, 3, 2);

        using var image = Decoder.Decode(png);

        var pixels = image.Pixels.ToArray();
        using (Assert.EnterMultipleScope())
        {
            for (int i = 0; i < gray.Length; i++)
            {
                Assert.That(pixels.AsSpan(i * 3, 3).ToArray(), Is.EqualTo(new[] { gray[i], gray[i], gray[i] }), $"pixel {i}");
            }
        }
    }

    [Test]
    public void Decode_GrayJpeg_HasEqualChannels()
    {
        var gray = new byte[16 * 16];
        for (int i = 0; i < gray.Length; i++)
        {
            gray[i] = (byte)(i % 251);
        }

        using var image = Decoder.Decode(TestImages.EncodeGrayJpeg(gray, 16, 16));

        var pixels = image.Pixels;
        bool allGray = true;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            allGray &= pixels[i] == pixels[i + 1] && pixels[i] == pixels[i + 2];
        }

        Assert.That(allGray, Is.True, "R = G = B for every pixel of a grayscale JPEG");
    }

    [Test]
    public void Decode_Gray16Png_ScalesToEightBits()
    {
        // Pillow would clamp these 16-bit samples to 255 (an all-white image); Skia scales them, which we keep.
        byte[] png = TestImages.Gray16Png([0x0000, 0x1234, 0x8000, 0xFFFF], 4, 1);

        using var image = Decoder.Decode(png);

        var pixels = image.Pixels.ToArray();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(new[] { pixels[0], pixels[3], pixels[6], pixels[9] }, Is.EqualTo(new byte[] { 0, 0x12, 0x80, 0xFF }).Within(1));
            Assert.That(pixels[4], Is.EqualTo(pixels[3]));
            Assert.That(pixels[5], Is.EqualTo(pixels[3]));
        }
    }

    [TestCase(AlphaMode.Black, new byte[] { 0, 0, 0, 128, 0, 0, 10, 20, 30 })]
    [TestCase(AlphaMode.Drop, new byte[] { 200, 50, 10, 255, 0, 0, 10, 20, 30 })]
    [TestCase(AlphaMode.White, new byte[] { 255, 255, 255, 255, 127, 127, 10, 20, 30 })]
    public void Decode_PngWithAlpha_ResolvesAlphaPerMode(AlphaMode mode, byte[] expected)
    {
        // Fully transparent hidden colour, half-transparent red, opaque colour.
        byte[] rgba = [200, 50, 10, 0, 255, 0, 0, 128, 10, 20, 30, 255];
        byte[] png = TestImages.EncodeRgbaPng(rgba, 3, 1);
        var decoder = new ImageDecoder(new ImageDecodeOptions(alphaMode: mode));

        using var image = decoder.Decode(png);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Decode_AnimatedGif_ReturnsFirstFrame()
    {
        using var image = Decoder.Decode(TestImages.TwoFrameGif());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Width, Is.EqualTo(1));
            Assert.That(image.Height, Is.EqualTo(1));
            Assert.That(image.Pixels.ToArray(), Is.EqualTo(new byte[] { 255, 0, 0 }), "frame 0 is red, frame 1 blue");
        }
    }

    [TestCase(6, 8, 16)]
    [TestCase(8, 8, 16)]
    [TestCase(3, 16, 8)]
    [TestCase(1, 16, 8)]
    public void Decode_JpegWithExifOrientation_ReturnsUprightImage(int orientation, int expectedWidth, int expectedHeight)
    {
        // Stored 16x8: the top-left 8x4 quadrant is red, the rest white. Where the red block lands tells the rotation.
        byte[] jpeg = TestImages.WithExifOrientation(TestImages.EncodeRgbJpeg(QuadrantImage(), 16, 8), orientation);
        // Orientation 6 (rotate 90° clockwise) puts the stored top-left at the top-right; 8 (90° counter-clockwise)
        // at the bottom-left; 3 (180°) at the bottom-right.
        (int redX, int redY, int whiteX, int whiteY) = orientation switch
        {
            6 => (expectedWidth - 1, 0, 0, 0),
            8 => (0, expectedHeight - 1, 0, 0),
            3 => (expectedWidth - 1, expectedHeight - 1, 0, 0),
            _ => (0, 0, expectedWidth - 1, expectedHeight - 1),
        };

        using var image = Decoder.Decode(jpeg);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Width, Is.EqualTo(expectedWidth));
            Assert.That(image.Height, Is.EqualTo(expectedHeight));
            AssertColor(image, redX, redY, 255, 0, 0);
            AssertColor(image, whiteX, whiteY, 255, 255, 255);
        }
    }

    [Test]
    public void Decode_ExifOrientationDisabled_KeepsStoredLayout()
    {
        byte[] jpeg = TestImages.WithExifOrientation(TestImages.EncodeRgbJpeg(QuadrantImage(), 16, 8), 6);
        var decoder = new ImageDecoder(new ImageDecodeOptions(applyExifOrientation: false));

        using var image = decoder.Decode(jpeg);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Width, Is.EqualTo(16));
            Assert.That(image.Height, Is.EqualTo(8));
            AssertColor(image, 0, 0, 255, 0, 0);
        }
    }

    [Test]
    [Category("Reference")]
    public void Decode_TruncatedJpeg_ThrowsTruncated()
    {
        byte[] truncated = File.ReadAllBytes(ReferenceImages.RequireTestImage("truncated.jpg"));

        var exception = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(truncated));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.Truncated));
            Assert.That(exception.Message, Does.Contain("truncated"));
        }
    }

    [Test]
    public void Decode_JpegCutInHalf_ThrowsTruncatedInsteadOfPartialImage()
    {
        var rgb = new byte[64 * 64 * 3];
        new Random(7).NextBytes(rgb);
        byte[] jpeg = TestImages.EncodeRgbJpeg(rgb, 64, 64);

        var exception = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2)));

        Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.Truncated));
    }

    [Test]
    public void Decode_RandomBytes_ThrowsUnknownFormat()
    {
        var noise = new byte[1000];
        new Random(42).NextBytes(noise);

        var exception = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(noise));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.UnknownFormat));
            Assert.That(exception.Message, Does.Contain("not in a supported image format"));
        }
    }

    [Test]
    public void Decode_Empty_ThrowsEmpty()
    {
        var exception = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(ReadOnlySpan<byte>.Empty));

        Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.Empty));
    }

    [Test]
    public void Decode_HeaderClaimingHugeSize_ThrowsTooLargeBeforeDecoding()
    {
        byte[] bomb = TestImages.PngHeaderOnly(100_000, 100_000);

        var exception = Assert.Throws<ImageDecodeException>(() => Decoder.Decode(bomb));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.TooLarge));
            Assert.That(exception.Message, Does.Contain("100000x100000").And.Contain("50,000,000"));
        }
    }

    [Test]
    public void Decode_ImageAboveCustomPixelLimit_ThrowsTooLarge()
    {
        byte[] png = TestImages.EncodeRgb(new byte[10 * 10 * 3], 10, 10, SKEncodedImageFormat.Png);
        var decoder = new ImageDecoder(new ImageDecodeOptions(maxPixels: 99));

        var exception = Assert.Throws<ImageDecodeException>(() => decoder.Decode(png));

        Assert.That(exception.Message, Does.Contain("10x10 (100 pixels)").And.Contain("99 pixels"));
    }

    [Test]
    public void Decode_ImageWiderThanLimit_ThrowsTooLarge()
    {
        byte[] png = TestImages.EncodeRgb(new byte[10 * 2 * 3], 10, 2, SKEncodedImageFormat.Png);
        var decoder = new ImageDecoder(new ImageDecodeOptions(maxWidth: 9));

        var exception = Assert.Throws<ImageDecodeException>(() => decoder.Decode(png));

        Assert.That(exception.Error, Is.EqualTo(ImageDecodeError.TooLarge));
    }

    [Test]
    public void ReadHeader_GivesFormatAndStoredSize_WithoutDecoding()
    {
        byte[] png = TestImages.EncodeRgb(new byte[7 * 5 * 3], 7, 5, SKEncodedImageFormat.Png);
        byte[] jpeg = TestImages.EncodeRgbJpeg(new byte[40 * 24 * 3], 40, 24);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Decoder.ReadHeader(png), Is.EqualTo(new ImageHeader("PNG", 7, 5)));
            Assert.That(Decoder.ReadHeader(jpeg), Is.EqualTo(new ImageHeader("JPEG", 40, 24)));
            Assert.That(Decoder.ReadHeader(jpeg).Pixels, Is.EqualTo(960));
            Assert.That(Decoder.ReadHeader(TestImages.PngHeaderOnly(6000, 5000)).Pixels, Is.EqualTo(30_000_000), "a header is enough");
        }
    }

    [Test]
    public void ReadHeader_RefusesWhatDecodeRefuses_WithTheSameError()
    {
        var noise = new byte[1000];
        new Random(42).NextBytes(noise);
        byte[] small = TestImages.EncodeRgb(new byte[10 * 10 * 3], 10, 10, SKEncodedImageFormat.Png);
        var limited = new ImageDecoder(new ImageDecodeOptions(maxPixels: 99));
        (ImageDecoder Decoder, byte[] Bytes)[] cases =
        [
            (Decoder, noise),
            (Decoder, []),
            (Decoder, TestImages.PngHeaderOnly(100_000, 100_000)),
            (limited, small),
            (Decoder, small[..20]),
        ];

        using (Assert.EnterMultipleScope())
        {
            foreach (var (decoder, bytes) in cases)
            {
                var fromDecode = Assert.Throws<ImageDecodeException>(() => decoder.Decode(bytes));
                var fromHeader = Assert.Throws<ImageDecodeException>(() => decoder.ReadHeader(bytes));
                Assert.That(fromHeader!.Error, Is.EqualTo(fromDecode!.Error), $"{bytes.Length} bytes");
                Assert.That(fromHeader.Message, Is.EqualTo(fromDecode.Message), $"{bytes.Length} bytes");
            }
        }
    }

    [Test]
    [Category("Reference")]
    public void Decode_SharedAnimatedGif_ReturnsFirstFrameAtCanvasSize()
    {
        byte[] gif = File.ReadAllBytes(ReferenceImages.RequireTestImage("no_time_for_that_tiny.gif"));

        using var image = Decoder.Decode(gif);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Width, Is.EqualTo(14));
            Assert.That(image.Height, Is.EqualTo(25));
        }
    }

    [Test]
    public void Constructor_InvalidOptions_Throws()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new ImageDecodeOptions(maxPixels: 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ImageDecodeOptions(maxWidth: 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ImageDecodeOptions(alphaMode: (AlphaMode)7), Throws.TypeOf<ArgumentOutOfRangeException>());
        }
    }

    private static byte[] QuadrantImage()
    {
        var rgb = new byte[16 * 8 * 3];
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 16; x++)
            {
                bool red = x < 8 && y < 4;
                int i = ((y * 16) + x) * 3;
                rgb[i] = 255;
                rgb[i + 1] = red ? (byte)0 : (byte)255;
                rgb[i + 2] = red ? (byte)0 : (byte)255;
            }
        }

        return rgb;
    }

    private static void AssertColor(RgbImage image, int x, int y, int r, int g, int b)
    {
        // JPEG is lossy; corners of flat 8x4 blocks stay within a few levels.
        var pixel = image.GetRow(y).Slice(x * 3, 3);
        Assert.That(
            Math.Abs(pixel[0] - r) <= 12 && Math.Abs(pixel[1] - g) <= 12 && Math.Abs(pixel[2] - b) <= 12,
            Is.True,
            $"pixel ({x}, {y}) = ({pixel[0]}, {pixel[1]}, {pixel[2]}), expected about ({r}, {g}, {b})");
    }

    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(count, data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
