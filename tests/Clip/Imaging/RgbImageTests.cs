using Clip.Imaging;

namespace Truss.Clip.Tests.Clip.Imaging;

public class RgbImageTests
{
    [Test]
    public void FromGray_ReplicatesChannels()
    {
        using var image = RgbImage.FromGray([0, 10, 200, 255], 2, 2);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(new byte[] { 0, 0, 0, 10, 10, 10, 200, 200, 200, 255, 255, 255 }));
    }

    [TestCase(AlphaMode.Black, new byte[] { 0, 0, 0, 128, 0, 0 })]
    [TestCase(AlphaMode.Drop, new byte[] { 200, 50, 10, 255, 0, 0 })]
    [TestCase(AlphaMode.White, new byte[] { 255, 255, 255, 255, 127, 127 })]
    public void FromRgba_TransparentPixels_ResolvedPerMode(AlphaMode mode, byte[] expected)
    {
        using var image = RgbImage.FromRgba([200, 50, 10, 0, 255, 0, 0, 128], 2, 1, mode);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void FromRgba_ManyOpaquePixels_CopiesColour()
    {
        // Long enough for the vectorised alpha-drop path plus a scalar tail.
        var rgba = new byte[37 * 4];
        var expected = new byte[37 * 3];
        for (int i = 0; i < 37; i++)
        {
            rgba[(i * 4) + 0] = expected[(i * 3) + 0] = (byte)i;
            rgba[(i * 4) + 1] = expected[(i * 3) + 1] = (byte)(i + 100);
            rgba[(i * 4) + 2] = expected[(i * 3) + 2] = (byte)(i + 200);
            rgba[(i * 4) + 3] = 255;
        }

        using var image = RgbImage.FromRgba(rgba, 37, 1, AlphaMode.Drop);

        Assert.That(image.Pixels.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void FromInterleaved_WrongLength_ThrowsWithSizes()
    {
        Assert.That(
            () => RgbImage.FromInterleaved(new byte[10], 2, 2, 3),
            Throws.ArgumentException.With.Message.Contains("needs 12 bytes, got 10"));
    }

    [Test]
    public void FromInterleaved_UnsupportedChannelCount_Throws()
    {
        Assert.That(() => RgbImage.FromInterleaved(new byte[8], 2, 2, 2), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Dispose_ThenAccess_ThrowsObjectDisposed()
    {
        var image = RgbImage.FromRgb([1, 2, 3], 1, 1);

        image.Dispose();
        image.Dispose();

        Assert.That(() => image.Pixels.Length, Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void GetRow_ReturnsStrideBytesOfThatRow()
    {
        using var image = RgbImage.FromRgb([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 2, 2);

        Assert.That(image.GetRow(1).ToArray(), Is.EqualTo(new byte[] { 7, 8, 9, 10, 11, 12 }));
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(8)]
    public void RgbaToRgb_EachExifOrientation_MatchesComposedRotations(int orientation)
    {
        // 3x2 stored image with unique pixel values; the expected image is built from flips and 90° turns.
        const int width = 3, height = 2;
        var stored = new int[height, width];
        var rgba = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                stored[y, x] = (y * width) + x + 1;
                rgba[((y * width) + x) * 4] = (byte)stored[y, x];
                rgba[(((y * width) + x) * 4) + 3] = 255;
            }
        }

        int[,] expected = orientation switch
        {
            1 => stored,
            2 => FlipHorizontal(stored),
            3 => RotateClockwise(RotateClockwise(stored)),
            4 => FlipVertical(stored),
            5 => FlipHorizontal(RotateClockwise(stored)),
            6 => RotateClockwise(stored),
            7 => FlipVertical(RotateClockwise(stored)),
            _ => RotateClockwise(RotateClockwise(RotateClockwise(stored))),
        };
        var rgb = new byte[width * height * 3];

        PixelConverter.RgbaToRgb(rgba, width, height, (ExifOrientation)orientation, rgb, AlphaMode.Drop);

        var actual = new int[expected.GetLength(0), expected.GetLength(1)];
        for (int y = 0; y < actual.GetLength(0); y++)
        {
            for (int x = 0; x < actual.GetLength(1); x++)
            {
                actual[y, x] = rgb[((y * actual.GetLength(1)) + x) * 3];
            }
        }

        Assert.That(actual, Is.EqualTo(expected));
    }

    private static int[,] RotateClockwise(int[,] image)
    {
        int height = image.GetLength(0), width = image.GetLength(1);
        var rotated = new int[width, height];
        for (int y = 0; y < width; y++)
        {
            for (int x = 0; x < height; x++)
            {
                rotated[y, x] = image[height - 1 - x, y];
            }
        }

        return rotated;
    }

    private static int[,] FlipHorizontal(int[,] image)
    {
        int height = image.GetLength(0), width = image.GetLength(1);
        var flipped = new int[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                flipped[y, x] = image[y, width - 1 - x];
            }
        }

        return flipped;
    }

    private static int[,] FlipVertical(int[,] image)
    {
        int height = image.GetLength(0), width = image.GetLength(1);
        var flipped = new int[height, width];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                flipped[y, x] = image[height - 1 - y, x];
            }
        }

        return flipped;
    }
}
