using Clip.Imaging;
using Clip.IO;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.Clip.Imaging;

/// <summary>The opt-in fast JPEG path: reduced DCT decode, then the exact resample.</summary>
public class FastJpegDecodeTests
{
    private static byte[] Jpeg(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (var i = 0; i < rgb.Length; i++)
        {
            rgb[i] = (byte)((i * 7) % 251);
        }

        return TestImages.EncodeRgbJpeg(rgb, width, height);
    }

    [TestCase(1920, 1080, 448, 960, 540)]
    [TestCase(1920, 1080, 224, 480, 270)]
    [TestCase(1920, 1080, 100, 240, 135)]
    [TestCase(400, 300, 448, 400, 300)]
    public void Decode_LargeJpeg_UsesTheSmallestScaleThatKeepsTheShortSide(int width, int height, int minShortSide, int expectedWidth, int expectedHeight)
    {
        var decoder = new ImageDecoder(new ImageDecodeOptions { FastJpegMinShortSide = minShortSide });

        using var image = decoder.Decode(Jpeg(width, height));

        Assert.That((image.Width, image.Height), Is.EqualTo((expectedWidth, expectedHeight)));
    }

    [Test]
    public void Decode_Png_IsNeverReduced()
    {
        var decoder = new ImageDecoder(new ImageDecodeOptions { FastJpegMinShortSide = 100 });

        using var image = decoder.Decode(TestImages.EncodeRgb(new byte[800 * 600 * 3], 800, 600, SkiaSharp.SKEncodedImageFormat.Png));

        Assert.That((image.Width, image.Height), Is.EqualTo((800, 600)));
    }

    [Test]
    [Category("Reference")]
    public void Preprocess_1080pJpegOnTheFastPath_StaysCloseToThePillowReference()
    {
        // The fast path trades exactness for speed: a DCT-domain downscale is a box-like prefilter, so it is held to
        // a looser tolerance than the exact path (mean |diff| ≤ 0.002): mean ≤ 0.02 and max ≤ 0.5 normalized units.
        var image = File.ReadAllBytes(RepositoryPaths.RequireShared("test-images/scene_1920x1080.jpg"));
        var reference = NpyFile.ReadFloat32(RepositoryPaths.RequireShared("clip-reference/preprocess/scene_1920x1080.npy")).Data;
        using var decoded = new ImageDecoder(new ImageDecodeOptions { FastJpegMinShortSide = 448 }).Decode(image);
        var tensor = new float[3 * 224 * 224];

        new ClipPreprocessor().Preprocess(decoded, tensor);

        var differences = tensor.Zip(reference, (a, b) => Math.Abs(a - b)).ToArray();
        TestContext.Out.WriteLine($"fast path vs Pillow: mean {differences.Average():0.0000}, max {differences.Max():0.000}");
        Assert.That(differences.Average(), Is.LessThanOrEqualTo(0.02));
        Assert.That(differences.Max(), Is.LessThanOrEqualTo(0.5));
    }
}
