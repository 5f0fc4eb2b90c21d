using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Support;
using Truss.Server.Configuration;
using Truss.Server.Hosting;
using Truss.Server.Monitoring;

namespace Truss.Clip.Tests.Truss.Server.Monitoring;

/// <summary>The HTTP middleware on its own: label normalization and what a failing or slow pipeline records.</summary>
public class HttpMetricsMiddlewareTests
{
    [TestCase("GET", "GET")]
    [TestCase("get", "GET")]
    [TestCase("POST", "POST")]
    [TestCase("Delete", "DELETE")]
    [TestCase("OPTIONS", "OPTIONS")]
    [TestCase("BREW", "OTHER")]
    [TestCase("GET2", "OTHER")]
    [TestCase("", "OTHER")]
    public void MethodLabel_StandardMethodsOrOther(string method, string label) =>
        Assert.That(HttpMetricsMiddleware.MethodLabel(method), Is.EqualTo(label));

    [Test]
    public async Task Pipelines_ThatThrowOrCompleteLater_AreRecorded()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var host = new ModelHost(() => new FakeModel(), new PredictGate(1, 0), 0, TimeSpan.Zero, NullLogger<ModelHost>.Instance);
        using var metrics = new ServerMetrics(new ServerOptions(), host, services.GetRequiredService<IMeterFactory>(), NullLoggerFactory.Instance);
        var throwing = new HttpMetricsMiddleware(_ => throw new InvalidOperationException("boom"), metrics);
        var faulting = new HttpMetricsMiddleware(async _ =>
        {
            await Task.Yield();
            throw new InvalidOperationException("late boom");
        }, metrics);
        var slow = new HttpMetricsMiddleware(async context =>
        {
            await Task.Delay(20);
            context.Response.StatusCode = 204;
        }, metrics);

        Assert.That(() => throwing.InvokeAsync(new DefaultHttpContext()), Throws.InvalidOperationException);
        Assert.That(async () => await faulting.InvokeAsync(new DefaultHttpContext()), Throws.InvalidOperationException);
        await slow.InvokeAsync(new DefaultHttpContext());
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        var scrape = PrometheusScrape.Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(scrape["""http_requests_total{method="OTHER",route="unmatched",code="500"}"""], Is.EqualTo(2),
                "an escaping exception is the 500 Kestrel will send; a DefaultHttpContext has no method");
            Assert.That(scrape["""http_requests_total{method="OTHER",route="unmatched",code="204"}"""], Is.EqualTo(1));
            Assert.That(scrape["""http_request_duration_seconds_sum{method="OTHER",route="unmatched",code="204"}"""], Is.GreaterThanOrEqualTo(0.015));
        }
    }
}
