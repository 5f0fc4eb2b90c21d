using System.Diagnostics;
using System.Diagnostics.Metrics;
using Clip.Embeddings;

namespace Clip.Diagnostics;

/// <summary>
/// The engine's instruments, published through the BCL's <see cref="System.Diagnostics.Metrics"/> on the meter
/// <see cref="MeterName"/>, so any exporter (the server's Prometheus endpoint, OpenTelemetry, <c>dotnet-counters</c>)
/// can read them while the engine depends on none of them.
/// </summary>
/// <remarks>
/// <para>Instruments (names as the Truss server exports them to Prometheus in brackets):</para>
/// <list type="bullet">
/// <item><c>preprocess.duration</c> (s), tag <c>stage</c> = <c>decode</c> (encoded bytes to pixels) or
/// <c>resize_normalize</c> (pixels to the model's input tensor), one measurement per image
/// [<c>truss_clip_preprocess_duration_seconds</c>].</item>
/// <item><c>inference.duration</c> (s), tag <c>tower</c> = <c>image</c> or <c>text</c>, one measurement per tower run
/// [<c>truss_clip_inference_duration_seconds</c>].</item>
/// <item><c>batch.size</c>, tag <c>tower</c>: images (image tower) or prompts (text tower) per tower run; with dynamic
/// batching on, image-tower runs hold several requests' images [<c>truss_clip_batch_size</c>].</item>
/// <item><c>batcher.queue_depth</c>: requests waiting for the dynamic batcher, only when batching is active
/// [<c>truss_clip_batcher_queue_depth</c>].</item>
/// <item><c>preprocess.waiting</c>: requests waiting for one of the engine's preprocessing slots
/// (<see cref="Imaging.PreprocessingSlots"/>) [<c>truss_clip_preprocess_waiting</c>].</item>
/// <item><c>decode_budget.waiting</c>: images waiting for room in the decode budget (<see cref="Imaging.DecodeBudget"/>)
/// [<c>truss_clip_decode_budget_waiting</c>]; <c>decode_budget.reserved</c>: pixels reserved in it now
/// [<c>truss_clip_decode_budget_reserved</c>].</item>
/// <item><c>label_cache.hits</c>, <c>label_cache.misses</c> (prompts), <c>label_cache.hit_ratio</c> (since start),
/// <c>label_cache.entries</c> [<c>truss_clip_label_cache_hits_total</c>, <c>..._misses_total</c>,
/// <c>..._hit_ratio</c>, <c>..._entries</c>].</item>
/// </list>
/// <para>
/// Cost: histograms are timed and recorded only while a listener has enabled them (one branch otherwise); tags are
/// preallocated, so recording allocates nothing. Counters and gauges are observable instruments read from the
/// counters the engine keeps anyway, so they cost nothing until someone collects them.
/// </para>
/// <para>
/// With an <see cref="IMeterFactory"/> (the server's), the meter belongs to that factory's scope, so an exporter can
/// tell apart two engines in one process; without one the engine owns a meter of its own. Thread-safe.
/// </para>
/// </remarks>
public sealed class ClipMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Truss.Clip";

    /// <summary>Bucket bounds of the duration histograms, in seconds: 0.1 ms to 10 s, about ×2.5 apart.</summary>
    public static readonly IReadOnlyList<double> DurationBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Bucket bounds of the batch-size histogram: exact for small batches, then about ×1.5 apart.</summary>
    public static readonly IReadOnlyList<int> BatchSizeBuckets = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256];

    private static readonly KeyValuePair<string, object?> DecodeStage = new("stage", "decode");
    private static readonly KeyValuePair<string, object?> ResizeNormalizeStage = new("stage", "resize_normalize");
    private static readonly KeyValuePair<string, object?> ImageTower = new("tower", "image");
    private static readonly KeyValuePair<string, object?> TextTower = new("tower", "text");

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _preprocessDuration;
    private readonly Histogram<double> _inferenceDuration;
    private readonly Histogram<int> _batchSize;
    private volatile bool _disposed;

    /// <summary>Creates the instruments.</summary>
    /// <param name="meterFactory">Where the meter comes from; null makes a meter of this instance's own.</param>
    /// <param name="labelCache">The label cache whose statistics are published.</param>
    /// <param name="batcherQueueDepth">Reads the batcher's queue; null when the engine does not batch.</param>
    /// <param name="preprocessWaiting">Reads how many requests wait for a preprocessing slot.</param>
    /// <param name="decodeBudget">The budget whose waiting images and reserved pixels are published.</param>
    internal ClipMetrics(
        IMeterFactory? meterFactory, LabelEmbeddingCache labelCache, Func<int>? batcherQueueDepth, Func<int> preprocessWaiting, Imaging.DecodeBudget decodeBudget)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(MeterName)) ?? new Meter(MeterName);
        var durationAdvice = new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets };
        _preprocessDuration = _meter.CreateHistogram(
            "preprocess.duration", "s", "Time to prepare one image: decode (encoded bytes to pixels) or resize_normalize (pixels to the input tensor).",
            tags: null, advice: durationAdvice);
        _inferenceDuration = _meter.CreateHistogram(
            "inference.duration", "s", "Time of one ONNX tower run (image or text tower), whatever its batch size.",
            tags: null, advice: durationAdvice);
        _batchSize = _meter.CreateHistogram(
            "batch.size", "{item}", "Images (image tower) or prompts (text tower) per tower run.",
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchSizeBuckets });

        // Observable instruments cannot be unregistered from a factory's shared meter, so they go quiet once disposed.
        _meter.CreateObservableCounter(
            "label_cache.hits", () => Observe(labelCache.Hits), "{prompt}", "Prompts served from the label-embedding cache.");
        _meter.CreateObservableCounter(
            "label_cache.misses", () => Observe(labelCache.Misses), "{prompt}", "Prompts the text tower had to encode (label-cache misses).");
        _meter.CreateObservableGauge(
            "label_cache.hit_ratio", () => Observe(HitRatio(labelCache.Hits, labelCache.Misses)), "1",
            "Share of prompts served from the label cache since start (0 before the first).");
        _meter.CreateObservableGauge(
            "label_cache.entries", () => Observe(labelCache.Count), "{prompt}", "Prompt embeddings held by the label cache.");
        if (batcherQueueDepth is not null)
        {
            _meter.CreateObservableGauge(
                "batcher.queue_depth", () => Observe(batcherQueueDepth()), "{request}",
                "Requests waiting for the dynamic batcher to take them into an image-tower run.");
        }

        _meter.CreateObservableGauge(
            "preprocess.waiting", () => Observe(preprocessWaiting()), "{request}",
            "Requests waiting for a preprocessing slot (execution.preprocess_threads) before they decode and preprocess their images.");
        _meter.CreateObservableGauge(
            "decode_budget.waiting", () => Observe(decodeBudget.Waiting), "{image}",
            "Images waiting for room in the decode budget (image.max_pixels_in_flight) before they decode.");
        _meter.CreateObservableGauge(
            "decode_budget.reserved", () => Observe(decodeBudget.PixelsInUse), "{pixel}",
            "Pixels reserved in the decode budget now: images being decoded or waiting to be preprocessed.");
    }

    /// <summary>The meter the instruments live on.</summary>
    public Meter Meter => _meter;

    /// <summary>A start timestamp for a preprocessing measurement, or 0 when nobody listens.</summary>
    internal long StartPreprocess() => _preprocessDuration.Enabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>A start timestamp for a tower-run measurement, or 0 when nobody listens.</summary>
    internal long StartInference() => _inferenceDuration.Enabled || _batchSize.Enabled ? Stopwatch.GetTimestamp() : 0;

    internal void EndDecode(long started) => EndPreprocess(started, DecodeStage);

    internal void EndResizeNormalize(long started) => EndPreprocess(started, ResizeNormalizeStage);

    internal void EndImageTower(long started, int batch) => EndInference(started, batch, ImageTower);

    internal void EndTextTower(long started, int batch) => EndInference(started, batch, TextTower);

    public void Dispose()
    {
        _disposed = true;
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    internal static double HitRatio(long hits, long misses) => hits + misses == 0 ? 0 : (double)hits / (hits + misses);

    private void EndPreprocess(long started, KeyValuePair<string, object?> stage)
    {
        if (started != 0)
        {
            _preprocessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, stage);
        }
    }

    private void EndInference(long started, int batch, KeyValuePair<string, object?> tower)
    {
        if (started != 0)
        {
            _inferenceDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tower);
            _batchSize.Record(batch, tower);
        }
    }

    private IEnumerable<Measurement<T>> Observe<T>(T value)
        where T : struct =>
        _disposed ? [] : [new Measurement<T>(value)];
}
