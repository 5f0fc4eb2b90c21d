using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MessagePack;
using Microsoft.Extensions.Logging;
using Truss.Clip.Tests.Support;
using Truss.Server;
using Truss.Server.Hosting;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Truss.Server.Http;

/// <summary>Every route and status of the Truss contract, through a real Kestrel server on loopback.</summary>
public class TrussEndpointsTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string errorCode, string message)
    {
        var body = await response.Content.ReadAsStringAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
            Assert.That(response.Headers.GetValues("X-BASETEN-ERROR-SOURCE"), Is.EqualTo(new[] { "04" }));
            Assert.That(response.Headers.GetValues("X-BASETEN-ERROR-CODE"), Is.EqualTo(new[] { errorCode }));
            var root = JsonDocument.Parse(body).RootElement;
            Assert.That(root.GetProperty("error").GetString(), Is.EqualTo(message));
            Assert.That(root.GetProperty("status").GetString(), Is.EqualTo("error"), "the seed envelope is on by default");
            Assert.That(root.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(root.GetProperty("message").GetString(), Is.EqualTo(message));
        }
    }

    [Test]
    public async Task Probes_WhileLoadIsSlow_LivenessAnswersAndReadinessIs503ThenAllAre200()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);

        var liveness = await server.Client.GetAsync("/");
        Assert.That(liveness.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await liveness.Content.ReadAsStringAsync(), Is.EqualTo("true"));
        foreach (var probe in new[] { "/v1/models/model", "/v1/models/model/loaded", "/ping", "/v1/models/model:predict" })
        {
            await AssertErrorAsync(await server.Client.GetAsync(probe), HttpStatusCode.ServiceUnavailable, "600",
                "Model with name model is not ready.");
        }

        await AssertErrorAsync(await server.Client.PostAsync("/v1/models/model:predict", Json("{}")),
            HttpStatusCode.ServiceUnavailable, "600", "Model with name model is not ready.");
        await AssertErrorAsync(await server.Client.PostAsync("/invocations", Json("{}")),
            HttpStatusCode.ServiceUnavailable, "600", "Model with name model is not ready.");

        model.LoadGate.Set();
        await server.WaitUntilReadyAsync();
        foreach (var probe in new[] { "/v1/models/model", "/v1/models/model/loaded", "/ping", "/v1/models/any-name", "/v1/models/model:predict" })
        {
            var response = await server.Client.GetAsync(probe);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), probe);
            Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("{}"), probe);
        }

        Assert.That(model.LoadCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task Predict_AnyModelNameAndAliases_EchoesInputInPythonJson()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        foreach (var path in new[] { "/v1/models/model:predict", "/v1/models/x-4:predict", "/v1/models/model:predict_binary", "/invocations" })
        {
            var response = await server.Client.PostAsync(path, Json("""{"labels": ["café", "dog"], "n": 1.5, "k": 3, "z": null}"""));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
            Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("application/json"));
            Assert.That(await response.Content.ReadAsStringAsync(),
                Is.EqualTo("""{"labels": ["caf\u00e9", "dog"], "n": 1.5, "k": 3, "z": null}"""), path);
        }
    }

    [Test]
    public async Task Predict_BodyWithoutContentType_IsParsedAsJson()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", new ByteArrayContent("[1, 2]"u8.ToArray()));

        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("[1, 2]"));
    }

    [TestCase("", "Invalid JSON payload: Expecting value: line 1 column 1 (char 0)")]
    [TestCase("   ", "Invalid JSON payload: Expecting value: line 1 column 4 (char 3)")]
    [TestCase("{\"a\": 1} x", "Invalid JSON payload: Extra data: line 1 column 10 (char 9)")]
    public async Task Predict_BadJson_Is400WithClientErrorHeaders(string body, string message)
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", Json(body));

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "700", message);
    }

    [Test]
    public async Task Errors_EnvelopeDisabled_CarryOnlyTheTrussErrorField()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel(), "model_metadata:\n  server:\n    error_envelope: false\n");
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", Json(""));

        Assert.That(await response.Content.ReadAsStringAsync(),
            Is.EqualTo("""{"error":"Invalid JSON payload: Expecting value: line 1 column 1 (char 0)"}"""));
    }

    [Test]
    public async Task Predict_MalformedJsonObject_Is400NamingThePosition()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", Json("{\"labels\": [1, 2,]}"));

        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(body, Does.StartWith("{\"error\":\"Invalid JSON payload: ").And.Contain("line 1 column"));
    }

    [Test]
    public async Task Predict_ModelThrows_Is500GenericMessageAndDetailOnlyInLog()
    {
        var model = new FakeModel((_, _) => throw new InvalidOperationException("secret internal detail 42"));
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", Json("{}"));

        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "600", "Internal Server Error (in model/chainlet).");
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("secret internal detail"));
        Assert.That(await server.Log.WaitForAsync(line => line.Contains("secret internal detail 42") && line.Contains("\"levelname\":\"ERROR\""),
            TimeSpan.FromSeconds(5)), Is.True, "the real exception is logged");
        Assert.That((await server.Client.GetAsync("/v1/models/model")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "still serving");
    }

    [Test]
    public async Task Predict_ModelRejectsInput_IsItsClientStatusWithCode700()
    {
        var model = new FakeModel((_, _) => throw new ModelInputException("`labels` must be a non-empty list of strings", 422));
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        var response = await server.Client.PostAsync("/v1/models/model:predict", Json("{}"));

        await AssertErrorAsync(response, HttpStatusCode.UnprocessableEntity, "700", "`labels` must be a non-empty list of strings");
    }

    [Test]
    public async Task Predict_ModelRaisesHttpStatus_IsThatStatusWithCode600()
    {
        var model = new FakeModel((_, _) => throw new ModelHttpException(500, "My custom message."));
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        await AssertErrorAsync(await server.Client.PostAsync("/v1/models/model:predict", Json("{}")),
            HttpStatusCode.InternalServerError, "600", "My custom message.");
    }

    [Test]
    public async Task Predict_ResultNotJsonSerializable_Is500UnhandledException()
    {
        var model = new FakeModel((_, _) => Task.FromResult<object?>(new byte[] { 1, 2 }));
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        await AssertErrorAsync(await server.Client.PostAsync("/v1/models/model:predict", Json("{}")),
            HttpStatusCode.InternalServerError, "500", "Unhandled exception: TypeError: Object of type bytes is not JSON serializable");
    }

    [Test]
    public async Task Predict_MsgPackBody_AnswersMsgPackInBinaryMode()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel((input, _) =>
        {
            var map = (OrderedDictionary<string, object?>)input!;
            return Task.FromResult<object?>(new OrderedDictionary<string, object?>
            {
                ["labels"] = map["labels"],
                ["size"] = ((byte[])map["image_bytes"]!).Length,
                ["score"] = 0.25f,
            });
        }));
        await server.WaitUntilReadyAsync();
        var request = MessagePackSerializer.Serialize(new Dictionary<string, object>
        {
            ["labels"] = new[] { "cat", "dog" },
            ["image_bytes"] = new byte[] { 1, 2, 3, 4, 5 },
        });

        foreach (var contentType in new[] { "application/octet-stream", "Application/Octet-Stream; charset=binary" })
        {
            var content = new ByteArrayContent(request);
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            var response = await server.Client.PostAsync("/v1/models/model:predict", content);

            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), contentType);
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/octet-stream"));
            var decoded = (OrderedDictionary<string, object?>)MsgPackPayload.Read(await response.Content.ReadAsByteArrayAsync())!;
            using (Assert.EnterMultipleScope())
            {
                Assert.That(decoded["labels"], Is.EqualTo(new List<object?> { "cat", "dog" }));
                Assert.That(decoded["size"], Is.EqualTo(5L));
                Assert.That(decoded["score"], Is.EqualTo(0.25));
            }
        }
    }

    [Test]
    public async Task Predict_MalformedMsgPack_Is400()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();
        var content = new ByteArrayContent([0xc1, 0x00]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        var response = await server.Client.PostAsync("/v1/models/model:predict", content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("Invalid msgpack payload"));
    }

    [Test]
    public async Task UnknownRoute_Is404DetailWithoutBasetenHeaders()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());

        var response = await server.Client.GetAsync("/v2/health/ready");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"detail":"Not Found"}"""));
        Assert.That(response.Headers.Contains("X-BASETEN-ERROR-CODE"), Is.False);
    }

    [TestCase("DELETE", "/")]
    [TestCase("HEAD", "/")]
    [TestCase("PUT", "/v1/models/model:predict")]
    [TestCase("POST", "/v1/models/model")]
    [TestCase("POST", "/")]
    public async Task WrongMethod_Is405WithAllowHeader(string method, string path)
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var response = await server.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
        Assert.That(response.Content.Headers.Allow, Is.Not.Empty);
        if (method != "HEAD")
        {
            Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"detail":"Method Not Allowed"}"""));
        }
    }

    [TestCase("/v1/chat/completions", "chat_completions")]
    [TestCase("/v1/completions", "completions")]
    [TestCase("/v1/embeddings", "embeddings")]
    [TestCase("/v1/messages", "messages")]
    [TestCase("/v1/responses", "responses")]
    public async Task OpenAiRoute_ModelWithoutIt_Is404ClientError(string path, string method)
    {
        var model = new FakeModel();
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        await AssertErrorAsync(await server.Client.PostAsync(path, Json("""{"input": "a"}""")),
            HttpStatusCode.NotFound, "700", $"`{method}` must only be called if model has it.");
        Assert.That(model.MaxConcurrentPredictions, Is.Zero, "predict is never called in its place");
    }

    [Test]
    public async Task OpenAiRoute_WhileLoading_Is503LikePredict()
    {
        var model = new FakeEmbeddingsModel();
        model.Inner.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);

        foreach (var path in new[] { "/v1/embeddings", "/v1/chat/completions" })
        {
            await AssertErrorAsync(await server.Client.PostAsync(path, Json("{}")),
                HttpStatusCode.ServiceUnavailable, "600", "Model with name model is not ready.");
        }

        model.Inner.LoadGate.Set();
        await server.WaitUntilReadyAsync();
        Assert.That((await server.Client.PostAsync("/v1/embeddings", Json("{}"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Embeddings_ModelWithIt_IsServedThroughThePredictPipeline()
    {
        var model = new FakeEmbeddingsModel();
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        var embeddings = await server.Client.PostAsync("/v1/embeddings", Json("""{"input": ["café"], "n": 1.5}"""));
        var predict = await server.Client.PostAsync("/v1/models/model:predict", Json("""{"input": ["café"]}"""));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(embeddings.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(embeddings.Content.Headers.ContentType?.ToString(), Is.EqualTo("application/json"));
            Assert.That(await embeddings.Content.ReadAsStringAsync(), Is.EqualTo("""{"embedded": {"input": ["caf\u00e9"], "n": 1.5}}"""),
                "parsed as predict parses, written as Python writes JSON");
            Assert.That(await predict.Content.ReadAsStringAsync(), Is.EqualTo("""{"input": ["caf\u00e9"]}"""), "predict still calls predict");
            Assert.That(model.EmbeddingsCalls, Is.EqualTo(1));
        }

        await AssertErrorAsync(await server.Client.PostAsync("/v1/chat/completions", Json("{}")),
            HttpStatusCode.NotFound, "700", "`chat_completions` must only be called if model has it.");
        await AssertErrorAsync(await server.Client.PostAsync("/v1/embeddings", Json("")),
            HttpStatusCode.BadRequest, "700", "Invalid JSON payload: Expecting value: line 1 column 1 (char 0)");
    }

    [Test]
    public async Task Embeddings_MsgPackBody_AnswersMsgPack()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeEmbeddingsModel((input, _) =>
            Task.FromResult<object?>(new OrderedDictionary<string, object?> { ["size"] = ((byte[])((OrderedDictionary<string, object?>)input!)["input"]!).Length })));
        await server.WaitUntilReadyAsync();
        var content = new ByteArrayContent(MessagePackSerializer.Serialize(new Dictionary<string, object> { ["input"] = new byte[] { 1, 2, 3 } }));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        var response = await server.Client.PostAsync("/v1/embeddings", content);

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/octet-stream"));
        var decoded = (OrderedDictionary<string, object?>)MsgPackPayload.Read(await response.Content.ReadAsByteArrayAsync())!;
        Assert.That(decoded["size"], Is.EqualTo(3L));
    }

    [Test]
    public async Task Embeddings_ModelErrors_GoThroughTheErrorTable()
    {
        var fail = "input";
        await using var server = await TestTrussServer.StartAsync(new FakeEmbeddingsModel((_, _) => fail switch
        {
            "input" => throw new ModelInputException("`input` is an empty string.", 422),
            _ => throw new InvalidOperationException("tower exploded at /secret/path"),
        }), "model_metadata:\n  server:\n    max_request_body_bytes: 1000\n");
        await server.WaitUntilReadyAsync();

        await AssertErrorAsync(await server.Client.PostAsync("/v1/embeddings", Json("""{"input": ""}""")),
            HttpStatusCode.UnprocessableEntity, "700", "`input` is an empty string.");
        await AssertErrorAsync(await server.Client.PostAsync("/v1/embeddings", Json("[" + new string(' ', 2000) + "]")),
            HttpStatusCode.RequestEntityTooLarge, "700", "Request body is larger than the limit of 1000 bytes (model_metadata.server.max_request_body_bytes).");
        fail = "bug";
        var response = await server.Client.PostAsync("/v1/embeddings", Json("{}"));
        await AssertErrorAsync(response, HttpStatusCode.InternalServerError, "600", "Internal Server Error (in model/chainlet).");
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Not.Contain("tower exploded"));
        Assert.That(await server.Log.WaitForAsync(line => line.Contains("tower exploded"), TimeSpan.FromSeconds(5)), Is.True, "the detail is logged");
    }

    [Test]
    public async Task Embeddings_SharesThePredictGate()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeEmbeddingsModel(inner: new FakeModel(async (input, _) =>
        {
            await release.Task;
            return input;
        }));
        await using var server = await TestTrussServer.StartAsync(model,
            "runtime:\n  predict_concurrency: 1\nmodel_metadata:\n  server:\n    max_queued_predictions: 0\n");
        await server.WaitUntilReadyAsync();
        var running = server.Client.PostAsync("/v1/models/model:predict", Json("1"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (server.Server.Host.Gate.Running < 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var rejected = await server.Client.PostAsync("/v1/embeddings", Json("{}"));

        Assert.That(rejected.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "the only slot is predict's");
        Assert.That(await rejected.Content.ReadAsStringAsync(), Does.Contain("max_queued_predictions"));
        Assert.That(model.EmbeddingsCalls, Is.Zero);
        release.SetResult();
        Assert.That((await running).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await server.Client.PostAsync("/v1/embeddings", Json("{}"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Schema_ModelWithoutSchema_Is404ThenNotReadyWhileLoading()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);

        await AssertErrorAsync(await server.Client.GetAsync("/v1/models/model/schema"), HttpStatusCode.ServiceUnavailable, "600",
            "Schema not available, please try again later.");
        model.LoadGate.Set();
        await server.WaitUntilReadyAsync();
        await AssertErrorAsync(await server.Client.GetAsync("/v1/models/model/schema"), HttpStatusCode.NotFound, "600", "No schema found");
    }

    [Test]
    public async Task Predict_ConcurrencyTwo_RunsTwoAtOnceAndQueuesTheThird()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, _) =>
        {
            await release.Task;
            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model, "runtime:\n  predict_concurrency: 2\n");
        await server.WaitUntilReadyAsync();

        var requests = Enumerable.Range(0, 3)
            .Select(i => server.Client.PostAsync("/v1/models/model:predict", Json(i.ToString(System.Globalization.CultureInfo.InvariantCulture))))
            .ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((server.Server.Host.Gate.Running < 2 || server.Server.Host.Gate.Queued < 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(server.Server.Host.Gate.Running, Is.EqualTo(2));
            Assert.That(server.Server.Host.Gate.Queued, Is.EqualTo(1), "the third request waits; it is not rejected");
            Assert.That(requests.Any(r => r.IsCompleted), Is.False);
        }

        release.SetResult();
        var responses = await Task.WhenAll(requests);
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(model.MaxConcurrentPredictions, Is.EqualTo(2));
    }

    [Test]
    public async Task Predict_QueueFull_Is503AtOnce()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, _) =>
        {
            await release.Task;
            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model,
            "runtime:\n  predict_concurrency: 1\nmodel_metadata:\n  server:\n    max_queued_predictions: 1\n");
        await server.WaitUntilReadyAsync();
        var running = server.Client.PostAsync("/v1/models/model:predict", Json("1"));
        var queued = server.Client.PostAsync("/v1/models/model:predict", Json("2"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((server.Server.Host.Gate.Running < 1 || server.Server.Host.Gate.Queued < 1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var rejected = await server.Client.PostAsync("/v1/models/model:predict", Json("3"));

        var body = await rejected.Content.ReadAsStringAsync();
        Assert.That(rejected.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), body);
        Assert.That(body, Does.Contain("Server is at capacity").And.Contain("max_queued_predictions"));
        release.SetResult();
        Assert.That((await running).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await queued).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Predict_RequestId_AppearsInEveryLogLineOfThatRequest()
    {
        ModelContext? context = null;
        await using var server = await TestTrussServer.StartAsync(ctx =>
        {
            context = ctx;
            var logger = ctx.LoggerFactory.CreateLogger("Model");
            return new FakeModel((input, _) =>
            {
                logger.LogInformation("predicting for the test");
                return Task.FromResult(input);
            });
        });
        await server.WaitUntilReadyAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/model:predict") { Content = Json("{}") };
        request.Headers.Add("x-baseten-request-id", "req-7f3a");

        var response = await server.Client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await server.Log.WaitForAsync(line => line.Contains("Handled request"), TimeSpan.FromSeconds(5)), Is.True);
        var lines = server.Log.JsonLines();
        var modelLine = lines.Single(l => l.GetProperty("message").GetString() == "predicting for the test");
        var accessLine = lines.Single(l => l.GetProperty("message").GetString()!.StartsWith("Handled request: POST /v1/models/model:predict", StringComparison.Ordinal));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(modelLine.GetProperty("request_id").GetString(), Is.EqualTo("req-7f3a"));
            Assert.That(modelLine.GetProperty("levelname").GetString(), Is.EqualTo("INFO"));
            Assert.That(modelLine.TryGetProperty("asctime", out _), Is.True);
            Assert.That(accessLine.GetProperty("request_id").GetString(), Is.EqualTo("req-7f3a"));
            Assert.That(accessLine.GetProperty("StatusCode").GetInt32(), Is.EqualTo(200));
            Assert.That(accessLine.TryGetProperty("ElapsedMs", out _), Is.True);
        }

        Assert.That(lines.Any(l => l.GetProperty("message").GetString()!.StartsWith("Completed model.load() execution in", StringComparison.Ordinal)), Is.True);
    }

    [Test]
    public async Task Probes_AreNotAccessLogged()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        await server.Client.GetAsync("/");
        await server.Client.GetAsync("/v1/models/model");
        await server.Client.PostAsync("/v1/models/model:predict", Json("{}"));

        Assert.That(await server.Log.WaitForAsync(line => line.Contains("Handled request: POST"), TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(server.Log.Lines.Count(line => line.Contains("Handled request: GET")), Is.Zero);
    }

    [Test]
    public async Task Load_AlwaysFails_RetriesOnceThenReadinessFailsAndServerStopsWithExitCode1()
    {
        var model = new FakeModel { LoadFailures = int.MaxValue };
        await using var server = await TestTrussServer.StartAsync(model);

        var exitCode = await server.Server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(TrussServer.LoadFailedExitCode));
            Assert.That(server.Server.Host.State, Is.EqualTo(ModelState.Failed));
            Assert.That(server.Server.Host.IsReady(consultModelHealth: true), Is.False);
            Assert.That(model.LoadCalls, Is.EqualTo(2), "one try plus NUM_LOAD_RETRIES_TRUSS=1 retry, as truss");
            Assert.That(server.Log.Lines.Any(l => l.Contains("Failed to load model. Retrying...")), Is.True);
            Assert.That(server.Log.Lines.Any(l => l.Contains("Exception while loading model") && l.Contains("weights are corrupt")), Is.True);
        }
    }

    [Test]
    public async Task Load_FailsOnce_SucceedsOnRetry()
    {
        var model = new FakeModel { LoadFailures = 1 };
        await using var server = await TestTrussServer.StartAsync(model);

        await server.WaitUntilReadyAsync();

        Assert.That(model.LoadCalls, Is.EqualTo(2));
    }

    [Test]
    public async Task Load_RetriesFromEnvironment_Zero_FailsAfterOneTry()
    {
        var model = new FakeModel { LoadFailures = 1 };
        await using var server = await TestTrussServer.StartAsync(model, environment: new Dictionary<string, string> { ["NUM_LOAD_RETRIES_TRUSS"] = "0" });

        Assert.That(await server.Server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(TrussServer.LoadFailedExitCode));
        Assert.That(model.LoadCalls, Is.EqualTo(1));
    }

    [Test]
    public async Task Readiness_ModelReportsUnhealthy_Is503AndLogsHealthCheckFailed()
    {
        var model = new FakeModel();
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        model.Healthy = false;
        await AssertErrorAsync(await server.Client.GetAsync("/v1/models/model"), HttpStatusCode.ServiceUnavailable, "600",
            "Model with name model is not ready.");
        Assert.That((await server.Client.GetAsync("/v1/models/model/loaded")).StatusCode, Is.EqualTo(HttpStatusCode.OK),
            "/loaded ignores is_healthy, as in truss");
        Assert.That(server.Log.Lines.Any(l => l.Contains("Health check failed.")), Is.True);
    }

    [Test]
    public async Task Predict_BodyOverLimit_Is413()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel(),
            "model_metadata:\n  server:\n    max_request_body_bytes: 1000\n");
        await server.WaitUntilReadyAsync();

        var withLength = await server.Client.PostAsync("/v1/models/model:predict", Json("[" + new string(' ', 2000) + "]"));
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("[" + new string(' ', 5000) + "]")));
        var chunkedRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/models/model:predict") { Content = chunked };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        var withoutLength = await server.Client.SendAsync(chunkedRequest);

        var message = "Request body is larger than the limit of 1000 bytes (model_metadata.server.max_request_body_bytes).";
        await AssertErrorAsync(withLength, HttpStatusCode.RequestEntityTooLarge, "700", message);
        await AssertErrorAsync(withoutLength, HttpStatusCode.RequestEntityTooLarge, "700", message);
        Assert.That((await server.Client.PostAsync("/v1/models/model:predict", Json("[1]"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Predict_BodyOverLimitWithExpectContinue_Is413BeforeTheClientSendsIt()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel(),
            "model_metadata:\n  server:\n    max_request_body_bytes: 1000\n");
        await server.WaitUntilReadyAsync();
        using var client = await RawHttpConnection.OpenAsync(server);

        // What curl does for a large upload: the head only, then wait for 100 Continue before sending the body.
        await client.SendAsync(RawHttpConnection.PredictHead(contentLength: 2000, "Expect: 100-continue\r\n"));
        var (status, headers) = await client.ReadHeadAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(status, Is.EqualTo("HTTP/1.1 413 Payload Too Large"), "answered at once, not invited to send 2,000 bytes");
            Assert.That(headers, Has.Some.EqualTo("Connection: close").IgnoreCase, "the unsent body cannot follow on this connection");
            Assert.That(headers, Has.Some.EqualTo("X-BASETEN-ERROR-CODE: 700"));
        }
    }

    [Test]
    public async Task Predict_WhileLoadingWithExpectContinue_Is503AndCloseBeforeTheClientSendsTheBody()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);
        using var client = await RawHttpConnection.OpenAsync(server);

        string status;
        IReadOnlyList<string> headers;
        string?[] body;
        try
        {
            await client.SendAsync(RawHttpConnection.PredictHead(contentLength: 50_000, "Expect: 100-continue\r\n"));
            (status, headers) = await client.ReadHeadAsync();
            body = [await client.ReadLineAsync(), await client.ReadLineAsync()]; // chunk size and JSON, when chunked
        }
        finally
        {
            model.LoadGate.Set();
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(status, Is.EqualTo("HTTP/1.1 503 Service Unavailable"), "answered at once, not invited to upload 50,000 bytes first");
            Assert.That(headers, Has.Some.EqualTo("X-BASETEN-ERROR-CODE: 600"));
            Assert.That(headers, Has.Some.EqualTo("Connection: close").IgnoreCase,
                "the owed body would otherwise swallow the client's next request on this connection");
            Assert.That(body, Has.Some.Contains("Model with name model is not ready."));
        }
    }

    [Test]
    public async Task Predict_WhileLoadingBodyOverLimit_Is413AsBehindTrussNginx()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model, "model_metadata:\n  server:\n    max_request_body_bytes: 1000\n");
        try
        {
            await AssertErrorAsync(await server.Client.PostAsync("/v1/models/model:predict", Json("[" + new string(' ', 2000) + "]")),
                HttpStatusCode.RequestEntityTooLarge, "700",
                "Request body is larger than the limit of 1000 bytes (model_metadata.server.max_request_body_bytes).");
            await AssertErrorAsync(await server.Client.PostAsync("/v1/models/model:predict", Json("not json")),
                HttpStatusCode.ServiceUnavailable, "600", "Model with name model is not ready.");
        }
        finally
        {
            model.LoadGate.Set();
        }
    }

    [Test]
    public async Task Shutdown_InFlightPredict_CompletesBeforeTheServerStops()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, _) =>
        {
            started.SetResult();
            await Task.Delay(500);
            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        var inFlight = server.Client.PostAsync("/v1/models/model:predict", Json("\"done\""));
        await started.Task;
        var stopping = server.Server.StopAsync();
        await Task.Delay(50);
        var readinessWhileStopping = server.Server.Host.IsReady(consultModelHealth: true);
        var response = await inFlight;
        await stopping;

        Assert.That(readinessWhileStopping, Is.False, "readiness fails as soon as shutdown begins");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("\"done\""));
    }
}
