using System.Net;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model.ImageSources;

/// <summary>
/// The SSRF guard through the real Truss server and real HTTP, on loopback only: the default config refuses a
/// loopback <c>image_url</c> before connecting, and an allow-listed 127.0.0.1 does not open the door to a redirect
/// that leads to 127.0.0.2.
/// </summary>
public class ImageUrlGuardEndpointTests
{
    private static readonly string[] Labels = ["a red circle", "a blue square"];
    private TestTrussServer _defaultServer = null!;
    private TestTrussServer _allowListedServer = null!;
    private byte[] _png = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        var rgb = new byte[16 * 16 * 3];
        new Random(5).NextBytes(rgb);
        _png = TestImages.EncodeRgb(rgb, 16, 16, SKEncodedImageFormat.Png);
        _defaultServer = await TestTrussServer.StartAsync(context => new Model(context, ModelFixtures.Split, _ => null));
        _allowListedServer = await TestTrussServer.StartAsync(
            context => new Model(context, ModelFixtures.Split, _ => null),
            "model_metadata:\n  clip:\n    fetch:\n      timeout_seconds: 5\n      allowed_networks: ['127.0.0.1/32']\n");
        await _defaultServer.WaitUntilReadyAsync();
        await _allowListedServer.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _defaultServer.DisposeAsync();
        await _allowListedServer.DisposeAsync();
    }

    [Test]
    public async Task Predict_LoopbackImageUrlWithDefaultConfig_Is400AndNothingConnects()
    {
        await using var files = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = files.Serve("/cat.png", _png);

        var response = await PredictAsync(_defaultServer, url);
        var body = await response.Content.ReadAsStringAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
            Assert.That(response.Headers.GetValues("X-BASETEN-ERROR-CODE"), Is.EqualTo(new[] { "700" }));
            Assert.That(ErrorOf(body), Is.EqualTo(
                "`image_url` points at 127.0.0.1, a loopback address, which this server does not fetch " +
                "(model_metadata.clip.fetch.allowed_networks)."));
            Assert.That(files.Connections, Is.Zero, "refused before any TCP connection");
            Assert.That(files.RequestTargets, Is.Empty);
        }
    }

    [Test]
    public async Task Predict_AllowListedLoopbackImageUrl_IsFetched()
    {
        await using var files = RecordingLoopbackServer.Start(IPAddress.Loopback);
        var url = files.Serve("/cat.png", _png);

        var response = await PredictAsync(_allowListedServer, url);
        var body = await response.Content.ReadAsStringAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
            Assert.That(files.RequestTargets, Is.EqualTo(new[] { "/cat.png" }));
        }
    }

    [Test]
    public async Task Predict_RedirectToLoopbackAddressNotAllowListed_Is400AtTheRedirectHop()
    {
        await using var allowed = RecordingLoopbackServer.Start(IPAddress.Loopback);
        await using var notAllowed = RecordingLoopbackServer.Start(IPAddress.Parse("127.0.0.2"));
        var url = allowed.Redirect("/start.png", notAllowed.Serve("/cat.png", _png));

        var response = await PredictAsync(_allowListedServer, url);
        var body = await response.Content.ReadAsStringAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
            Assert.That(ErrorOf(body), Is.EqualTo(
                "`image_url` redirects to 127.0.0.2, a loopback address, which this server does not fetch " +
                "(model_metadata.clip.fetch.allowed_networks)."));
            Assert.That(allowed.RequestTargets, Is.EqualTo(new[] { "/start.png" }), "the first hop was fetched");
            Assert.That(notAllowed.Connections, Is.Zero, "the redirect target was never connected to");
        }
    }

    private static Task<HttpResponseMessage> PredictAsync(TestTrussServer server, string url) =>
        server.Client.PostAsync("/v1/models/model:predict", new StringContent(
            JsonSerializer.Serialize(new { labels = Labels, image_url = url }), Encoding.UTF8, "application/json"));

    private static string? ErrorOf(string body)
    {
        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("error").GetString();
    }
}
