using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Truss.Server.Monitoring;

/// <summary>
/// Exports <see cref="System.Diagnostics.Metrics"/> instruments (the model's, e.g. the CLIP engine's) into a
/// prometheus-net registry with Prometheus semantics: counters stay counters (<c>_total</c>), the unit becomes a
/// name suffix (<c>s</c> → <c>_seconds</c>), histogram buckets come from the instrument's advice, and a series,
/// once exported, stays until the server stops.
/// </summary>
/// <remarks>
/// <para>
/// Why not prometheus-net's own <c>MeterAdapter</c> (read in the 8.2.1 assembly): it exports <c>Counter</c> and
/// <c>ObservableCounter</c> as gauges (TYPE gauge, no <c>_total</c>), names series <c>meter_instrument</c> without the
/// unit, unpublishes a series after <c>MetricsExpireAfter</c> (5 min) without measurements, so idle counters and
/// histograms vanish and restart from zero, takes a reader lock on every measurement, ignores instrument advice, and
/// its default <c>MeterAdapterOptions.MetricFactory</c> (the static default factory) silently overrides
/// <c>Registry</c>.
/// </para>
/// <para>
/// Mapping: <c>Counter</c> → counter; <c>ObservableCounter</c> → counter set to the observed total;
/// <c>UpDownCounter</c> → gauge incremented; <c>ObservableUpDownCounter</c>, <c>ObservableGauge</c>, <c>Gauge</c> →
/// gauge set; <c>Histogram</c> → histogram. Name: <c>meter_instrument[_unit][_total]</c>, lower case, every other
/// character an underscore. Labels: the measurement's tag keys, fixed by an instrument's first measurement.
/// Observable instruments are read when the registry is collected (a scrape).
/// </para>
/// <para>
/// Hot path: the per-instrument export is the listener's state, so a measurement costs no lookup by instrument; an
/// untagged one goes straight to its series, a one-tag one finds its series in a lock-free dictionary keyed by the
/// tag's string value; nothing is allocated. At most <see cref="MaxSeriesPerInstrument"/> label combinations are
/// exported per instrument; measurements beyond are dropped (a warning is logged once), so a tag with unbounded
/// values cannot grow the scrape without bound. An instrument that cannot be exported (a name already taken by
/// another metric, an invalid label) is skipped with a warning; measurement callbacks never throw.
/// </para>
/// </remarks>
internal sealed class MeterBridge : IDisposable
{
    /// <summary>Label combinations exported per instrument at most.</summary>
    internal const int MaxSeriesPerInstrument = 1000;

    /// <summary>Histogram buckets for instruments in seconds without advice: 0.1 ms to 10 s.</summary>
    private static readonly double[] SecondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Histogram buckets for other instruments without advice (OpenTelemetry's default explicit buckets).</summary>
    private static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener = new();
    private readonly IMetricFactory _factory;
    private readonly Func<Instrument, bool> _include;
    private readonly ILogger _logger;
    private volatile bool _disposed;

    /// <summary>Starts exporting every instrument, present or future, that <paramref name="include"/> accepts.</summary>
    public MeterBridge(CollectorRegistry registry, IMetricFactory factory, Func<Instrument, bool> include, ILogger logger)
    {
        _factory = factory;
        _include = include;
        _logger = logger;
        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => Record(state, value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => Record(state, (double)value, tags));
        _listener.Start();
        registry.AddBeforeCollectCallback(() =>
        {
            // A registry cannot drop a callback, so a disposed bridge just stops reading.
            if (!_disposed)
            {
                _listener.RecordObservableInstruments();
            }
        });
    }

    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
    }

    /// <summary>
    /// The Prometheus name of an instrument: meter and instrument name joined, lower case, anything outside
    /// <c>[a-z0-9_]</c> an underscore (runs collapsed), the unit's suffix, and <c>_total</c> for counters.
    /// </summary>
    internal static string PrometheusName(Instrument instrument)
    {
        var name = Sanitize(instrument.Meter.Name + "_" + instrument.Name);
        if (UnitSuffix(instrument.Unit) is { } unit && !name.EndsWith("_" + unit, StringComparison.Ordinal))
        {
            name += "_" + unit;
        }

        return KindOf(instrument) is Kind.CounterAdd or Kind.CounterTotal && !name.EndsWith("_total", StringComparison.Ordinal)
            ? name + "_total"
            : name;
    }

    /// <summary>Lower case, <c>[a-z0-9_]</c> only (anything else becomes an underscore, runs collapsed), no leading digit.</summary>
    internal static string Sanitize(string text)
    {
        var builder = new StringBuilder(text.Length + 1);
        foreach (var c in text)
        {
            var lower = char.ToLowerInvariant(c);
            var valid = lower is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_';
            if (valid)
            {
                builder.Append(lower);
            }
            else if (builder.Length == 0 || builder[^1] != '_')
            {
                builder.Append('_');
            }
        }

        if (builder.Length == 0 || char.IsAsciiDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }

    /// <summary>The name suffix for a UCUM unit as OpenTelemetry's Prometheus exporters write it; null for none.</summary>
    internal static string? UnitSuffix(string? unit) => unit switch
    {
        null or "" => null,
        _ when unit.StartsWith('{') => null, // an annotation such as {request}: a count, no unit
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "1" => "ratio",
        "%" => "percent",
        _ => Sanitize(unit).Trim('_') is { Length: > 0 } sanitized ? sanitized : null,
    };

    private static void Record(object? state, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        ((ExportedInstrument)state!).Record(value, tags);

    private static Kind? KindOf(Instrument instrument)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType)
        {
            return null;
        }

        var definition = type.GetGenericTypeDefinition();
        if (definition == typeof(Counter<>))
        {
            return Kind.CounterAdd;
        }

        if (definition == typeof(ObservableCounter<>))
        {
            return Kind.CounterTotal;
        }

        if (definition == typeof(UpDownCounter<>))
        {
            return Kind.GaugeAdd;
        }

        if (definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>) || definition == typeof(Gauge<>))
        {
            return Kind.GaugeSet;
        }

        return definition == typeof(Histogram<>) ? Kind.Histogram : null;
    }

    private static double[] BucketsOf(Instrument instrument)
    {
        var advised = instrument switch
        {
            Instrument<double> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<float> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<long> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<int> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<short> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<byte> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            Instrument<decimal> i => Bounds(i.Advice?.HistogramBucketBoundaries),
            _ => null,
        };
        return advised ?? (instrument.Unit == "s" ? SecondsBuckets : DefaultBuckets);
    }

    private static double[]? Bounds<T>(IReadOnlyList<T>? bounds)
        where T : struct
    {
        if (bounds is null || bounds.Count == 0)
        {
            return null;
        }

        var result = new double[bounds.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = Convert.ToDouble(bounds[i], System.Globalization.CultureInfo.InvariantCulture);
        }

        return result;
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (_disposed || !_include(instrument))
        {
            return;
        }

        if (KindOf(instrument) is not { } kind)
        {
            _logger.LogWarning("Metric {Meter}/{Instrument} is not exported: {Type} has no Prometheus equivalent",
                instrument.Meter.Name, instrument.Name, instrument.GetType().Name);
            return;
        }

        var help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Meter.Name + " " + instrument.Name : instrument.Description;
        var name = PrometheusName(instrument);
        ExportedInstrument exported = kind switch
        {
            Kind.CounterAdd => new CounterExport(this, name, help, total: false),
            Kind.CounterTotal => new CounterExport(this, name, help, total: true),
            Kind.GaugeAdd => new GaugeExport(this, name, help, set: false),
            Kind.GaugeSet => new GaugeExport(this, name, help, set: true),
            _ => new HistogramExport(this, name, help, BucketsOf(instrument)),
        };
        listener.EnableMeasurementEvents(instrument, exported);
    }

    private enum Kind
    {
        CounterAdd,
        CounterTotal,
        GaugeAdd,
        GaugeSet,
        Histogram,
    }

    /// <summary>One instrument's export; its Prometheus collector is created at its first measurement.</summary>
    private abstract class ExportedInstrument
    {
        public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags);
    }

    private abstract class ExportedInstrument<TChild>(MeterBridge bridge, string name, string help) : ExportedInstrument
        where TChild : class, ICollectorChild
    {
        private readonly Lock _createLock = new();
        private volatile Series? _series;
        private bool _failed;
        private int _overflowWarned;

        public sealed override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            try
            {
                var series = _series ?? CreateSeries(tags);
                if (series?.Child(tags) is { } child)
                {
                    Apply(child, value);
                }
                else if (series is not null && Interlocked.Exchange(ref _overflowWarned, 1) == 0)
                {
                    bridge._logger.LogWarning(
                        "Metric {Name} reached {Max} label combinations; new ones are dropped", name, MaxSeriesPerInstrument);
                }
            }
            catch (Exception e)
            {
                // Measurement callbacks run on the model's threads: a metrics problem must never fail a request.
                bridge._logger.LogDebug(e, "Metric {Name}: a measurement was not recorded", name);
            }
        }

        protected abstract ICollector<TChild> CreateCollector(IMetricFactory factory, string name, string help, string[] labelNames);

        protected abstract void Apply(TChild child, double value);

        private Series? CreateSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_createLock)
            {
                if (_series is { } existing || _failed)
                {
                    return _series;
                }

                var keys = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var tag in tags)
                {
                    keys.Add(tag.Key);
                }

                var tagKeys = keys.ToArray();
                var labelNames = Array.ConvertAll(tagKeys, Sanitize);
                try
                {
                    return _series = new Series(CreateCollector(bridge._factory, name, help, labelNames), tagKeys);
                }
                catch (Exception e)
                {
                    _failed = true;
                    bridge._logger.LogWarning("Metric {Name} is not exported: {Reason}", name, e.Message);
                    return null;
                }
            }
        }

        /// <summary>The exported collector and its children by tag values.</summary>
        private sealed class Series(ICollector<TChild> collector, string[] tagKeys)
        {
            private readonly TChild? _unlabelled = tagKeys.Length == 0 ? collector.Unlabelled : null;
            private readonly ConcurrentDictionary<string, TChild> _children = new(StringComparer.Ordinal);

            public TChild? Child(ReadOnlySpan<KeyValuePair<string, object?>> tags)
            {
                if (_unlabelled is not null)
                {
                    return _unlabelled;
                }

                string[]? values = null;
                string key;
                if (tagKeys.Length == 1)
                {
                    key = ValueOf(tags, tagKeys[0]);
                }
                else
                {
                    values = new string[tagKeys.Length];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = ValueOf(tags, tagKeys[i]);
                    }

                    key = string.Join('\u001f', values);
                }

                if (_children.TryGetValue(key, out var child))
                {
                    return child;
                }

                // Count takes every bucket lock, but only a new label combination gets here.
                return _children.Count >= MaxSeriesPerInstrument
                    ? null
                    : _children.GetOrAdd(key, static (k, state) => state.Collector.WithLabels(state.Values ?? [k]), (Collector: collector, Values: values));
            }

            private static string ValueOf(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
            {
                foreach (var tag in tags)
                {
                    if (string.Equals(tag.Key, key, StringComparison.Ordinal))
                    {
                        return tag.Value as string ?? Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";
                    }
                }

                return "";
            }
        }
    }

    private sealed class CounterExport(MeterBridge bridge, string name, string help, bool total)
        : ExportedInstrument<Counter.Child>(bridge, name, help)
    {
        protected override ICollector<Counter.Child> CreateCollector(IMetricFactory factory, string name, string help, string[] labelNames) =>
            factory.CreateCounter(name, help, labelNames);

        protected override void Apply(Counter.Child child, double value)
        {
            if (total)
            {
                child.IncTo(value);
            }
            else if (value >= 0)
            {
                child.Inc(value);
            }
        }
    }

    private sealed class GaugeExport(MeterBridge bridge, string name, string help, bool set)
        : ExportedInstrument<Gauge.Child>(bridge, name, help)
    {
        protected override ICollector<Gauge.Child> CreateCollector(IMetricFactory factory, string name, string help, string[] labelNames) =>
            factory.CreateGauge(name, help, labelNames);

        protected override void Apply(Gauge.Child child, double value)
        {
            if (set)
            {
                child.Set(value);
            }
            else
            {
                child.Inc(value);
            }
        }
    }

    private sealed class HistogramExport(MeterBridge bridge, string name, string help, double[] buckets)
        : ExportedInstrument<Histogram.Child>(bridge, name, help)
    {
        protected override ICollector<Histogram.Child> CreateCollector(IMetricFactory factory, string name, string help, string[] labelNames) =>
            factory.CreateHistogram(name, help, labelNames, new HistogramConfiguration { Buckets = buckets });

        protected override void Apply(Histogram.Child child, double value) => child.Observe(value);
    }
}
