using System.ClientModel;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Clip;
using MessagePack;
using OpenAI;
using OpenAI.Embeddings;
using Truss.Clip.Tests.Support;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <c>POST /v1/embeddings</c> on the embedded model (data/tiny-clip) through a real server on loopback: the
/// response is OpenAI's shape, vectors are the engine's own (unit-norm, the model's dimension), text and image
/// vectors share the space predict scores in, base64 carries the same floats, usage counts CLIP tokens, images come
/// as data: URIs or loopback URLs, and the official OpenAI .NET client reads it all.
/// </summary>
public class EmbeddingsEndpointTests
{
    private const string ServedName = "truss-clip-test";
    private static readonly string[] SampleLabels = ["a red circle", "a blue square", "a yellow star"];
    private TestTrussServer _server = null!;
    private LoopbackFileServer _files = null!;

    private static string ModelDirectory => Path.Combine(RepositoryPaths.RepositoryRoot, "data", "tiny-clip");

    private static byte[] Sample(string name) => File.ReadAllBytes(Path.Combine(RepositoryPaths.RepositoryRoot, "data", "samples", name));

    private static string DataUri(string name) => "data:image/png;base64," + Convert.ToBase64String(Sample(name));

    private ZeroShotClassifier Classifier => ((Model)_server.Server.Host.Model!).Classifier!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        _files = await LoopbackFileServer.StartAsync();
        // Loopback is refused by default (README, "Image URLs"); the test server allows 127.0.0.1 only.
        _server = await TestTrussServer.StartAsync(
            context => new Model(context, ModelDirectory, _ => null),
            $"""
            model_name: {ServedName}
            model_metadata:
              clip:
                limits:
                  max_embedding_inputs: 40
                  max_batch_images: 3
                fetch:
                  timeout_seconds: 2
                  allowed_networks: ['127.0.0.1/32']
            """);
        await _server.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await _server.DisposeAsync();
        await _files.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(object request)
    {
        var response = await _server.Client.PostAsync("/v1/embeddings",
            new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> EmbedAsync(object request)
    {
        var (status, body) = await PostAsync(request);
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static float[][] Vectors(JsonElement response) =>
        response.GetProperty("data").EnumerateArray().Select(entry => entry.GetProperty("embedding").ValueKind == JsonValueKind.String
            ? MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(entry.GetProperty("embedding").GetString()!)).ToArray()
            : entry.GetProperty("embedding").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray()).ToArray();

    private static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    [Test]
    public async Task Text_ResponseIsOpenAiShapeWithTheEnginesUnitVectors()
    {
        string[] texts = ["a red circle", "a green cross", "a red circle"];

        var response = await EmbedAsync(new { input = texts, model = "text-embedding-3-small" });

        var dim = Classifier.EmbeddingDim;
        var expected = new float[texts.Length * dim];
        Classifier.EmbedLabels(texts, [], expected);
        var vectors = Vectors(response);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "object", "data", "model", "usage" }));
            Assert.That(response.GetProperty("object").GetString(), Is.EqualTo("list"));
            Assert.That(response.GetProperty("model").GetString(), Is.EqualTo(ServedName), "the served name, whatever the request named");
            var entries = response.GetProperty("data").EnumerateArray().ToArray();
            Assert.That(entries.Select(e => e.EnumerateObject().Select(p => p.Name)), Has.All.EqualTo(new[] { "object", "embedding", "index" }));
            Assert.That(entries.Select(e => e.GetProperty("object").GetString()), Has.All.EqualTo("embedding"));
            Assert.That(entries.Select(e => e.GetProperty("index").GetInt32()), Is.EqualTo(new[] { 0, 1, 2 }));
            Assert.That(vectors.Select(v => v.Length), Has.All.EqualTo(dim));
            Assert.That(vectors.Select(v => Math.Sqrt(Dot(v, v))), Has.All.EqualTo(1.0).Within(1e-5));
            for (var i = 0; i < texts.Length; i++)
            {
                Assert.That(vectors[i], Is.EqualTo(expected.AsSpan(i * dim, dim).ToArray()).Within(1e-6), texts[i]);
            }

            Assert.That(vectors[2], Is.EqualTo(vectors[0]), "the same text, the same vector");
            Assert.That(Dot(vectors[0], vectors[1]), Is.LessThan(0.999), "different texts differ");
        }
    }

    [Test]
    public async Task Text_UsageCountsTheTokensTheTextTowerReads()
    {
        var longText = string.Join(' ', Enumerable.Repeat("a red circle", 40));
        string[] texts = ["a red circle", "A  Yellow   STAR!", longText];

        var usage = (await EmbedAsync(new { input = texts, model = "m" })).GetProperty("usage");

        var context = Classifier.Descriptor.ContextLength;
        var expected = texts.Sum(t => Classifier.Tokenizer.Encode(t, context).Length);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(usage.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "prompt_tokens", "total_tokens" }));
            Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(expected));
            Assert.That(usage.GetProperty("total_tokens").GetInt32(), Is.EqualTo(expected));
            Assert.That(expected, Is.EqualTo(5 + Classifier.Tokenizer.Encode(texts[1], context).Length + context),
                "start + 3 words + end, then the long text truncated to the context");
        }
    }

    [Test]
    public async Task Text_LongerThanTheContext_IsTruncatedNotRefused()
    {
        var context = Classifier.Descriptor.ContextLength;
        var words = Enumerable.Repeat("blue", context).ToArray();
        var longer = string.Join(' ', words) + " red circle";

        var vectors = Vectors(await EmbedAsync(new { input = new[] { longer, string.Join(' ', words) }, model = "m" }));

        Assert.That(vectors[0], Is.EqualTo(vectors[1]), "words past the context are not read");
    }

    [Test]
    public async Task Base64_DecodesToTheSameFloatsAsFloatFormat()
    {
        string[] texts = ["a purple crescent", "a green triangle"];

        var floats = await EmbedAsync(new { input = texts, model = "m", encoding_format = "float" });
        var base64 = await EmbedAsync(new { input = texts, model = "m", encoding_format = "base64" });

        var entries = base64.GetProperty("data").EnumerateArray().ToArray();
        Assert.That(entries.Select(e => e.GetProperty("embedding").ValueKind), Has.All.EqualTo(JsonValueKind.String));
        Assert.That(Vectors(base64), Is.EqualTo(Vectors(floats)), "bit for bit: JSON floats carry the exact float32");
        Assert.That(base64.GetProperty("usage").ToString(), Is.EqualTo(floats.GetProperty("usage").ToString()));
    }

    [Test]
    public async Task Image_DataUri_RanksItsOwnLabelFirstAsPredictDoes()
    {
        var image = Vectors(await EmbedAsync(new { input = DataUri("red_circle.png"), modality = "image", model = "m" }))[0];
        var labels = Vectors(await EmbedAsync(new { input = SampleLabels, model = "m" }));
        var cosines = labels.Select(label => Dot(image, label)).ToArray();

        var predict = await _server.Client.PostAsync("/v1/models/model:predict", new StringContent(
            JsonSerializer.Serialize(new { labels = SampleLabels, image_base64 = Convert.ToBase64String(Sample("red_circle.png")) }), Encoding.UTF8, "application/json"));
        var scores = JsonDocument.Parse(await predict.Content.ReadAsStringAsync()).RootElement
            .GetProperty("data").GetProperty("predictions")[0].EnumerateObject().Select(p => p.Value.GetDouble()).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Math.Sqrt(Dot(image, image)), Is.EqualTo(1.0).Within(1e-5));
            Assert.That(image, Has.Length.EqualTo(Classifier.EmbeddingDim));
            Assert.That(Array.IndexOf(cosines, cosines.Max()), Is.EqualTo(0), $"cosines {string.Join(", ", cosines)}");
            Assert.That(Enumerable.Range(0, 3).OrderByDescending(i => cosines[i]), Is.EqualTo(Enumerable.Range(0, 3).OrderByDescending(i => scores[i])),
                "the same ranking as predict, whose scores are a softmax of these cosines");
        }
    }

    [Test]
    public async Task Image_EverySampleIsClosestToItsOwnLabel()
    {
        string[] samples = ["red_circle.png", "blue_square.png", "yellow_star.png"];

        var response = await EmbedAsync(new { input = samples.Select(DataUri).ToArray(), modality = "image", model = "m" });

        var images = Vectors(response);
        var labels = Vectors(await EmbedAsync(new { input = SampleLabels, model = "m" }));
        for (var i = 0; i < samples.Length; i++)
        {
            var cosines = labels.Select(label => Dot(images[i], label)).ToArray();
            Assert.That(Array.IndexOf(cosines, cosines.Max()), Is.EqualTo(i), samples[i]);
        }

        Assert.That(response.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(samples.Length), "one per image");
    }

    [Test]
    public async Task Image_LoopbackUrl_EqualsTheDataUri()
    {
        var url = _files.Serve("/blue_square.png", Sample("blue_square.png"));

        var fromUrl = Vectors(await EmbedAsync(new { input = new[] { url }, modality = "image", model = "m" }));
        var fromDataUri = Vectors(await EmbedAsync(new { input = new[] { DataUri("blue_square.png") }, modality = "image", model = "m" }));

        Assert.That(fromUrl, Is.EqualTo(fromDataUri));
    }

    [Test]
    public async Task Image_UrlProblems_NameTheInput()
    {
        var missing = _files.ServeStatus("/missing.png", 404);
        var page = _files.Serve("/page.html", "<html></html>"u8.ToArray(), "text/html");
        // 127.0.0.2 is loopback outside the allow-list: the guard refuses it before any connection is made.
        var refused = $"http://127.0.0.2:{_files.BaseAddress.Port}/x.png";

        var notFound = await PostAsync(new { input = new[] { DataUri("red_circle.png"), missing }, modality = "image" });
        var notImage = await PostAsync(new { input = page, modality = "image" });
        var guarded = await PostAsync(new { input = new[] { refused }, modality = "image" });
        var notDecodable = await PostAsync(new { input = "data:image/png;base64,aGVsbG8=", modality = "image" });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(notFound.Status, Is.EqualTo(HttpStatusCode.BadGateway));
            Assert.That(notFound.Body, Does.Contain("Could not fetch `input[1]`: the server answered 404"));
            Assert.That(notImage.Status, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
            Assert.That(notImage.Body, Does.Contain("`input` answered with Content-Type text/html, which is not an image."));
            Assert.That(guarded.Status, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(guarded.Body, Does.Contain("`input[0]` points at 127.0.0.2, a loopback address, which this server does not fetch"));
            Assert.That(notDecodable.Status, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(notDecodable.Body, Does.Contain("`input` is not a usable image"));
        }
    }

    [Test]
    public async Task BadRequests_Are4xxWithTrussErrorBodyAndHeaders()
    {
        (object Request, HttpStatusCode Status, string Message)[] cases =
        [
            (new { input = Array.Empty<string>() }, HttpStatusCode.UnprocessableEntity, "`input` must not be empty."),
            (new { input = new[] { 1, 2, 3 } }, HttpStatusCode.BadRequest, "`input` holds token ids"),
            (new { input = "a", dimensions = 3 }, HttpStatusCode.UnprocessableEntity, $"`dimensions` must be {Classifier.EmbeddingDim}"),
            (new { input = "a", modality = "audio" }, HttpStatusCode.UnprocessableEntity, "`modality` \"audio\" is not supported"),
            (new { input = Enumerable.Repeat("a", 41).ToArray() }, HttpStatusCode.RequestEntityTooLarge, "the limit is 40 (model_metadata.clip.limits.max_embedding_inputs)"),
            (new { input = Enumerable.Repeat(DataUri("red_circle.png"), 4).ToArray(), modality = "image" }, HttpStatusCode.RequestEntityTooLarge,
                "the limit is 3 (model_metadata.clip.limits.max_batch_images)"),
        ];

        foreach (var (request, status, message) in cases)
        {
            var response = await _server.Client.PostAsync("/v1/embeddings",
                new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadAsStringAsync();
            using (Assert.EnterMultipleScope())
            {
                Assert.That(response.StatusCode, Is.EqualTo(status), body);
                Assert.That(response.Headers.GetValues("X-BASETEN-ERROR-CODE"), Is.EqualTo(new[] { "700" }));
                Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), Does.Contain(message));
            }
        }

        Assert.That((await PostAsync(new { input = "still serving" })).Status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task MsgPack_RequestGetsFloat32VectorsInMsgPack()
    {
        var content = new ByteArrayContent(MessagePackSerializer.Serialize(new Dictionary<string, object>
        {
            ["input"] = new[] { "a red circle" },
            ["model"] = "m",
        }));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");

        var response = await _server.Client.PostAsync("/v1/embeddings", content);

        var decoded = (OrderedDictionary<string, object?>)MsgPackPayload.Read(await response.Content.ReadAsByteArrayAsync())!;
        var embedding = (List<object?>)((OrderedDictionary<string, object?>)((List<object?>)decoded["data"]!)[0]!)["embedding"]!;
        var expected = new float[Classifier.EmbeddingDim];
        Classifier.EmbedLabels(["a red circle"], [], expected);
        Assert.That(embedding.Select(v => (float)(double)v!), Is.EqualTo(expected));
    }

    [Test]
    public async Task OfficialOpenAiClient_ReadsTextEmbeddingsAndUsage()
    {
        var client = new EmbeddingClient("any-model-name", new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(_server.Server.BaseAddress, "/v1") });
        string[] texts = ["a red circle", "a blue square"];

        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(texts, new EmbeddingGenerationOptions { Dimensions = Classifier.EmbeddingDim });

        var dim = Classifier.EmbeddingDim;
        var expected = new float[texts.Length * dim];
        Classifier.EmbedLabels(texts, [], expected);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Model, Is.EqualTo(ServedName));
            Assert.That(result.Select(e => e.Index), Is.EqualTo(new[] { 0, 1 }));
            Assert.That(result[0].ToFloats().ToArray(), Is.EqualTo(expected[..dim]));
            Assert.That(result[1].ToFloats().ToArray(), Is.EqualTo(expected[dim..]));
            Assert.That(result.Usage.InputTokenCount, Is.EqualTo(texts.Sum(Classifier.CountTokens)));
            Assert.That(result.Usage.TotalTokenCount, Is.EqualTo(result.Usage.InputTokenCount));
        }
    }

    [Test]
    public async Task OfficialOpenAiClient_ReadsImageEmbeddingsWithModalityInTheBody()
    {
        // infinity's `modality` is not an OpenAI parameter: clients send it as an extra body field.
        var client = new EmbeddingClient("m", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_server.Server.BaseAddress, "/v1") });
        var body = BinaryContent.Create(BinaryData.FromObjectAsJson(new { input = new[] { DataUri("yellow_star.png") }, model = "m", modality = "image", encoding_format = "base64" }));

        var result = await client.GenerateEmbeddingsAsync(body);

        var parsed = JsonDocument.Parse(result.GetRawResponse().Content.ToString()).RootElement;
        var expected = Vectors(await EmbedAsync(new { input = DataUri("yellow_star.png"), modality = "image" }));
        Assert.That(Vectors(parsed), Is.EqualTo(expected));
    }

    [Test]
    public async Task OfficialOpenAiClient_TokenIdsAndBadDimensions_AreClientErrorsWithTheMessageInTheBody()
    {
        var client = new EmbeddingClient("m", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_server.Server.BaseAddress, "/v1") });

        var tokenIds = await CaptureAsync(() => client.GenerateEmbeddingsAsync([new ReadOnlyMemory<int>([320, 1000])]));
        var dimensions = await CaptureAsync(() => client.GenerateEmbeddingAsync("a", new EmbeddingGenerationOptions { Dimensions = 8 }));

        // Truss's error body ({"error": "<message>", ...}) is not OpenAI's ({"error": {"message": ...}}), so the SDK's
        // exception text carries only the status; the message is in the raw response.
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tokenIds.Status, Is.EqualTo(400));
            Assert.That(tokenIds.GetRawResponse()!.Content.ToString(), Does.Contain("holds token ids"));
            Assert.That(dimensions.Status, Is.EqualTo(422));
            Assert.That(dimensions.GetRawResponse()!.Content.ToString(), Does.Contain("`dimensions` must be"));
        }
    }

    private static async Task<ClientResultException> CaptureAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (ClientResultException e)
        {
            return e;
        }

        Assert.Fail("the client did not throw");
        return null!;
    }
}
