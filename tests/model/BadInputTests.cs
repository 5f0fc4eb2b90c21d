using System.Net;
using System.Text;
using System.Text.Json;
using SkiaSharp;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// Hostile and broken requests through real HTTP, table-driven. Each case asserts the status, that the error text
/// names the problem, that the answer is the JSON error body with the client error code, and that the server still
/// serves a good request afterwards. Image URLs point only at a loopback server (127.0.0.1 allow-listed; 127.0.0.2
/// stands in for an address the config refuses).
/// </summary>
public class BadInputTests
{
    private static TestTrussServer _server = null!;
    private static LoopbackFileServer _files = null!;

    [OneTimeSetUp]
    public static async Task StartServers()
    {
        _files = await LoopbackFileServer.StartAsync();
        _server = await TestTrussServer.StartAsync(
            context => new Model(context, ModelFixtures.Split, _ => null),
            """
            model_metadata:
              server:
                max_request_body_bytes: 3000000
              clip:
                image:
                  max_pixels: 1000000
                limits:
                  max_labels: 50
                  max_label_length: 200
                  max_batch_images: 4
                fetch:
                  timeout_seconds: 1
                  max_bytes: 300000
                  max_redirects: 2
                  allowed_networks: ["127.0.0.1/32"]
            """);
        await _server.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public static async Task StopServers()
    {
        await _server.DisposeAsync();
        await _files.DisposeAsync();
    }

    public sealed record Case(string Name, Func<byte[]> Body, HttpStatusCode Status, string Message, string ContentType = "application/json")
    {
        public Case(string name, Func<string> body, HttpStatusCode status, string message, string contentType = "application/json")
            : this(name, () => Encoding.UTF8.GetBytes(body()), status, message, contentType)
        {
        }

        public override string ToString() => Name;
    }

    private static string Request(object body) => JsonSerializer.Serialize(body);

    private static string Url(string path, byte[] body, string contentType = "image/png") => _files.Serve(path, body, contentType);

    private static readonly string[] Labels = ["a cat", "a dog"];

    private static byte[] Png(int width, int height) =>
        TestImages.EncodeRgb(new byte[width * height * 3], width, height, SKEncodedImageFormat.Png);

    private static int[][][] Pixels(int width, int height) =>
        Enumerable.Range(0, height).Select(_ => Enumerable.Range(0, width).Select(_ => new[] { 10, 20, 30 }).ToArray()).ToArray();

    public static IEnumerable<Case> Cases()
    {
        // Not JSON at all.
        yield return new("empty body", () => "", HttpStatusCode.BadRequest, "Invalid JSON payload: Expecting value: line 1 column 1 (char 0)");
        yield return new("truncated JSON", () => "{\"labels\": [\"a\"", HttpStatusCode.BadRequest, "Invalid JSON payload:");
        yield return new("single quotes", () => "{'labels': ['a']}", HttpStatusCode.BadRequest, "Invalid JSON payload:");
        yield return new("trailing garbage", () => "{} {}", HttpStatusCode.BadRequest, "Invalid JSON payload: Extra data");
        yield return new("NaN literal", () => "{\"labels\": [\"a\"], \"image\": [[[NaN, 0, 0]]]}", HttpStatusCode.BadRequest, "Invalid JSON payload:");
        yield return new("deep nesting", () => new string('[', 5000) + new string(']', 5000), HttpStatusCode.BadRequest, "Invalid JSON payload:");
        yield return new("invalid UTF-8", () => (byte[])[.. "{\"labels\": [\""u8, 0xC3, 0x28, .. "\"]}"u8], HttpStatusCode.BadRequest, "Invalid JSON payload:");
        yield return new("malformed msgpack", () => (byte[])[0xC1, 0xC1], HttpStatusCode.BadRequest, "Invalid msgpack payload", "application/octet-stream");
        // Wrong shapes and types.
        yield return new("body is a list", () => "[1, 2]", HttpStatusCode.BadRequest, "must be a JSON object");
        yield return new("body is a string", () => "\"cat\"", HttpStatusCode.BadRequest, "must be a JSON object");
        yield return new("labels missing", () => Request(new { image = Pixels(2, 2) }), HttpStatusCode.BadRequest, "Missing `labels`");
        yield return new("labels a string", () => Request(new { labels = "cat", image = Pixels(2, 2) }), HttpStatusCode.BadRequest, "`labels` must be a list of strings.");
        yield return new("labels empty", () => Request(new { labels = Array.Empty<string>(), image = Pixels(2, 2) }), HttpStatusCode.UnprocessableEntity, "`labels` must not be empty.");
        yield return new("label not a string", () => Request(new { labels = new object[] { "a", 3 }, image = Pixels(2, 2) }), HttpStatusCode.BadRequest, "`labels[1]` must be a string.");
        yield return new("label empty", () => Request(new { labels = new[] { "a", "" }, image = Pixels(2, 2) }), HttpStatusCode.UnprocessableEntity, "`labels[1]` is empty.");
        yield return new("label null", () => Request(new { labels = new[] { "a", null }, image = Pixels(2, 2) }), HttpStatusCode.BadRequest, "`labels[1]` must be a string.");
        yield return new("too many labels", () => Request(new { labels = Enumerable.Range(0, 51).Select(i => $"l{i}").ToArray(), image = Pixels(2, 2) }), HttpStatusCode.RequestEntityTooLarge, "the limit is 50");
        yield return new("huge label", () => Request(new { labels = new[] { new string('x', 201) }, image = Pixels(2, 2) }), HttpStatusCode.RequestEntityTooLarge, "has 201 characters; the limit is 200");
        yield return new("no image", () => Request(new { labels = Labels }), HttpStatusCode.BadRequest, "Missing image");
        yield return new("two image fields", () => Request(new { labels = Labels, image = Pixels(2, 2), image_url = "http://127.0.0.1/x.png" }), HttpStatusCode.BadRequest, "Send exactly one of");
        yield return new("image a string", () => Request(new { labels = Labels, image = "pixels" }), HttpStatusCode.BadRequest, "`image` must be a non-empty H×W×3 array");
        yield return new("image 0x0", () => Request(new { labels = Labels, image = Array.Empty<int>() }), HttpStatusCode.BadRequest, "`image` must be a non-empty H×W×3 array");
        yield return new("image 1x0", () => Request(new { labels = Labels, image = new[] { Array.Empty<int>() } }), HttpStatusCode.BadRequest, "`image` must be a non-empty H×W×3 array");
        yield return new("ragged rows", () => Request(new { labels = Labels, image = new[] { new[] { new[] { 1, 2, 3 }, new[] { 1, 2, 3 } }, new[] { new[] { 1, 2, 3 } } } }), HttpStatusCode.BadRequest, "rows must all have 2 pixels; image[1]");
        yield return new("two channels", () => Request(new { labels = Labels, image = new[] { new[] { new[] { 1, 2 } } } }), HttpStatusCode.BadRequest, "pixels must have 1, 3 or 4 channels");
        yield return new("mixed channels", () => Request(new { labels = Labels, image = new[] { new[] { new[] { 1, 2, 3 }, new[] { 1, 2, 3, 4 } } } }), HttpStatusCode.BadRequest, "pixels must all have 3 channels; image[0][1]");
        yield return new("value 256", () => Request(new { labels = Labels, image = new[] { new[] { new[] { 1, 2, 256 } } } }), HttpStatusCode.UnprocessableEntity, "image[0][0][2] is 256");
        yield return new("value -1", () => Request(new { labels = Labels, image = new[] { new[] { new[] { -1, 2, 3 } } } }), HttpStatusCode.UnprocessableEntity, "image[0][0][0] is -1");
        yield return new("value fractional", () => Request(new { labels = Labels, image = new[] { new[] { new[] { 0.5, 2, 3 } } } }), HttpStatusCode.UnprocessableEntity, "image[0][0][0] is 0.5");
        yield return new("value a string", () => Request(new { labels = Labels, image = new[] { new[] { new object[] { "1", 2, 3 } } } }), HttpStatusCode.BadRequest, "image[0][0][0] is a string");
        yield return new("array over max_pixels", () => Request(new { labels = Labels, image = Enumerable.Range(0, 1001).Select(_ => new int[1000]).ToArray() }), HttpStatusCode.RequestEntityTooLarge, "more than the limit of 1000000");
        yield return new("body over limit", () => "[" + new string(' ', 3_100_000) + "]", HttpStatusCode.RequestEntityTooLarge, "Request body is larger than the limit of 3000000 bytes");
        // Encoded images.
        yield return new("base64 not base64", () => Request(new { labels = Labels, image_base64 = "%%%" }), HttpStatusCode.BadRequest, "`image_base64` is not valid base64.");
        yield return new("base64 random bytes", () => Request(new { labels = Labels, image_base64 = Convert.ToBase64String(Enumerable.Range(0, 300).Select(i => (byte)(i * 7)).ToArray()) }), HttpStatusCode.UnsupportedMediaType, "`image_base64` is not a usable image");
        yield return new("base64 truncated PNG", () => Request(new { labels = Labels, image_base64 = Convert.ToBase64String(Png(30, 30)[..60]) }), HttpStatusCode.BadRequest, "`image_base64` is not a usable image");
        yield return new("base64 decompression bomb", () => Request(new { labels = Labels, image_base64 = Convert.ToBase64String(TestImages.PngHeaderOnly(100_000, 100_000)) }), HttpStatusCode.RequestEntityTooLarge, "`image_base64` is not a usable image");
        yield return new("batch item not an image", () => Request(new { labels = Labels, images = new object[] { new { image_base64 = Convert.ToBase64String(Png(30, 30)) }, new { image_base64 = Convert.ToBase64String(Enumerable.Range(0, 300).Select(i => (byte)(i * 7)).ToArray()) } } }), HttpStatusCode.UnsupportedMediaType, "`images[1].image_base64` is not a usable image");
        yield return new("base64 SVG", () => Request(new { labels = Labels, image_base64 = Convert.ToBase64String("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>"u8.ToArray()) }), HttpStatusCode.UnsupportedMediaType, "is not a usable image");
        // Image URLs (loopback only).
        yield return new("url not http", () => Request(new { labels = Labels, image_url = "file:///etc/passwd" }), HttpStatusCode.BadRequest, "must be an absolute http:// or https:// URL");
        yield return new("url relative", () => Request(new { labels = Labels, image_url = "/x.png" }), HttpStatusCode.BadRequest, "must be an absolute http:// or https:// URL");
        yield return new("url 404", () => Request(new { labels = Labels, image_url = _files.ServeStatus("/404.png", 404) }), HttpStatusCode.BadGateway, "the server answered 404");
        yield return new("url 500", () => Request(new { labels = Labels, image_url = _files.ServeStatus("/500.png", 500) }), HttpStatusCode.BadGateway, "the server answered 500");
        yield return new("url HTML page", () => Request(new { labels = Labels, image_url = Url("/page.html", "<html></html>"u8.ToArray(), "text/html") }), HttpStatusCode.UnsupportedMediaType, "Content-Type text/html, which is not an image");
        yield return new("url SVG", () => Request(new { labels = Labels, image_url = Url("/i.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>"u8.ToArray(), "image/svg+xml") }), HttpStatusCode.UnsupportedMediaType, "is not a usable image");
        yield return new("url corrupt JPEG", () => Request(new { labels = Labels, image_url = Url("/c.jpg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "image/jpeg") }), HttpStatusCode.BadRequest, "is not a usable image");
        yield return new("url too large", () => Request(new { labels = Labels, image_url = Url("/big.png", new byte[400_000]) }), HttpStatusCode.RequestEntityTooLarge, "larger than 300000 bytes");
        yield return new("url never answers", () => Request(new { labels = Labels, image_url = _files.ServeStall("/stall.png") }), HttpStatusCode.GatewayTimeout, "no complete answer within 1 s");
        yield return new("url refused address", () => Request(new { labels = Labels, image_url = $"http://127.0.0.2:{_files.BaseAddress.Port}/x.png" }), HttpStatusCode.BadRequest, "loopback address");
        yield return new("url redirects to refused address", () => Request(new { labels = Labels, image_url = _files.ServeRedirect("/hop.png", $"http://127.0.0.2:{_files.BaseAddress.Port}/x.png") }), HttpStatusCode.BadRequest, "redirects to 127.0.0.2");
        yield return new("url redirect loop", () => Request(new { labels = Labels, image_url = _files.ServeRedirect("/loop.png", "/loop.png") }), HttpStatusCode.BadGateway, "too many redirects");
        yield return new("url with credentials", () => Request(new { labels = Labels, image_url = $"http://user:pw@127.0.0.1:{_files.BaseAddress.Port}/x.png" }), HttpStatusCode.BadRequest, "must not contain credentials");
        // Options.
        yield return new("batch too big", () => Request(new { labels = Labels, images = Enumerable.Range(0, 5).Select(_ => new { image = Pixels(1, 1) }).ToArray() }), HttpStatusCode.RequestEntityTooLarge, "`images` has 5 entries; the limit is 4");
        yield return new("batch item bad", () => Request(new { labels = Labels, images = new object[] { new { image = Pixels(1, 1) }, new { image = "x" } } }), HttpStatusCode.BadRequest, "`images[1].image` must be a non-empty");
        yield return new("template without placeholder", () => Request(new { labels = Labels, image = Pixels(2, 2), templates = new[] { "a photo" } }), HttpStatusCode.UnprocessableEntity, "must contain exactly one {}");
        yield return new("top_k zero", () => Request(new { labels = Labels, image = Pixels(2, 2), top_k = 0 }), HttpStatusCode.UnprocessableEntity, "`top_k` must be between 1 and");
        yield return new("top_k a string", () => Request(new { labels = Labels, image = Pixels(2, 2), top_k = "2" }), HttpStatusCode.BadRequest, "`top_k` must be an integer.");
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Predict_BadInput_IsAClearClientErrorAndTheServerKeepsServing(Case badInput)
    {
        var content = new ByteArrayContent(badInput.Body());
        content.Headers.TryAddWithoutValidation("Content-Type", badInput.ContentType);

        var response = await _server.Client.PostAsync("/v1/models/model:predict", content);

        var body = await response.Content.ReadAsStringAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(badInput.Status), body);
            Assert.That(response.Headers.GetValues("X-BASETEN-ERROR-CODE"), Is.EqualTo(new[] { "700" }));
            using var document = JsonDocument.Parse(body);
            Assert.That(document.RootElement.GetProperty("error").GetString(), Does.Contain(badInput.Message));
            Assert.That(document.RootElement.GetProperty("status").GetString(), Is.EqualTo("error"));
            Assert.That(body, Does.Not.Contain("   at "), "no stack trace reaches a client");
        }

        var next = await _server.Client.PostAsync("/v1/models/model:predict",
            new StringContent(Request(new { labels = Labels, image = Pixels(3, 2) }), Encoding.UTF8, "application/json"));
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the server still serves the next request");
    }

    [Test]
    public async Task Predict_OnePixelImage_IsClassified()
    {
        var response = await _server.Client.PostAsync("/v1/models/model:predict",
            new StringContent(Request(new { labels = Labels, image = Pixels(1, 1) }), Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }
}
