using System.Net;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <c>fetch.max_bytes_in_flight</c> through real HTTP: downloaded images count until decoded, a request whose
/// downloads would pass the budget is answered 503 at once, and whatever a request downloaded is released when it
/// ends, served or failed. Image URLs point only at a loopback server (127.0.0.1, allow-listed).
/// </summary>
public class DownloadBudgetEndpointTests
{
    private static readonly string[] Labels = ["a red circle", "a blue square"];
    private static readonly byte[] Image = Png(40, 30);
    private TestTrussServer _server = null!;
    private LoopbackFileServer _files = null!;
    private Model _model = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _files = await LoopbackFileServer.StartAsync();
        // Room for one download of this image and a half: a request with two of them cannot hold both.
        _server = await TestTrussServer.StartAsync(
            context => _model = new Model(context, ModelFixtures.Split, _ => null),
            $$"""
            model_metadata:
              clip:
                fetch:
                  timeout_seconds: 30
                  max_bytes: {{Image.Length}}
                  max_bytes_in_flight: {{Image.Length * 3 / 2}}
                  allowed_networks: ["127.0.0.1/32"]
            """);
        await _server.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _files.DisposeAsync();
    }

    private async Task<(int Status, string Body)> PredictAsync(object request)
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await _server.Client.PostAsync("/v1/models/model:predict",
            new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"), cancellation.Token);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellation.Token));
    }

    private static byte[] Png(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        new Random(9).NextBytes(rgb);
        return TestImages.EncodeRgb(rgb, width, height, SKEncodedImageFormat.Png);
    }

    [Test]
    public async Task Predict_OneDownload_IsServed_AndReleasesItsBytes()
    {
        var url = _files.Serve($"/one-{Guid.NewGuid():N}.png", Image);

        var (status, body) = await PredictAsync(new { labels = Labels, image_url = url });

        Assert.That(status, Is.EqualTo(200), body);
        Assert.That(_model.DownloadBytesInFlight, Is.Zero);
    }

    [Test]
    public async Task Predict_DownloadsPastTheBudget_Are503AtOnce_AndReleaseEverything()
    {
        var images = new[]
        {
            new { image_url = _files.Serve($"/a-{Guid.NewGuid():N}.png", Image) },
            new { image_url = _files.Serve($"/b-{Guid.NewGuid():N}.png", Image) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(status, Is.EqualTo(503), body);
            Assert.That(body, Does.Contain("downloaded images").And.Contain("fetch.max_bytes_in_flight"));
            Assert.That(_model.DownloadBytesInFlight, Is.Zero, "the download that fitted was released with the failure");
        }
    }

    [Test]
    public async Task Predict_ADownloadFails_TheOtherIsReleased()
    {
        var images = new[]
        {
            new { image_url = _files.Serve($"/ok-{Guid.NewGuid():N}.png", Image) },
            new { image_url = _files.ServeStatus($"/gone-{Guid.NewGuid():N}.png", 404) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        Assert.That(status, Is.EqualTo(502), body);
        Assert.That(_model.DownloadBytesInFlight, Is.Zero);
    }

    [Test]
    public async Task Predict_ADownloadIsNotAnImage_TheRequestFails_AndNothingStaysHeld()
    {
        var images = new[]
        {
            new { image_url = _files.Serve($"/bad-{Guid.NewGuid():N}.png", "not a png at all"u8.ToArray()) },
            new { image_url = _files.Serve($"/small-{Guid.NewGuid():N}.png", Png(4, 4)) },
        };

        var (status, body) = await PredictAsync(new { labels = Labels, images });

        Assert.That(status, Is.EqualTo(400), body);
        Assert.That(body, Does.Contain("images[0].image_url"));
        Assert.That(_model.DownloadBytesInFlight, Is.Zero, "the second download, never decoded, was released too");
    }
}
