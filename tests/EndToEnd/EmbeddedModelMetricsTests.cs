using System.Net;
using System.Text;
using System.Text.Json;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.EndToEnd;

/// <summary>
/// The embedded model (data/tiny-clip) behind a real server: what /metrics says after real predictions, from the
/// HTTP series down to the engine's preprocessing, tower runs, batches and label cache. The server is this test's
/// own, so every value is exact.
/// </summary>
[Category("EndToEnd")]
public class EmbeddedModelMetricsTests
{
    private const string PredictRoute = "method=\"POST\",route=\"/v1/models/{name}\"";
    private static readonly string[] Labels = ["a red circle", "a blue square", "a yellow star"];

    private static string Sample(string name) =>
        Convert.ToBase64String(File.ReadAllBytes(Path.Combine(RepositoryPaths.RepositoryRoot, "data", "samples", name)));

    private static async Task<HttpStatusCode> PredictAsync(HttpClient client, object request)
    {
        var response = await client.PostAsync("/v1/models/model:predict",
            new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"));
        return response.StatusCode;
    }

    [Test]
    public async Task Predictions_ShowUpInEverySeries()
    {
        await using var server = await TestTrussServer.StartAsync(
            context => new Model(context, Path.Combine(RepositoryPaths.RepositoryRoot, "data", "tiny-clip"), _ => null),
            "runtime:\n  predict_concurrency: 2\nmodel_metadata:\n  clip:\n    batching:\n      enabled: true\n");
        await server.WaitUntilReadyAsync();
        var loaded = await PrometheusScrape.GetAsync(server.Client);

        Assert.That(await PredictAsync(server.Client, new { labels = Labels, image_base64 = Sample("red_circle.png") }), Is.EqualTo(HttpStatusCode.OK));
        var first = await PrometheusScrape.GetAsync(server.Client);
        Assert.That(await PredictAsync(server.Client, new { labels = Labels, image_base64 = Sample("blue_square.png") }), Is.EqualTo(HttpStatusCode.OK));
        var second = await PrometheusScrape.GetAsync(server.Client);
        var batch = new { labels = Labels, images = new[] { "red_circle.png", "blue_square.png", "yellow_star.png" }.Select(f => new { image_base64 = Sample(f) }) };
        Assert.That(await PredictAsync(server.Client, batch), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await PredictAsync(server.Client, new { labels = Array.Empty<string>(), image_base64 = Sample("red_circle.png") }),
            Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        var third = await PrometheusScrape.GetAsync(server.Client);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(loaded["truss_model_load_seconds"], Is.GreaterThan(0));
            Assert.That(loaded["""truss_model_state{state="ready"}"""], Is.EqualTo(1));
            Assert.That(loaded["truss_clip_label_cache_hits_total"], Is.Zero, "published before any prediction");

            Assert.That(first[$"http_requests_total{{{PredictRoute},code=\"200\"}}"], Is.EqualTo(1));
            Assert.That(first[$"http_request_duration_seconds_count{{{PredictRoute},code=\"200\"}}"], Is.EqualTo(1));
            Assert.That(first["""truss_clip_preprocess_duration_seconds_count{stage="decode"}"""], Is.EqualTo(1));
            Assert.That(first["""truss_clip_preprocess_duration_seconds_count{stage="resize_normalize"}"""], Is.EqualTo(1));
            Assert.That(first["""truss_clip_preprocess_duration_seconds_sum{stage="resize_normalize"}"""], Is.GreaterThan(0));
            Assert.That(first["""truss_clip_inference_duration_seconds_count{tower="image"}"""], Is.EqualTo(1));
            Assert.That(first["""truss_clip_inference_duration_seconds_count{tower="text"}"""], Is.EqualTo(1));
            Assert.That(first["""truss_clip_batch_size_sum{tower="text"}"""], Is.EqualTo(3), "three labels, one text-tower run");
            Assert.That(first["truss_clip_label_cache_misses_total"], Is.EqualTo(3));
            Assert.That(first["truss_clip_label_cache_hits_total"], Is.Zero);
            Assert.That(first["truss_clip_label_cache_hit_ratio"], Is.Zero);
            Assert.That(first.Samples.ContainsKey("truss_clip_batcher_queue_depth"), Is.True, "batching is on");

            Assert.That(second["truss_clip_label_cache_hits_total"], Is.EqualTo(3), "the same labels again");
            Assert.That(second["truss_clip_label_cache_misses_total"], Is.EqualTo(3));
            Assert.That(second["truss_clip_label_cache_hit_ratio"], Is.EqualTo(0.5));
            Assert.That(second["""truss_clip_inference_duration_seconds_count{tower="text"}"""], Is.EqualTo(1), "no new text-tower run");
            Assert.That(second["""truss_clip_inference_duration_seconds_count{tower="image"}"""], Is.EqualTo(2));

            Assert.That(third["""truss_clip_batch_size_count{tower="image"}"""], Is.EqualTo(3), "one dynamic batch per request here");
            Assert.That(third["""truss_clip_batch_size_sum{tower="image"}"""], Is.EqualTo(5), "1 + 1 + the three images of the batch request");
            Assert.That(third["""truss_clip_batch_size_bucket{tower="image",le="3"}"""], Is.EqualTo(3));
            Assert.That(third["""truss_clip_batch_size_bucket{tower="image",le="2"}"""], Is.EqualTo(2));
            Assert.That(third["""truss_clip_preprocess_duration_seconds_count{stage="decode"}"""], Is.EqualTo(5), "the rejected request failed validation before decoding");
            Assert.That(third[$"http_requests_total{{{PredictRoute},code=\"422\"}}"], Is.EqualTo(1));
            Assert.That(third["truss_predict_queue_depth"], Is.Zero);
        }
    }
}
