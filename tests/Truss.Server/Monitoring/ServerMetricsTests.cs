using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Truss.Clip.Tests.Support;
using Truss.Server;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.Monitoring;

/// <summary>
/// <c>/metrics</c> through a real Kestrel server on loopback: both paths, the text format, the lifecycle and
/// predict-gate gauges, HTTP series by route template and status, the model's own meters, and the switches. Every
/// server has its own registry, so the values asserted are absolute, whatever runs beside these tests.
/// </summary>
public class ServerMetricsTests
{
    private const string PredictOk = """http_requests_total{method="POST",route="/v1/models/{name}",code="200"}""";

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Test]
    public async Task Metrics_WhileLoadingAndOnceReady_AnswerOnBothPathsInTheTextFormat()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);
        var held = Stopwatch.StartNew();

        foreach (var path in new[] { "/metrics", "/metrics/" })
        {
            var loading = await PrometheusScrape.GetAsync(server.Client, path);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(loading["""truss_model_state{state="loading"}"""], Is.EqualTo(1), path);
                Assert.That(loading["""truss_model_state{state="ready"}"""], Is.Zero, path);
                Assert.That(loading.Samples.ContainsKey("truss_model_load_seconds"), Is.False, "no load time before the load ends");
            }
        }

        Assert.That((await server.Client.GetAsync("/v1/models/model")).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable),
            "the scrapes above were answered while readiness still says 503");
        await Task.Delay(100);
        var heldFor = held.Elapsed.TotalSeconds;
        model.LoadGate.Set();
        await server.WaitUntilReadyAsync();

        foreach (var path in new[] { "/metrics", "/metrics/" })
        {
            var ready = await PrometheusScrape.GetAsync(server.Client, path);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(ready["""truss_model_state{state="ready"}"""], Is.EqualTo(1), path);
                Assert.That(ready["""truss_model_state{state="loading"}"""], Is.Zero, path);
                Assert.That(ready["""truss_model_state{state="failed"}"""], Is.Zero, path);
                Assert.That(ready["truss_model_load_seconds"], Is.GreaterThanOrEqualTo(heldFor), "the load was held open at least this long");
                Assert.That(ready.Types["truss_model_load_seconds"], Is.EqualTo("gauge"));
            }
        }
    }

    [Test]
    public async Task Requests_AreCountedAndTimedByRouteTemplateAndStatus()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        for (var i = 0; i < 3; i++)
        {
            Assert.That((await server.Client.PostAsync($"/v1/models/model-{i}:predict", Json("{}"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        Assert.That((await server.Client.PostAsync("/v1/models/model:predict", Json("{"))).StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await server.Client.PostAsync("/invocations", Json("[]"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await server.Client.GetAsync("/metrics");

        var scrape = await PrometheusScrape.GetAsync(server.Client);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scrape[PredictOk], Is.EqualTo(3), "three model names, one route template");
            Assert.That(scrape["""http_requests_total{method="POST",route="/v1/models/{name}",code="400"}"""], Is.EqualTo(1));
            Assert.That(scrape["""http_requests_total{method="POST",route="/invocations",code="200"}"""], Is.EqualTo(1));
            Assert.That(scrape["""http_request_duration_seconds_count{method="POST",route="/v1/models/{name}",code="200"}"""], Is.EqualTo(3));
            Assert.That(scrape["""http_request_duration_seconds_sum{method="POST",route="/v1/models/{name}",code="200"}"""], Is.GreaterThan(0));
            Assert.That(scrape["""http_request_duration_seconds_bucket{method="POST",route="/v1/models/{name}",code="400",le="+Inf"}"""], Is.EqualTo(1));
            Assert.That(scrape.Types["http_requests_total"], Is.EqualTo("counter"));
            Assert.That(scrape.Types["http_request_duration_seconds"], Is.EqualTo("histogram"));
            Assert.That(scrape.Text, Does.Not.Contain("model-1"), "the raw path is never a label");
            Assert.That(scrape.Text, Does.Not.Contain("route=\"/metrics\""), "scrapes do not count themselves");
        }
    }

    [Test]
    public async Task UnknownPathsAndMethods_CollapseIntoBoundedLabels()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        for (var i = 0; i < 20; i++)
        {
            Assert.That((await server.Client.GetAsync($"/nope-{i}/x?q={i}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }

        foreach (var method in new[] { "BREW", "PURGE", "brew-2" })
        {
            await server.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/elsewhere"));
        }

        var scrape = await PrometheusScrape.GetAsync(server.Client);
        var series = scrape.SeriesOf("http_requests_total").ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scrape["""http_requests_total{method="GET",route="unmatched",code="404"}"""], Is.EqualTo(20));
            Assert.That(series.Where(s => s.Contains("method=\"OTHER\"")).Sum(s => scrape[s]), Is.EqualTo(3));
            Assert.That(series, Has.Count.LessThanOrEqualTo(3), string.Join("\n", series));
            Assert.That(series, Has.All.Contains("route=\"unmatched\""));
            Assert.That(scrape.Text, Does.Not.Contain("nope").And.Not.Contain("BREW").And.Not.Contain("elsewhere"));
        }
    }

    [Test]
    public async Task PredictGate_WaitingAndRunningRequests_AreGauges()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, _) =>
        {
            await release.Task;
            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model, "runtime:\n  predict_concurrency: 1\n");
        await server.WaitUntilReadyAsync();

        var calls = Enumerable.Range(0, 3).Select(_ => server.Client.PostAsync("/v1/models/model:predict", Json("{}"))).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (server.Server.Host.Gate.Queued < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var busy = await PrometheusScrape.GetAsync(server.Client);
        release.SetResult();
        await Task.WhenAll(calls);
        var idle = await PrometheusScrape.GetAsync(server.Client);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(busy["truss_predict_queue_depth"], Is.EqualTo(2), "the scrape did not wait behind the gate");
            Assert.That(busy["truss_predict_in_progress"], Is.EqualTo(1));
            Assert.That(busy["truss_predict_concurrency_limit"], Is.EqualTo(1));
            Assert.That(idle["truss_predict_queue_depth"], Is.Zero);
            Assert.That(idle["truss_predict_in_progress"], Is.Zero);
            Assert.That(idle[PredictOk], Is.EqualTo(3));
        }
    }

    [Test]
    public async Task ModelMeters_FromTheContextFactory_AreExported_OthersAreNot()
    {
        using var outsider = new Meter(MeteredModel.MeterName);
        var outsiderCounter = outsider.CreateCounter<long>("predictions", "{prediction}");
        await using var server = await TestTrussServer.StartAsync(context => new MeteredModel(context));
        await server.WaitUntilReadyAsync();

        await server.Client.PostAsync("/v1/models/model:predict", Json("{}"));
        await server.Client.PostAsync("/v1/models/model:predict", Json("{}"));
        outsiderCounter.Add(100);

        var scrape = await PrometheusScrape.GetAsync(server.Client);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(scrape["test_metered_model_predictions_total"], Is.EqualTo(2), "the same meter name outside the server's factory is not exported");
            Assert.That(scrape.Types["test_metered_model_predictions_total"], Is.EqualTo("counter"));
            Assert.That(scrape.Samples.Keys, Has.None.StartsWith("microsoft_").And.None.StartsWith("kestrel").And.None.StartsWith("aspnetcore"),
                "ASP.NET Core's own meters stay out");
        }
    }

    [Test]
    public async Task ProcessSeries_FollowMetricsProcess_AndNoDefaultAdaptersOrCreatedSeries()
    {
        await using var withProcess = await TestTrussServer.StartAsync(new FakeModel());
        await using var withoutProcess = await TestTrussServer.StartAsync(new FakeModel(), "model_metadata:\n  server:\n    metrics_process: false\n");

        var on = await PrometheusScrape.GetAsync(withProcess.Client);
        var off = await PrometheusScrape.GetAsync(withoutProcess.Client);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(on.Types["process_cpu_seconds_total"], Is.EqualTo("counter"));
            Assert.That(on["process_working_set_bytes"], Is.GreaterThan(0));
            Assert.That(off.Samples.Keys, Has.None.StartsWith("process_").And.None.StartsWith("dotnet_"));
            foreach (var scrape in new[] { on, off })
            {
                Assert.That(scrape.Text, Does.Not.Contain("_created"));
                Assert.That(scrape.Samples.Keys, Has.None.StartsWith("prometheus_net_").And.None.StartsWith("microsoft_").And.None.StartsWith("system_"));
            }
        }
    }

    [Test]
    public async Task OpenMetricsAccept_StillGetsTheTextFormat()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");

        var response = await server.Client.SendAsync(request);

        Assert.That(response.Content.Headers.ContentType?.ToString(), Is.EqualTo("text/plain; version=0.0.4; charset=utf-8"));
    }

    [Test]
    public async Task Metrics_OtherMethods_Are405()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());

        var response = await server.Client.PostAsync("/metrics", Json("{}"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
        Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"detail":"Method Not Allowed"}"""));
    }

    [Test]
    public async Task MetricsDisabled_TheRouteIsGone()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel(), "model_metadata:\n  server:\n    metrics: false\n");

        foreach (var path in new[] { "/metrics", "/metrics/" })
        {
            var response = await server.Client.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
            Assert.That(await response.Content.ReadAsStringAsync(), Is.EqualTo("""{"detail":"Not Found"}"""));
        }
    }

    [Test]
    public async Task Scrapes_AreNotAccessLogged()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        await server.Client.GetAsync("/metrics");
        await server.Client.GetAsync("/metrics/");
        await server.Client.GetAsync("/after-the-scrapes");

        Assert.That(await server.Log.WaitForAsync(line => line.Contains("/after-the-scrapes"), TimeSpan.FromSeconds(5)), Is.True,
            "the access log is on");
        Assert.That(server.Log.Lines, Has.None.Contains("GET /metrics"));
    }

    [Test]
    public async Task TwoServersInOneProcess_KeepSeparateCounts()
    {
        await using var first = await TestTrussServer.StartAsync(new FakeModel());
        await using var second = await TestTrussServer.StartAsync(new FakeModel());
        await first.WaitUntilReadyAsync();
        await second.WaitUntilReadyAsync();

        await first.Client.PostAsync("/v1/models/model:predict", Json("{}"));

        Assert.That((await PrometheusScrape.GetAsync(first.Client))[PredictOk], Is.EqualTo(1));
        Assert.That((await PrometheusScrape.GetAsync(second.Client)).Samples.ContainsKey(PredictOk), Is.False);
    }

    /// <summary>A model that counts its predictions on a meter made by the server's factory.</summary>
    private sealed class MeteredModel(ModelContext context) : ITrussModel
    {
        public const string MeterName = "Test.Metered-Model";
        private readonly Counter<long> _predictions =
            context.MeterFactory!.Create(MeterName).CreateCounter<long>("predictions", "{prediction}", "Predictions made.");

        public void Load()
        {
        }

        public ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken)
        {
            _predictions.Add(1);
            return ValueTask.FromResult(input);
        }
    }
}
