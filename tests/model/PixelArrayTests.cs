using Clip.Imaging;
using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.model;

public class PixelArrayTests
{
    private static RgbImage Parse(string json, long maxPixels = 1000) =>
        PixelArray.ToImage(JsonPayloadReader.Read(System.Text.Encoding.UTF8.GetBytes(json)), maxPixels, AlphaMode.Black);

    [Test]
    public void ToImage_HxWx3_KeepsPixelsInRowMajorOrder()
    {
        using var image = Parse("[[[1,2,3],[4,5,6]],[[7,8,9],[10,11,255]]]");

        Assert.That((image.Width, image.Height), Is.EqualTo((2, 2)));
        Assert.That(image.Pixels.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255 }));
    }

    [Test]
    public void ToImage_Gray2D_ReplicatesToRgb()
    {
        using var image = Parse("[[0, 128], [255, 7.0]]");

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 128, 128, 128, 255, 255, 255, 7, 7, 7 }));
    }

    [Test]
    public void ToImage_Rgba_CompositesOnBlack()
    {
        using var image = Parse("[[[200, 100, 50, 0], [200, 100, 50, 255]]]");

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 200, 100, 50 }));
    }

    [TestCase("[]", "`image` must be a non-empty H×W×3 array")]
    [TestCase("[[]]", "`image` must be a non-empty H×W×3 array")]
    [TestCase("[1, 2]", "`image` must be a non-empty H×W×3 array")]
    [TestCase("[[[1,2]]]", "`image` pixels must have 1, 3 or 4 channels")]
    [TestCase("[[[1,2,3],[4,5,6]],[[7,8,9]]]", "`image` rows must all have 2 pixels; image[1] is a list of 1")]
    [TestCase("[[[1,2,3],[4,5]]]", "`image` pixels must all have 3 channels; image[0][1] is a list of 2")]
    [TestCase("[[[1,2,256]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is 256")]
    [TestCase("[[[1,2,-1]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is -1")]
    [TestCase("[[[1,2,0.5]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is 0.5")]
    [TestCase("[[[1,2,\"3\"]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is a string")]
    [TestCase("[[[1,2,null]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is null")]
    [TestCase("[[[1,2,true]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is true")]
    [TestCase("[[[1,2,{}]]]", "`image` pixel values must be integers from 0 to 255; image[0][0][2] is an object")]
    [TestCase("[[1, [2]]]", "`image` pixel values must be integers from 0 to 255; image[0][1] is a list of 1")]
    public void ToImage_BadShapeOrValue_NamesTheIndex(string json, string message) =>
        Assert.That(() => Parse(json), Throws.TypeOf<ModelInputException>().With.Message.StartsWith(message));

    [Test]
    public void ToImage_TooManyPixels_Is413BeforeReadingThem() =>
        Assert.That(() => Parse("[[0,0,0,0],[0,0,0,0]]", maxPixels: 7), Throws.TypeOf<ModelInputException>()
            .With.Property(nameof(ModelInputException.StatusCode)).EqualTo(413).And.Message.Contains("limit of 7"));
}
