using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Prometheus;
using Truss.Server.Configuration;
using Truss.Server.Hosting;

namespace Truss.Server.Monitoring;

/// <summary>
/// One server's Prometheus metrics: its own registry (never prometheus-net's static default, so two servers in one
/// process, as in the tests, never mix), the HTTP series written by <see cref="HttpMetricsMiddleware"/>, the
/// lifecycle and predict-gate gauges read from <see cref="ModelHost"/> at scrape time, the model's
/// <see cref="Meter"/>s through <see cref="MeterBridge"/>, and optionally the process collectors. Served on
/// <see cref="Route"/> (and <c>/metrics/</c>, as truss mounts it) in the text format 0.0.4.
/// </summary>
/// <remarks>
/// Every gauge here is read when scraped, so requests pay nothing for them. No <c>_created</c> series (prometheus-net
/// 8.2.1 writes none) and no OpenMetrics negotiation (so no exemplars either, and exemplar capture is off).
/// </remarks>
public sealed class ServerMetrics : IDisposable
{
    /// <summary>The scrape route.</summary>
    public const string Route = "/metrics";

    /// <summary>The content type of a scrape (Prometheus text format 0.0.4), as truss serves it.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>HTTP latency buckets in seconds: 0.5 ms (a probe) to 30 s (a slow image download plus inference).</summary>
    internal static readonly double[] HttpDurationBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly string[] HttpLabels = ["method", "route", "code"];
    private readonly MeterBridge _bridge;

    /// <summary>Creates the registry and its collectors, and starts exporting the meters of <paramref name="meterFactory"/>.</summary>
    public ServerMetrics(ServerOptions options, ModelHost host, IMeterFactory meterFactory, ILoggerFactory loggerFactory)
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        // Exemplars only reach OpenMetrics scrapes, which are off; capturing them would cost a trace lookup per observation.
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = null };

        HttpRequests = factory.CreateCounter(
            "http_requests_total", "HTTP requests answered, by method, route template and status code.", HttpLabels);
        HttpRequestDuration = factory.CreateHistogram(
            "http_request_duration_seconds", "Time from the request's arrival to its last response byte, by method, route template and status code.",
            HttpLabels, new HistogramConfiguration { Buckets = HttpDurationBuckets });

        var state = factory.CreateGauge(
            "truss_model_state", "1 for the model's current lifecycle state (not_ready, loading, ready, failed), 0 for the others.", "state");
        var stateChildren = Enum.GetValues<ModelState>().Select(s => (State: s, Child: state.WithLabels(StateLabel(s)))).ToArray();
        var loadSeconds = factory.CreateGauge(
            "truss_model_load_seconds", "How long loading took, from start to ready: model_cache download, construction and every load() attempt.",
            new GaugeConfiguration { SuppressInitialValue = true });
        var queued = factory.CreateGauge(
            "truss_predict_queue_depth", "Predict requests waiting for a predict slot (runtime.predict_concurrency).");
        var running = factory.CreateGauge("truss_predict_in_progress", "Predict requests holding a predict slot.");
        factory.CreateGauge("truss_predict_concurrency_limit", "Predict slots (runtime.predict_concurrency).").Set(host.Gate.Concurrency);
        Registry.AddBeforeCollectCallback(() =>
        {
            var current = host.State;
            foreach (var (candidate, child) in stateChildren)
            {
                child.Set(candidate == current ? 1 : 0);
            }

            if (host.LoadDuration is { } loaded)
            {
                loadSeconds.Set(loaded.TotalSeconds);
            }

            queued.Set(host.Gate.Queued);
            running.Set(host.Gate.Running);
        });

        if (options.MetricsProcess)
        {
            DotNetStats.Register(Registry);
        }

        // The model's meters, not ASP.NET Core's own (its HTTP series are ours, above).
        _bridge = new MeterBridge(
            Registry,
            factory,
            instrument => instrument.Meter.Scope == meterFactory && !IsFrameworkMeter(instrument.Meter.Name),
            loggerFactory.CreateLogger<MeterBridge>());
    }

    /// <summary>This server's registry.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary><c>http_requests_total{method, route, code}</c>.</summary>
    internal Counter HttpRequests { get; }

    /// <summary><c>http_request_duration_seconds{method, route, code}</c>.</summary>
    internal Histogram HttpRequestDuration { get; }

    /// <summary>
    /// Maps <c>GET /metrics</c> (routing also matches <c>/metrics/</c>). Outside the predict path, so neither the
    /// predict gate nor the body limits apply, and it answers while the model loads.
    /// </summary>
    public void MapEndpoint(IEndpointRouteBuilder endpoints) =>
        endpoints.MapMetrics(settings =>
            {
                settings.Registry = Registry;
                settings.EnableOpenMetrics = false;
            }, Route)
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get]));

    public void Dispose() => _bridge.Dispose();

    internal static string StateLabel(ModelState state) => state switch
    {
        ModelState.NotReady => "not_ready",
        ModelState.Loading => "loading",
        ModelState.Ready => "ready",
        _ => "failed",
    };

    private static bool IsFrameworkMeter(string name) =>
        name.StartsWith("Microsoft.", StringComparison.Ordinal) || name.StartsWith("System.", StringComparison.Ordinal);
}
