using Truss.Clip.Tests.Clip.Imaging;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <c>fetch.max_bytes_in_flight</c> through real HTTP: downloaded images count until decoded, a request whose
/// downloads would pass the budget is answered 503 at once, and whatever a request downloaded is released when it
/// ends, served or failed. Image URLs point only at a loopback server (127.0.0.1, allow-listed).
/// </summary>
public class DownloadBudgetEndpointTests : SplitModelEndpointFixture
{
    private static readonly byte[] Image = TestImages.RandomPng(40, 30, seed: 9);

    // Room for one download of this image and a half: a request with two of them cannot hold both.
    protected override string ConfigYaml =>
        $$"""
        model_metadata:
          clip:
            fetch:
              timeout_seconds: 30
              max_bytes: {{Image.Length}}
              max_bytes_in_flight: {{Image.Length * 3 / 2}}
              allowed_networks: ["127.0.0.1/32"]
        """;

    [Test]
    public async Task Predict_OneDownload_IsServed_AndReleasesItsBytes()
    {
        var url = Files.Serve($"/one-{Guid.NewGuid():N}.png", Image);

        var (status, body) = await PredictAsync(new { labels = Labels, image_url = url });

        Assert.That((int)status, Is.EqualTo(200), body);
        Assert.That(LoadedModel.DownloadBytesInFlight, Is.Zero);
    }

    [Test]
    public async Task Predict_DownloadsPastTheBudget_Are503AtOnce_AndReleaseEverything()
    {
        var images = new[]
        {
            new { image_url = Files.Serve($"/a-{Guid.NewGuid():N}.png", Image) },
            new { image_url = Files.Serve($"/b-{Guid.NewGuid():N}.png", Image) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        using (Assert.EnterMultipleScope())
        {
            Assert.That((int)status, Is.EqualTo(503), body);
            Assert.That(body, Does.Contain("downloaded images").And.Contain("fetch.max_bytes_in_flight"));
            Assert.That(LoadedModel.DownloadBytesInFlight, Is.Zero, "the download that fitted was released with the failure");
        }
    }

    [Test]
    public async Task Predict_ADownloadFails_TheOtherIsReleased()
    {
        var images = new[]
        {
            new { image_url = Files.Serve($"/ok-{Guid.NewGuid():N}.png", Image) },
            new { image_url = Files.ServeStatus($"/gone-{Guid.NewGuid():N}.png", 404) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        Assert.That((int)status, Is.EqualTo(502), body);
        Assert.That(LoadedModel.DownloadBytesInFlight, Is.Zero);
    }

    [Test]
    public async Task Predict_ADownloadIsNotAnImage_TheRequestFails_AndNothingStaysHeld()
    {
        var images = new[]
        {
            new { image_url = Files.Serve($"/bad-{Guid.NewGuid():N}.png", "not a png at all"u8.ToArray()) },
            new { image_url = Files.Serve($"/small-{Guid.NewGuid():N}.png", TestImages.RandomPng(4, 4, seed: 9)) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        Assert.That((int)status, Is.EqualTo(400), body);
        Assert.That(body, Does.Contain("images[0].image_url"));
        Assert.That(LoadedModel.DownloadBytesInFlight, Is.Zero, "the second download, never decoded, was released too");
    }
}
