using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Clip.Imaging;
using SkiaSharp;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// The CLIP model behind the real Truss server (Kestrel on loopback), on the random-weight split fixture: the seed
/// envelope for `image` and `image_url`, identical scores for identical pixels, clear errors for bad images.
/// </summary>
public class ModelEndpointTests
{
    private const int Width = 40;
    private const int Height = 30;
    private static readonly string[] Labels = ["a red circle", "a photo of a cat", "a blue square"];
    private TestTrussServer _server = null!;
    private LoopbackFileServer _files = null!;
    private byte[] _rgb = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _rgb = new byte[Width * Height * 3];
        new Random(11).NextBytes(_rgb);
        _files = await LoopbackFileServer.StartAsync();
        _server = await TestTrussServer.StartAsync(
            context => new Model(context, ModelFixtures.Split, _ => null),
            "model_metadata:\n  clip:\n    fetch:\n      timeout_seconds: 1\n      max_bytes: 100000\n      allowed_networks: ['127.0.0.1/32']\n");
        await _server.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _files.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> PredictAsync(object request)
    {
        var response = await _server.Client.PostAsync("/v1/models/model:predict",
            new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private int[][][] PixelList()
    {
        var rows = new int[Height][][];
        for (var y = 0; y < Height; y++)
        {
            rows[y] = new int[Width][];
            for (var x = 0; x < Width; x++)
            {
                var i = ((y * Width) + x) * 3;
                rows[y][x] = [_rgb[i], _rgb[i + 1], _rgb[i + 2]];
            }
        }

        return rows;
    }

    private static OrderedDictionary<string, double> Predictions(string body)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        Assert.That(root.GetProperty("status").GetString(), Is.EqualTo("success"));
        Assert.That(root.GetProperty("message").ValueKind, Is.EqualTo(JsonValueKind.Null));
        var predictions = root.GetProperty("data").GetProperty("predictions");
        Assert.That(predictions.GetArrayLength(), Is.EqualTo(1));
        var scores = new OrderedDictionary<string, double>();
        foreach (var property in predictions[0].EnumerateObject())
        {
            scores[property.Name] = property.Value.GetDouble();
        }

        return scores;
    }

    [Test]
    public async Task Predict_PixelArray_ReturnsSeedEnvelopeWithEngineScores()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image = PixelList() });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(body, Does.StartWith("{\"status\": \"success\", \"data\": {\"predictions\": [{\"a red circle\": "));
        Assert.That(body, Does.EndWith("}]}, \"message\": null}"));
        var scores = Predictions(body);
        Assert.That(scores.Keys, Is.EqualTo(Labels), "labels in request order");
        Assert.That(scores.Values.Sum(), Is.EqualTo(1).Within(1e-5));

        // The same pixels straight through the engine: the wire must carry exactly the engine's float32 values.
        var model = (Model)_server.Server.Host.Model!;
        using var image = RgbImage.FromRgb(_rgb, Width, Height);
        var expected = model.Classifier!.Classify([image], Labels)[0];
        Assert.That(scores.Values, Is.EqualTo(expected.Select(f => (double)f)));
    }

    [Test]
    public async Task Predict_ImageUrl_FromLoopback_GivesTheSameScoresAsThePixels()
    {
        var url = _files.Serve("/same.png", TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png));

        var fromUrl = await PredictAsync(new { labels = Labels, image_url = url });
        var fromPixels = await PredictAsync(new { labels = Labels, image = PixelList() });

        Assert.That(fromUrl.Status, Is.EqualTo(HttpStatusCode.OK), fromUrl.Body);
        Assert.That(fromUrl.Body, Is.EqualTo(fromPixels.Body), "PNG is lossless, so the bytes on the wire match");
    }

    [Test]
    public async Task Predict_DuplicateLabels_CollapseLikeAPythonDict()
    {
        var (status, body) = await PredictAsync(new { labels = new[] { "a cat", "a dog", "a cat" }, image = PixelList() });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(Predictions(body).Keys, Is.EqualTo(new[] { "a cat", "a dog" }));
    }

    [Test]
    public async Task Predict_ImageUrlNotFound_Is502NamingTheStatus()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.ServeStatus("/missing.png", 404) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadGateway));
        Assert.That(body, Does.Contain("Could not fetch `image_url`: the server answered 404"));
    }

    [Test]
    public async Task Predict_ImageUrlThatStalls_Is504AfterTheTimeout()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.ServeStall("/stall.png") });

        Assert.That(status, Is.EqualTo(HttpStatusCode.GatewayTimeout));
        Assert.That(body, Does.Contain("no complete answer within 1 s"));
    }

    [Test]
    public async Task Predict_ImageUrlNotAnImage_Is415()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.Serve("/page.html", "<html>hi</html>"u8.ToArray(), "text/html") });

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType), body);
        Assert.That(body, Does.Contain("Content-Type text/html, which is not an image"));
    }

    [Test]
    public async Task Predict_ImageUrlUnknownFormat_Is415()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.Serve("/noise.bin", Enumerable.Repeat((byte)7, 500).ToArray(), "application/octet-stream") });

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType), body);
        Assert.That(body, Does.Contain("`image_url` is not a usable image"));
    }

    [Test]
    public async Task Predict_ImageUrlTruncatedPng_Is400()
    {
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);

        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.Serve("/cut.png", png[..(png.Length / 2)]) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(body, Does.Contain("`image_url` is not a usable image"));
    }

    [Test]
    public async Task Predict_ImageUrlTooLarge_Is413()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.Serve("/big.png", new byte[200_000]) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge), body);
        Assert.That(body, Does.Contain("larger than 100000 bytes"));
    }

    [Test]
    public async Task Predict_BadPixelValue_Is422AndTheServerKeepsServing()
    {
        var (status, body) = await PredictAsync(new { labels = Labels, image = new[] { new[] { new[] { 1, 2, 300 } } } });

        Assert.That(status, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(body, Does.Contain("image[0][0][2] is 300"));
        Assert.That((await PredictAsync(new { labels = Labels, image = PixelList() })).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public void Scores_AreWrittenAsWidenedFloat32()
    {
        // Guard for the comparison above: a float32 score printed as Python prints numpy.float32.
        Assert.That(global::Truss.Server.Serialization.PythonJsonWriter.FormatDouble(0.1f), Is.EqualTo("0.10000000149011612"));
        Assert.That(0.1f.ToString(CultureInfo.InvariantCulture), Is.EqualTo("0.1"));
    }

    [Test]
    public async Task Predict_BatchOfImages_AnswersOneEntryPerImageInOrder()
    {
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);
        var url = _files.Serve("/batch.png", png);
        var single = Predictions((await PredictAsync(new { labels = Labels, image = PixelList() })).Body);

        var (status, body) = await PredictAsync(new
        {
            labels = Labels,
            images = new object[] { new { image_url = url }, new { image = new[] { new[] { new[] { 1, 2, 3 } } } }, new { image_base64 = Convert.ToBase64String(png) } },
        });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        using var document = JsonDocument.Parse(body);
        var predictions = document.RootElement.GetProperty("data").GetProperty("predictions");
        Assert.That(predictions.GetArrayLength(), Is.EqualTo(3));
        Assert.That(predictions[0].EnumerateObject().Select(p => p.Value.GetDouble()), Is.EqualTo(single.Values).Within(1e-6), "URL image, batched");
        Assert.That(predictions[2].EnumerateObject().Select(p => p.Value.GetDouble()), Is.EqualTo(single.Values).Within(1e-6), "base64 image, batched");
    }

    [Test]
    public async Task Predict_BatchWithOneBadUrl_NamesTheImage()
    {
        var (status, body) = await PredictAsync(new
        {
            labels = Labels,
            images = new object[] { new { image = PixelList() }, new { image_url = _files.ServeStatus("/gone.png", 410) } },
        });

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadGateway), body);
        Assert.That(body, Does.Contain("Could not fetch `images[1].image_url`: the server answered 410"));
    }

    [Test]
    public async Task Predict_TopK_ReturnsTheBestLabelsBestFirst()
    {
        var all = Predictions((await PredictAsync(new { labels = Labels, image = PixelList() })).Body);

        var (status, body) = await PredictAsync(new { labels = Labels, image = PixelList(), top_k = 2 });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        var top = Predictions(body);
        var expected = all.OrderByDescending(p => p.Value).Take(2).ToArray();
        Assert.That(top.Keys, Is.EqualTo(expected.Select(p => p.Key)));
        Assert.That(top.Values, Is.EqualTo(expected.Select(p => p.Value)));
    }

    [Test]
    public async Task Predict_RequestTemplates_ChangeTheScores()
    {
        var plain = Predictions((await PredictAsync(new { labels = Labels, image = PixelList() })).Body);

        var (status, body) = await PredictAsync(new { labels = Labels, image = PixelList(), templates = new[] { "a photo of {}.", "a drawing of {}." } });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        var templated = Predictions(body);
        Assert.That(templated.Keys, Is.EqualTo(Labels));
        Assert.That(templated.Values, Is.Not.EqualTo(plain.Values));
        Assert.That(templated.Values.Sum(), Is.EqualTo(1).Within(1e-5));
    }

    [Test]
    public async Task Predict_ImageUrlFailsOnceWith503_IsRetriedAndSucceeds()
    {
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);

        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.ServeFlaky("/flaky-once.png", 1, png) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
    }

    [Test]
    public async Task Predict_ImageUrlKeepsFailing_Is502AfterTheRetries()
    {
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);

        var (status, body) = await PredictAsync(new { labels = Labels, image_url = _files.ServeFlaky("/flaky-twice.png", 2, png) });

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadGateway), body);
        Assert.That(body, Does.Contain("the server answered 503"));
    }

    [Test]
    public async Task Predict_ImageUrlDataUri_IsDecodedInlineWithoutFetching()
    {
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);

        var fromDataUri = await PredictAsync(new { labels = Labels, image_url = "data:image/png;base64," + Convert.ToBase64String(png) });
        var fromPixels = await PredictAsync(new { labels = Labels, image = PixelList() });

        Assert.That(fromDataUri.Status, Is.EqualTo(HttpStatusCode.OK), fromDataUri.Body);
        Assert.That(fromDataUri.Body, Is.EqualTo(fromPixels.Body));
    }

    [Test]
    public async Task Predict_ImageWiderThanMaxDimension_Is413()
    {
        await using var server = await TestTrussServer.StartAsync(
            context => new Model(context, ModelFixtures.Split, _ => null), "model_metadata:\n  clip:\n    image:\n      max_dimension: 30\n");
        await server.WaitUntilReadyAsync();
        var png = TestImages.EncodeRgb(_rgb, Width, Height, SKEncodedImageFormat.Png);

        var response = await server.Client.PostAsync("/v1/models/model:predict", new StringContent(
            JsonSerializer.Serialize(new { labels = Labels, image_base64 = Convert.ToBase64String(png) }), Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge), await response.Content.ReadAsStringAsync());
    }
}
