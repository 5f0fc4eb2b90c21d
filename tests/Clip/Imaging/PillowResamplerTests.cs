using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

public partial class PillowResamplerTests
{
    private static IEnumerable<TestCaseData> Scales()
    {
        foreach (var filter in (ResampleFilter[])[ResampleFilter.Bicubic, ResampleFilter.Bilinear])
        {
            yield return new TestCaseData(37, 23, 10, 7, filter);
            yield return new TestCaseData(64, 48, 17, 33, filter);
            yield return new TestCaseData(20, 15, 45, 31, filter);
            yield return new TestCaseData(13, 9, 200, 150, filter);
            yield return new TestCaseData(100, 80, 100, 21, filter);
            yield return new TestCaseData(100, 80, 30, 80, filter);
            yield return new TestCaseData(301, 7, 41, 19, filter);
        }
    }

    [TestCaseSource(nameof(Scales))]
    public void Resize_RandomImage_WithinOneLevelOfDoubleReference(int inWidth, int inHeight, int outWidth, int outHeight, ResampleFilter filter)
    {
        byte[] rgb = RandomPixels(inWidth, inHeight, seed: (inWidth * 31) + outWidth);
        using var source = RgbImage.FromRgb(rgb, inWidth, inHeight);
        byte[] expected = ReferenceResampler.Resize(rgb, inWidth, inHeight, outWidth, outHeight, filter);

        using var actual = PillowResampler.Resize(source, outWidth, outHeight, filter);

        var pixels = actual.Pixels;
        int maxDifference = 0;
        int differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int difference = Math.Abs(pixels[i] - expected[i]);
            maxDifference = Math.Max(maxDifference, difference);
            differing += difference == 0 ? 0 : 1;
        }

        TestContext.Out.WriteLine($"{differing} of {expected.Length} bytes differ from the double-precision reference");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual.Width, Is.EqualTo(outWidth));
            Assert.That(actual.Height, Is.EqualTo(outHeight));
            Assert.That(maxDifference, Is.LessThanOrEqualTo(1), "fixed point vs double rounding");
            // Exact .5 ties are common when upscaling with the bilinear kernel; fixed-point weights break them either
            // way. A systematic error (wrong window, missing clip) would touch far more bytes.
            Assert.That(differing, Is.LessThanOrEqualTo(expected.Length / 20), "off-by-one bytes should be rare");
        }
    }

    [TestCaseSource(nameof(Scales))]
    public void Resize_VectorAndScalarPaths_GiveIdenticalBytes(int inWidth, int inHeight, int outWidth, int outHeight, ResampleFilter filter)
    {
        using var source = RgbImage.FromRgb(RandomPixels(inWidth, inHeight, seed: inHeight), inWidth, inHeight);

        using var vector = PillowResampler.ResizeAndCropCore(source, outWidth, outHeight, 0, 0, outWidth, outHeight, filter, allowSimd: true);
        using var scalar = PillowResampler.ResizeAndCropCore(source, outWidth, outHeight, 0, 0, outWidth, outHeight, filter, allowSimd: false);

        Assert.That(vector.Pixels.ToArray(), Is.EqualTo(scalar.Pixels.ToArray()));
    }

    [TestCase(398, 224, 87, 0, 224, 224)]
    [TestCase(45, 31, 3, 5, 20, 11)]
    [TestCase(17, 33, 0, 32, 17, 1)]
    [TestCase(60, 50, 59, 0, 1, 50)]
    public void ResizeAndCrop_Window_EqualsCropOfFullResize(int width, int height, int cropX, int cropY, int cropWidth, int cropHeight)
    {
        using var source = RgbImage.FromRgb(RandomPixels(120, 70, seed: 5), 120, 70);
        using var full = PillowResampler.Resize(source, width, height);

        using var window = PillowResampler.ResizeAndCrop(source, width, height, cropX, cropY, cropWidth, cropHeight);

        var expected = new byte[cropWidth * cropHeight * 3];
        for (int y = 0; y < cropHeight; y++)
        {
            full.GetRow(cropY + y).Slice(cropX * 3, cropWidth * 3).CopyTo(expected.AsSpan(y * cropWidth * 3));
        }

        Assert.That(window.Pixels.ToArray(), Is.EqualTo(expected));
    }

    [TestCase(50, 40, 7, 5)]
    [TestCase(50, 40, 224, 301)]
    [TestCase(1920, 1080, 398, 224)]
    [TestCase(3, 2, 1, 1)]
    public void Resize_ConstantImage_StaysConstant(int inWidth, int inHeight, int outWidth, int outHeight)
    {
        var rgb = new byte[inWidth * inHeight * 3];
        for (int i = 0; i < rgb.Length; i += 3)
        {
            rgb[i] = 77;
            rgb[i + 1] = 0;
            rgb[i + 2] = 255;
        }

        using var source = RgbImage.FromRgb(rgb, inWidth, inHeight);

        using var resized = PillowResampler.Resize(source, outWidth, outHeight);

        var pixels = resized.Pixels;
        bool constant = true;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            constant &= pixels[i] == 77 && pixels[i + 1] == 0 && pixels[i + 2] == 255;
        }

        Assert.That(constant, Is.True, "every pixel stays (77, 0, 255)");
    }

    [Test]
    public void Resize_SameSize_IsExactCopy()
    {
        byte[] rgb = RandomPixels(31, 17, seed: 9);
        using var source = RgbImage.FromRgb(rgb, 31, 17);

        using var resized = PillowResampler.Resize(source, 31, 17);

        Assert.That(resized.Pixels.ToArray(), Is.EqualTo(rgb));
    }

    [Test]
    public void Resize_OnePixelImage_Upscales()
    {
        using var source = RgbImage.FromRgb([9, 99, 199], 1, 1);

        using var resized = PillowResampler.Resize(source, 5, 3);

        var pixels = resized.Pixels;
        bool allSame = true;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            allSame &= pixels[i] == 9 && pixels[i + 1] == 99 && pixels[i + 2] == 199;
        }

        Assert.That(allSame, Is.True);
    }

    [Test]
    public void ResizeAndCrop_WindowOutsideImage_Throws()
    {
        using var source = RgbImage.FromRgb(new byte[4 * 4 * 3], 4, 4);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => PillowResampler.ResizeAndCrop(source, 10, 10, 5, 0, 6, 10), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => PillowResampler.ResizeAndCrop(source, 10, 10, -1, 0, 5, 5), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => PillowResampler.Resize(source, 0, 10), Throws.TypeOf<ArgumentOutOfRangeException>());
        }
    }

    private static byte[] RandomPixels(int width, int height, int seed)
    {
        // Half noise, half smooth gradient: noise stresses clipping and negative lobes, gradients the rounding.
        var rgb = new byte[width * height * 3];
        var random = new Random(seed);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = ((y * width) + x) * 3;
                bool noisy = ((x / 4) + (y / 4)) % 2 == 0;
                rgb[i] = noisy ? (byte)random.Next(256) : (byte)(x * 255 / Math.Max(1, width - 1));
                rgb[i + 1] = noisy ? (byte)random.Next(256) : (byte)(y * 255 / Math.Max(1, height - 1));
                rgb[i + 2] = noisy ? (byte)random.Next(256) : (byte)((x + y) % 256);
            }
        }

        return rgb;
    }
}
