using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Clip;
using Clip.Batching;
using Clip.Diagnostics;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.Clip.Diagnostics;

/// <summary>
/// The engine publishes its instruments on the "Truss.Clip" meter of the factory it is given: what each measurement
/// means (per image, per tower run, per prompt), read with a plain MeterListener scoped to a private factory.
/// </summary>
public class ClipMetricsTests
{
    private static readonly string[] Labels = ["a red circle", "a photo of a cat", "a blue square"];

    private static RgbImage Image(int seed)
    {
        var rgb = new byte[40 * 30 * 3];
        new Random(seed).NextBytes(rgb);
        return RgbImage.FromRgb(rgb, 40, 30);
    }

    [Test]
    public void Classify_RecordsPreprocessingPerImage_TowerRunsWithTheirBatch_AndLabelCacheCounts()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var recorder = new Recorder(factory);
        using var classifier = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split } }, NullLoggerFactory.Instance, factory);
        using var first = Image(1);
        using var second = Image(2);
        using var decoded = classifier.Decoder.Decode(File.ReadAllBytes(Path.Combine(RepositoryPaths.RepositoryRoot, "data", "samples", "red_circle.png")));

        classifier.Classify([first, second], Labels);
        classifier.Classify([first], Labels);
        var observed = recorder.Observe();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(recorder.Values("preprocess.duration", "stage", "decode"), Has.Count.EqualTo(1));
            Assert.That(recorder.Values("preprocess.duration", "stage", "resize_normalize"), Has.Count.EqualTo(3), "one per image");
            Assert.That(recorder.Values("preprocess.duration", "stage", "resize_normalize"), Has.All.GreaterThan(0));
            Assert.That(recorder.Values("inference.duration", "tower", "image"), Has.Count.EqualTo(2), "one per tower run");
            Assert.That(recorder.Values("batch.size", "tower", "image"), Is.EqualTo(new[] { 2.0, 1.0 }));
            Assert.That(recorder.Values("batch.size", "tower", "text"), Is.EqualTo(new[] { 3.0 }), "the second call's labels came from the cache");
            Assert.That(recorder.Values("inference.duration", "tower", "text"), Has.Count.EqualTo(1));
            Assert.That(observed["label_cache.misses"], Is.EqualTo(3));
            Assert.That(observed["label_cache.hits"], Is.EqualTo(3));
            Assert.That(observed["label_cache.hit_ratio"], Is.EqualTo(0.5));
            Assert.That(observed["label_cache.entries"], Is.EqualTo(3));
            Assert.That(observed.ContainsKey("batcher.queue_depth"), Is.False, "no batcher, no queue gauge");
            Assert.That(recorder.Meters, Has.All.Property(nameof(Meter.Name)).EqualTo(ClipMetrics.MeterName));
        }
    }

    [Test]
    public async Task ClassifyAsync_WithBatching_RecordsOneImageTowerRunPerBatch_AndTheQueueGauge()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var recorder = new Recorder(factory);
        using var classifier = ZeroShotClassifier.Load(
            new ClipEngineOptions
            {
                Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split },
                Batching = new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromMilliseconds(20) },
            },
            NullLoggerFactory.Instance,
            factory);
        using var a = Image(1);
        using var b = Image(2);
        using var c = Image(3);

        await classifier.ClassifyAsync([a, b, c], Labels, null, CancellationToken.None);
        var observed = recorder.Observe();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(recorder.Values("batch.size", "tower", "image"), Is.EqualTo(new[] { 3.0 }), "a request's images run together");
            Assert.That(recorder.Values("preprocess.duration", "stage", "resize_normalize"), Has.Count.EqualTo(3));
            Assert.That(observed["batcher.queue_depth"], Is.Zero, "nothing waits once the call returned");
        }
    }

    [Test]
    public async Task PreprocessWaiting_CountsRequestsWaitingForASlot()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var recorder = new Recorder(factory);
        using var classifier = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split }, PreprocessThreads = 1 },
            NullLoggerFactory.Instance,
            factory);
        using var image = Image(5);
        var held = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);

        var classifying = classifier.ClassifyAsync([image], Labels, null, CancellationToken.None);
        Assert.That(await Poll.UntilAsync(() => classifier.PreprocessingSlots.Waiting == 1), Is.True);
        var whileWaiting = recorder.Observe()["preprocess.waiting"];
        held.Dispose();
        await classifying.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(whileWaiting, Is.EqualTo(1));
        Assert.That(recorder.Observe()["preprocess.waiting"], Is.Zero);
    }

    [Test]
    public async Task DecodeBudget_PublishesWaitingImagesAndReservedPixels()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var recorder = new Recorder(factory);
        using var classifier = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split }, MaxPixelsInFlight = 2048 },
            NullLoggerFactory.Instance,
            factory);
        var held = await classifier.DecodeBudget.ReserveAsync(2048, CancellationToken.None);

        var waiting = classifier.DecodeBudget.ReserveAsync(1024, CancellationToken.None).AsTask();
        var whileWaiting = recorder.Observe();
        held.Dispose();
        (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(whileWaiting["decode_budget.waiting"], Is.EqualTo(1));
            Assert.That(whileWaiting["decode_budget.reserved"], Is.EqualTo(2048));
            Assert.That(recorder.Observe()["decode_budget.waiting"], Is.Zero);
            Assert.That(recorder.Observe()["decode_budget.reserved"], Is.Zero);
        }
    }

    [Test]
    public void TwoEngines_OnDifferentFactories_NeverMix()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var otherServices = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var recorder = new Recorder(services.GetRequiredService<IMeterFactory>());
        using var other = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split } },
            NullLoggerFactory.Instance,
            otherServices.GetRequiredService<IMeterFactory>());
        using var ownMeter = ZeroShotClassifier.Load(
            new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split } }, NullLoggerFactory.Instance);
        using var image = Image(4);

        other.Classify([image], Labels);
        ownMeter.Classify([image], Labels);

        Assert.That(recorder.Measurements, Is.Empty);
        Assert.That(recorder.Observe(), Is.Empty);
    }

    [Test]
    public void HitRatio_IsZeroBeforeAnyPrompt()
    {
        Assert.That(ClipMetrics.HitRatio(0, 0), Is.Zero);
        Assert.That(ClipMetrics.HitRatio(3, 1), Is.EqualTo(0.75));
    }

    /// <summary>Records every measurement of the meters made by one factory.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, double> _observed = new();
        private bool _observing;

        public Recorder(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
            _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
            _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
            _listener.Start();
        }

        public ConcurrentQueue<(Instrument Instrument, double Value, KeyValuePair<string, object?>[] Tags)> Measurements { get; } = new();

        public IEnumerable<Meter> Meters => Measurements.Select(m => m.Instrument.Meter).Distinct();

        /// <summary>Reads the observable instruments once; their values by instrument name.</summary>
        public IReadOnlyDictionary<string, double> Observe()
        {
            _observed.Clear();
            _observing = true;
            _listener.RecordObservableInstruments();
            _observing = false;
            return new Dictionary<string, double>(_observed);
        }

        public List<double> Values(string instrument, string tag, string value) =>
            Measurements
                .Where(m => m.Instrument.Name == instrument && m.Tags.Any(t => t.Key == tag && Equals(t.Value, value)))
                .Select(m => m.Value)
                .ToList();

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (_observing)
            {
                _observed[instrument.Name] = value;
            }
            else
            {
                Measurements.Enqueue((instrument, value, tags.ToArray()));
            }
        }
    }
}
