using BenchmarkDotNet.Attributes;
using Clip;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// One request's work on the ViT-B/32-shaped model: decode + preprocess the 1080p JPEG, embed the 5 labels, embed
/// the image, softmax. Three engines, from like-for-like to steady state:
/// <list type="bullet">
/// <item><c>Context77NoCache</c> (baseline): text graph fixed at 77 tokens and no label cache, i.e. exactly the
/// FLOPs of openai/CLIP per request (tools/python_baseline.py's classify_1080p_5_labels).</item>
/// <item><c>NoCache</c>: dynamic sequence axis, so the text tower runs only the real tokens; still no cache.</item>
/// <item><c>RepeatedLabels</c>: the server's default, label cache on and warm; the text tower does not run.</item>
/// </list>
/// The towers run where <see cref="BenchDevice"/> says (decode and preprocessing always on the CPU).
/// </summary>
[MemoryDiagnoser]
public class VitB32EndToEndBenchmarks
{
    private ZeroShotClassifier _classifier = null!;
    private byte[] _jpeg = null!;

    [GlobalSetup(Target = nameof(Context77NoCache))]
    public void SetupContext77() => Setup("ctx77", 0);

    [GlobalSetup(Target = nameof(NoCache))]
    public void SetupNoCache() => Setup(null, 0);

    [GlobalSetup(Target = nameof(RepeatedLabels))]
    public void SetupRepeated() => Setup(null, 10_000);

    [GlobalCleanup]
    public void Cleanup() => _classifier.Dispose();

    [Benchmark(Baseline = true)]
    public float Context77NoCache() => Classify();

    [Benchmark]
    public float NoCache() => Classify();

    [Benchmark]
    public float RepeatedLabels() => Classify();

    private float Classify()
    {
        using var image = _classifier.Decoder.Decode(_jpeg);
        return _classifier.Classify([image], Workload.Labels)[0][0];
    }

    private void Setup(string? variant, int cacheCapacity)
    {
        _jpeg = TestImages.Read("jpeg_1920x1080");
        _classifier = BenchDevice.LoadClassifier(BenchPaths.VitB32Dir, BenchDevice.Variant(variant), cacheCapacity);
        Classify();
    }
}
