using Clip;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.Clip;

/// <summary>
/// <see cref="ZeroShotClassifier.DecodeAsync"/> and the engine's <see cref="DecodeBudget"/>: the decoded pixels equal the
/// decoder's, each image holds its room until it is disposed, a full budget makes the next decode wait (also inside a
/// request's loader), and failures or cancellations keep nothing reserved.
/// </summary>
public class ZeroShotClassifierDecodeTests
{
    private static readonly string[] Labels = ["a red circle", "a photo of a cat"];

    private static ZeroShotClassifier Load(long? maxPixelsInFlight = null, int maxPixels = 1_000_000) =>
        ZeroShotClassifier.Load(
            new ClipEngineOptions
            {
                Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split },
                Decode = new ImageDecodeOptions(maxPixels: maxPixels),
                MaxPixelsInFlight = maxPixelsInFlight,
                Batching = new global::Clip.Batching.BatchingOptions(),
            },
            NullLoggerFactory.Instance);

    [Test]
    public void DefaultBudget_IsTwiceMaxPixels()
    {
        using var classifier = Load(maxPixels: 1_024_000);

        Assert.That(classifier.DecodeBudget.Pixels, Is.EqualTo(2_048_000));
    }

    [Test]
    public async Task DecodeAsync_EqualsTheDecoder_AndHoldsItsRoomUntilTheImageIsDisposed()
    {
        using var classifier = Load();
        var png = TestImages.RandomPng(64, 48, seed: 1);
        using var expected = classifier.Decoder.Decode(png);

        var image = await classifier.DecodeAsync(png, CancellationToken.None);
        var inUse = classifier.DecodeBudget.PixelsInUse;
        var pixels = image.Pixels.ToArray();
        image.Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(pixels, Is.EqualTo(expected.Pixels.ToArray()));
            Assert.That(inUse, Is.EqualTo(3 * 1024), "64 × 48 = 3,072 pixels: 3 kilopixels");
            Assert.That(classifier.DecodeBudget.PixelsInUse, Is.Zero, "disposing the image gave its room back");
        }
    }

    [Test]
    public async Task DecodeAsync_WhenTheBudgetIsFull_WaitsForAnImageToBeDisposed()
    {
        using var classifier = Load(maxPixelsInFlight: 64 * 64);
        var first = await classifier.DecodeAsync(TestImages.RandomPng(64, 64, seed: 1), CancellationToken.None);

        var second = classifier.DecodeAsync(TestImages.RandomPng(32, 32, seed: 2), CancellationToken.None).AsTask();
        Assert.That(await Poll.UntilAsync(() => classifier.DecodeBudget.Waiting == 1), Is.True, "it waits for room");
        Assert.That(second.IsCompleted, Is.False);
        first.Dispose();
        using var decoded = await second.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(decoded.Width, Is.EqualTo(32));
        Assert.That(classifier.DecodeBudget.PixelsInUse, Is.EqualTo(1024));
    }

    [Test]
    public async Task DecodeAsync_BadImages_ThrowTheDecodersError_AndKeepNothingReserved()
    {
        using var classifier = Load();
        var png = TestImages.RandomPng(40, 40, seed: 1);
        var noise = new byte[500];
        new Random(3).NextBytes(noise);

        var unknown = await Assert.ThrowsAsync<ImageDecodeException>(async () => await classifier.DecodeAsync(noise, CancellationToken.None));
        var cut = await Assert.ThrowsAsync<ImageDecodeException>(async () => await classifier.DecodeAsync(png.AsMemory(0, png.Length / 2), CancellationToken.None));
        var bomb = await Assert.ThrowsAsync<ImageDecodeException>(async () => await classifier.DecodeAsync(TestImages.PngHeaderOnly(5000, 5000), CancellationToken.None));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(unknown!.Error, Is.EqualTo(ImageDecodeError.UnknownFormat));
            Assert.That(cut!.Error, Is.EqualTo(ImageDecodeError.Truncated), "the header was fine: room was reserved, then given back");
            Assert.That(bomb!.Error, Is.EqualTo(ImageDecodeError.TooLarge), "refused from the header, above max_pixels");
            Assert.That(classifier.DecodeBudget.PixelsInUse, Is.Zero);
        }
    }

    [Test]
    public async Task ClassifyAsync_LoaderDecodingThroughTheBudget_WaitsForRoom_ThenEqualsTheListOverload()
    {
        using var classifier = Load(maxPixelsInFlight: 4096);
        byte[][] encoded = [TestImages.RandomPng(50, 40, seed: 4), TestImages.RandomPng(30, 60, seed: 5)];
        using var a = classifier.Decoder.Decode(encoded[0]);
        using var b = classifier.Decoder.Decode(encoded[1]);
        var expected = await classifier.ClassifyAsync([a, b], Labels, null, CancellationToken.None);
        var reservedAtEachLoad = new List<long>();
        ValueTask<RgbImage> LoadImage(int index, CancellationToken cancellationToken)
        {
            reservedAtEachLoad.Add(classifier.DecodeBudget.PixelsInUse);
            return classifier.DecodeAsync(encoded[index], cancellationToken);
        }

        var full = await classifier.DecodeBudget.ReserveAsync(classifier.DecodeBudget.Pixels, CancellationToken.None);
        var classifying = classifier.ClassifyAsync(encoded.Length, LoadImage, Labels, null, CancellationToken.None);
        Assert.That(await Poll.UntilAsync(() => classifier.DecodeBudget.Waiting == 1), Is.True, "the first image waits for room");
        full.Dispose();
        var probabilities = await classifying.WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(probabilities[0], Is.EqualTo(expected[0]).Within(1e-6));
            Assert.That(probabilities[1], Is.EqualTo(expected[1]).Within(1e-6));
            Assert.That(reservedAtEachLoad[1], Is.Zero, "the first image gave its room back before the second was loaded");
            Assert.That(classifier.DecodeBudget.PixelsInUse, Is.Zero);
        }
    }

    [Test]
    public async Task ClassifyAsync_CancelledWhileWaitingForRoom_Throws_AndHoldsNothing()
    {
        using var classifier = Load(maxPixelsInFlight: 4096);
        var png = TestImages.RandomPng(20, 20, seed: 1);
        using var cancellation = new CancellationTokenSource();
        var full = await classifier.DecodeBudget.ReserveAsync(classifier.DecodeBudget.Pixels, CancellationToken.None);

        var classifying = classifier.ClassifyAsync(1, (_, token) => classifier.DecodeAsync(png, token), Labels, null, cancellation.Token);
        Assert.That(await Poll.UntilAsync(() => classifier.DecodeBudget.Waiting == 1), Is.True);
        await cancellation.CancelAsync();

        Assert.That(async () => await classifying, Throws.InstanceOf<OperationCanceledException>());
        full.Dispose();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(classifier.DecodeBudget.Waiting, Is.Zero);
            Assert.That(classifier.DecodeBudget.PixelsInUse, Is.Zero);
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
            Assert.That(classifier.Batcher!.Announced, Is.Zero, "it never announced itself to the batcher");
        }
    }
}
