using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;
using Truss.Clip.Tests.Support;
using Truss.Server.Monitoring;

namespace Truss.Clip.Tests.Truss.Server.Monitoring;

/// <summary>
/// The System.Diagnostics.Metrics → prometheus-net bridge on a private registry and a meter of each test's own (the
/// include filter takes that meter instance only, so parallel tests never leak into each other).
/// </summary>
public class MeterBridgeTests
{
    private static async Task<PrometheusScrape> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return PrometheusScrape.Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static (CollectorRegistry Registry, MeterBridge Bridge) Bridge(Meter meter)
    {
        var registry = Metrics.NewCustomRegistry();
        var bridge = new MeterBridge(registry, Metrics.WithCustomRegistry(registry), i => i.Meter == meter, NullLogger.Instance);
        return (registry, bridge);
    }

    [Test]
    public async Task EveryInstrumentKind_MapsToItsPrometheusType_WithUnitSuffixesAndTotals()
    {
        using var meter = new Meter("Test.Bridge");
        var (registry, bridge) = Bridge(meter);
        using var _ = bridge;
        var requests = meter.CreateCounter<long>("requests", "{request}", "Requests.");
        var latency = meter.CreateHistogram("latency", "s", "Latency.", tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        var sizes = meter.CreateHistogram<int>("batch.size", "{item}");
        var inFlight = meter.CreateUpDownCounter<int>("in_flight");
        var temperature = meter.CreateGauge<double>("temperature", "Cel");
        long observedTotal = 41;
        meter.CreateObservableCounter("hits", () => observedTotal, "{hit}");
        meter.CreateObservableGauge("hit_ratio", () => 0.25, "1");

        requests.Add(2, new KeyValuePair<string, object?>("kind", "a"));
        requests.Add(1, new KeyValuePair<string, object?>("kind", "a"));
        requests.Add(5, new KeyValuePair<string, object?>("kind", "b"));
        latency.Record(0.05);
        latency.Record(0.5);
        latency.Record(3);
        sizes.Record(8);
        inFlight.Add(3);
        inFlight.Add(-1);
        temperature.Record(21.5);
        var first = await ScrapeAsync(registry);
        observedTotal = 50;
        var second = await ScrapeAsync(registry);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first["""test_bridge_requests_total{kind="a"}"""], Is.EqualTo(3));
            Assert.That(first["""test_bridge_requests_total{kind="b"}"""], Is.EqualTo(5));
            Assert.That(first.Types["test_bridge_requests_total"], Is.EqualTo("counter"));
            Assert.That(first.Types["test_bridge_latency_seconds"], Is.EqualTo("histogram"));
            Assert.That(first.SeriesOf("test_bridge_latency_seconds_bucket"), Is.EquivalentTo(new[]
            {
                """test_bridge_latency_seconds_bucket{le="0.1"}""", """test_bridge_latency_seconds_bucket{le="1"}""",
                """test_bridge_latency_seconds_bucket{le="+Inf"}""",
            }), "the advised buckets");
            Assert.That(first["""test_bridge_latency_seconds_bucket{le="1"}"""], Is.EqualTo(2));
            Assert.That(first["test_bridge_latency_seconds_count"], Is.EqualTo(3));
            Assert.That(first["test_bridge_latency_seconds_sum"], Is.EqualTo(3.55).Within(1e-9));
            Assert.That(first["""test_bridge_batch_size_bucket{le="10"}"""], Is.EqualTo(1), "no advice, no unit: OpenTelemetry's default buckets");
            Assert.That(first.Types["test_bridge_in_flight"], Is.EqualTo("gauge"));
            Assert.That(first["test_bridge_in_flight"], Is.EqualTo(2));
            Assert.That(first["test_bridge_temperature_cel"], Is.EqualTo(21.5));
            Assert.That(first.Types["test_bridge_hits_total"], Is.EqualTo("counter"));
            Assert.That(first["test_bridge_hits_total"], Is.EqualTo(41), "an observable counter is read at scrape time");
            Assert.That(second["test_bridge_hits_total"], Is.EqualTo(50));
            Assert.That(first.Types["test_bridge_hit_ratio"], Is.EqualTo("gauge"), "unit 1 is a ratio; the name already says so");
            Assert.That(first["test_bridge_hit_ratio"], Is.EqualTo(0.25));
            Assert.That(second["test_bridge_requests_total{kind=\"a\"}"], Is.EqualTo(3), "series stay between scrapes");
        }
    }

    [Test]
    public async Task OtherMeters_AndInstrumentsCreatedAfterDisposal_AreNotExported()
    {
        using var meter = new Meter("Test.Mine");
        using var other = new Meter("Test.Mine");
        var (registry, bridge) = Bridge(meter);
        var mine = meter.CreateCounter<int>("events");
        other.CreateCounter<int>("foreign").Add(1);
        mine.Add(1);
        bridge.Dispose();
        mine.Add(10);
        meter.CreateCounter<int>("late").Add(1);

        var scrape = await ScrapeAsync(registry);

        Assert.That(scrape["test_mine_events_total"], Is.EqualTo(1));
        Assert.That(scrape.Samples.Keys, Has.None.Contains("foreign").And.None.Contains("late"));
    }

    [Test]
    public async Task ATagWithUnboundedValues_StopsAtTheSeriesCap()
    {
        using var meter = new Meter("Test.Cap");
        var (registry, bridge) = Bridge(meter);
        using var _ = bridge;
        var counter = meter.CreateCounter<int>("calls");

        for (var i = 0; i < MeterBridge.MaxSeriesPerInstrument + 25; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("user", "u" + i));
        }

        counter.Add(1, new KeyValuePair<string, object?>("user", "u0"));
        var scrape = await ScrapeAsync(registry);

        Assert.That(scrape.SeriesOf("test_cap_calls_total").Count(), Is.EqualTo(MeterBridge.MaxSeriesPerInstrument));
        Assert.That(scrape["""test_cap_calls_total{user="u0"}"""], Is.EqualTo(2), "known series keep counting");
    }

    [Test]
    public async Task AnInstrumentThatCannotBeExported_IsSkipped_AndRecordingNeverThrows()
    {
        using var meter = new Meter("Test.Clash");
        var (registry, bridge) = Bridge(meter);
        using var _ = bridge;
        Metrics.WithCustomRegistry(registry).CreateGauge("test_clash_taken_total", "A gauge that holds the name first.");
        var clashing = meter.CreateCounter<int>("taken");
        var reservedLabel = meter.CreateHistogram<double>("timing", "s");
        var fine = meter.CreateCounter<int>("fine");

        Assert.That(() =>
        {
            clashing.Add(1);
            reservedLabel.Record(1, new KeyValuePair<string, object?>("le", "x"));
            fine.Add(1);
        }, Throws.Nothing);
        var scrape = await ScrapeAsync(registry);

        Assert.That(scrape.Types["test_clash_taken_total"], Is.EqualTo("gauge"), "the first owner of the name keeps it");
        Assert.That(scrape.Samples.Keys, Has.None.StartsWith("test_clash_timing"));
        Assert.That(scrape["test_clash_fine_total"], Is.EqualTo(1));
    }

    [TestCase("Truss.Clip", "preprocess.duration", "s", false, "truss_clip_preprocess_duration_seconds")]
    [TestCase("Truss.Clip", "label_cache.hits", "{prompt}", true, "truss_clip_label_cache_hits_total")]
    [TestCase("My-App", "bytes.read", "By", true, "my_app_bytes_read_bytes_total")]
    [TestCase("My-App", "queue..length", null, false, "my_app_queue_length")]
    [TestCase("9lives", "hit_ratio", "1", false, "_9lives_hit_ratio")]
    [TestCase("A", "requests_total", "{request}", true, "a_requests_total")]
    public void PrometheusName_JoinsMeterAndInstrument_AddsUnitAndTotal(string meterName, string instrument, string? unit, bool counter, string expected)
    {
        using var meter = new Meter(meterName);
        Instrument created = counter ? meter.CreateCounter<long>(instrument, unit) : meter.CreateHistogram<double>(instrument, unit);

        Assert.That(MeterBridge.PrometheusName(created), Is.EqualTo(expected));
    }
}
