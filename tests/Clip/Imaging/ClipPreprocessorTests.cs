using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

public class ClipPreprocessorTests
{
    // Offsets (resized - 224) / 2 of 0.5, 1.5, 2.5 and 3.5: Python's round gives 0, 2, 2, 4; floor gives 0, 1, 2, 3.
    [TestCase(225, CropRounding.RoundHalfEven, 0)]
    [TestCase(227, CropRounding.RoundHalfEven, 2)]
    [TestCase(229, CropRounding.RoundHalfEven, 2)]
    [TestCase(231, CropRounding.RoundHalfEven, 4)]
    [TestCase(225, CropRounding.Floor, 0)]
    [TestCase(227, CropRounding.Floor, 1)]
    [TestCase(229, CropRounding.Floor, 2)]
    [TestCase(231, CropRounding.Floor, 3)]
    public void Preprocess_HalfPixelCropOffset_RoundsAsConfigured(int width, CropRounding rounding, int expectedLeft)
    {
        // Height is already 224, so there is no resize: column x of the output must be input column left + x,
        // and each input column stores its own index in the red channel.
        var rgb = new byte[width * 224 * 3];
        for (int y = 0; y < 224; y++)
        {
            for (int x = 0; x < width; x++)
            {
                rgb[((y * width) + x) * 3] = (byte)x;
            }
        }

        using var image = RgbImage.FromRgb(rgb, width, 224);
        var options = new ClipPreprocessOptions(cropRounding: rounding, mean: [0f, 0f, 0f], std: [1f, 1f, 1f], rescaleFactor: 1f);
        var preprocessor = new ClipPreprocessor(options);
        var tensor = new float[preprocessor.TensorLength];

        preprocessor.Preprocess(image, tensor);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(tensor[0], Is.EqualTo(expectedLeft), "red of output (0, 0) is the input column");
            Assert.That(tensor[223], Is.EqualTo(expectedLeft + 223), "red of output (223, 0)");
        }
    }

    [TestCase(1920, 1080, 398, 224, 87, 0)]
    [TestCase(120, 300, 224, 560, 0, 168)]
    [TestCase(451, 300, 336, 224, 56, 0)]
    [TestCase(10, 10, 224, 224, 0, 0)]
    [TestCase(640, 427, 335, 224, 56, 0)]
    [TestCase(224, 224, 224, 224, 0, 0)]
    public void ComputeGeometry_Shortest_MatchesTorchvision(int width, int height, int resizedWidth, int resizedHeight, int left, int top)
    {
        var geometry = ClipPreprocessor.ComputeGeometry(width, height, ClipPreprocessOptions.Default);

        Assert.That(geometry, Is.EqualTo(new ClipPreprocessor.CropGeometry(resizedWidth, resizedHeight, left, top)));
    }

    [Test]
    public void ComputeGeometry_Squash_IgnoresAspectRatio()
    {
        var geometry = ClipPreprocessor.ComputeGeometry(1920, 1080, new ClipPreprocessOptions(resizeMode: ResizeMode.Squash));

        Assert.That(geometry, Is.EqualTo(new ClipPreprocessor.CropGeometry(224, 224, 0, 0)));
    }

    [Test]
    public void ComputeGeometry_ExtremeAspectRatio_Throws()
    {
        Assert.That(
            () => ClipPreprocessor.ComputeGeometry(20_000_000, 1, ClipPreprocessOptions.Default),
            Throws.ArgumentException.With.Message.Contains("too elongated"));
    }

    [Test]
    public void Preprocess_Squash_EqualsSquareResizeNormalised()
    {
        byte[] rgb = new byte[50 * 30 * 3];
        new Random(1).NextBytes(rgb);
        using var image = RgbImage.FromRgb(rgb, 50, 30);
        var options = new ClipPreprocessOptions(size: 16, resizeMode: ResizeMode.Squash, interpolation: ResampleFilter.Bilinear);
        var preprocessor = new ClipPreprocessor(options);
        var tensor = new float[preprocessor.TensorLength];

        preprocessor.Preprocess(image, tensor);

        using var square = PillowResampler.Resize(image, 16, 16, ResampleFilter.Bilinear);
        var expected = new float[tensor.Length];
        var pixels = square.Pixels;
        for (int i = 0; i < 256; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                expected[(c * 256) + i] = (float)(((pixels[(i * 3) + c] / 255.0) - options.Mean[c]) / options.Std[c]);
            }
        }

        Assert.That(tensor, Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void Preprocess_KnownPixel_UsesOpenAiNormalisation()
    {
        using var image = RgbImage.FromRgb(Enumerable.Repeat((byte)255, 224 * 224 * 3).ToArray(), 224, 224);
        var preprocessor = new ClipPreprocessor();
        var tensor = new float[preprocessor.TensorLength];

        preprocessor.Preprocess(image, tensor);

        int plane = 224 * 224;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tensor[0], Is.EqualTo((1 - 0.48145466) / 0.26862954).Within(1e-6));
            Assert.That(tensor[plane], Is.EqualTo((1 - 0.4578275) / 0.26130258).Within(1e-6));
            Assert.That(tensor[(2 * plane) + plane - 1], Is.EqualTo((1 - 0.40821073) / 0.27577711).Within(1e-6));
        }
    }

    [Test]
    public void Preprocess_WrongDestinationLength_ThrowsWithSizes()
    {
        using var image = RgbImage.FromRgb(new byte[3 * 4 * 4], 4, 4);
        var preprocessor = new ClipPreprocessor();

        Assert.That(
            () => preprocessor.Preprocess(image, new float[100]),
            Throws.ArgumentException.With.Message.Contains("3x224x224 = 150528").And.Message.Contains("100"));
    }

    [Test]
    public void Options_InvalidValues_Throw()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new ClipPreprocessOptions(size: 0), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ClipPreprocessOptions(std: [1f, 0f, 1f]), Throws.ArgumentException);
            Assert.That(() => new ClipPreprocessOptions(mean: [0.5f, 0.5f]), Throws.ArgumentException);
            Assert.That(() => new ClipPreprocessOptions(rescaleFactor: float.NaN), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new ClipPreprocessOptions(resizeMode: (ResizeMode)9), Throws.TypeOf<ArgumentOutOfRangeException>());
        }
    }

    [Test]
    public void Options_Default_IsOpenAiClip()
    {
        var options = ClipPreprocessOptions.Default;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.Size, Is.EqualTo(224));
            Assert.That(options.ResizeMode, Is.EqualTo(ResizeMode.Shortest));
            Assert.That(options.Interpolation, Is.EqualTo(ResampleFilter.Bicubic));
            Assert.That(options.CropRounding, Is.EqualTo(CropRounding.RoundHalfEven));
            Assert.That(options.Mean, Is.EqualTo(new[] { 0.48145466f, 0.4578275f, 0.40821073f }));
            Assert.That(options.Std, Is.EqualTo(new[] { 0.26862954f, 0.26130258f, 0.27577711f }));
        }
    }
}
