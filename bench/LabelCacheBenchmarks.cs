using BenchmarkDotNet.Attributes;
using Clip;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// <c>ZeroShotClassifier.Classify</c> on the embedded model with one decoded image and the same 5 labels every call.
/// Baseline: label cache disabled, so every call runs the text tower (what the replaced Python truss does per
/// request). The repeated-label path should skip the text tower entirely; the cleanup prints the text rows it encoded.
/// </summary>
[MemoryDiagnoser]
public class LabelCacheBenchmarks
{
    private ZeroShotClassifier _cached = null!;
    private ZeroShotClassifier _uncached = null!;
    private RgbImage _image = null!;
    private RgbImage[] _images = null!;
    private long _rowsAfterWarmup;

    [GlobalSetup]
    public void Setup()
    {
        _cached = Load(10_000);
        _uncached = Load(0);
        _image = _cached.Decoder.Decode(File.ReadAllBytes(Path.Combine(BenchPaths.RepoRoot, "data", "samples", "red_circle.png")));
        _images = [_image];
        _cached.Classify(_images, Workload.TinyLabels);
        _rowsAfterWarmup = _cached.TextRowsEncoded;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// LabelCache: text rows encoded by the repeated-label classifier after its first call: {_cached.TextRowsEncoded - _rowsAfterWarmup}");
        _image.Dispose();
        _cached.Dispose();
        _uncached.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float ClassifyCacheDisabled() => _uncached.Classify(_images, Workload.TinyLabels)[0][0];

    [Benchmark]
    public float ClassifyRepeatedLabels() => _cached.Classify(_images, Workload.TinyLabels)[0][0];

    private static ZeroShotClassifier Load(int cacheCapacity) => ZeroShotClassifier.Load(
        new ClipEngineOptions
        {
            Model = new ClipModelOptions { ModelDirectory = BenchPaths.TinyClipDir },
            LogitScale = 24.948657f,
            LabelCacheCapacity = cacheCapacity,
        },
        NullLoggerFactory.Instance);
}
