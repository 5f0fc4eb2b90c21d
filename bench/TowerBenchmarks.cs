using BenchmarkDotNet.Attributes;
using Clip.Inference;
using Clip.Tokenization;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The two ONNX towers through the engine's encoders (pooled inputs, ORT default threads), at batch 1 and 8 by
/// default, for the embedded model and the ViT-B/32-shaped random-weight export. Text runs twice: rows of the full 77-token context
/// (what openai/CLIP always computes, so comparable with the PyTorch baseline) and the real prompt length ("a photo of
/// a cat": 7 ids), which the engine runs when the graph's sequence axis is dynamic. Device, I/O binding, batch sizes,
/// models and the ViT file variant come from <see cref="BenchDevice"/> (bench/gpu/run.sh sets them; the defaults are
/// the CPU suite's).
/// </summary>
[MemoryDiagnoser]
public class TowerBenchmarks
{
    private ClipModel _model = null!;
    private float[] _pixels = null!;
    private float[] _imageEmbeddings = null!;
    private float[] _textEmbeddings = null!;
    private int[][] _fullContextRows = null!;
    private int[][] _promptRows = null!;

    // Declared before Model so that BenchmarkDotNet names cases "Batch=1&Model=..." as it did when Batch was a
    // [Params] (bench/summarize.py looks them up by that string).
    [ParamsSource(nameof(Batches))]
    public int Batch { get; set; }

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    public static IEnumerable<string> Models =>
        (BenchPaths.HasVitB32 ? new[] { "tiny-clip", "vit-b-32-random" } : ["tiny-clip"]).Where(m => BenchDevice.Models is null || BenchDevice.Models.Contains(m));

    public static IEnumerable<int> Batches => BenchDevice.Batches;

    [GlobalSetup]
    public void Setup()
    {
        var dir = Model == "tiny-clip" ? BenchPaths.TinyClipDir : BenchPaths.VitB32Dir;
        _model = BenchDevice.LoadModel(dir, Model == "tiny-clip" ? null : BenchDevice.Variant(null));
        var tokenizer = ClipTokenizer.FromDirectory(dir);
        var d = _model.Descriptor;
        _pixels = Workload.Pixels(Batch, d.ImageSize);
        _imageEmbeddings = new float[Batch * d.EmbeddingDim];
        _textEmbeddings = new float[Batch * d.EmbeddingDim];
        _fullContextRows = Enumerable.Range(0, Batch).Select(_ => tokenizer.Encode(Workload.FullContextText, d.ContextLength)).ToArray();
        _promptRows = Enumerable.Range(0, Batch).Select(_ => tokenizer.Encode("a photo of a cat", d.ContextLength)).ToArray();
        if (_fullContextRows[0].Length != d.ContextLength)
        {
            throw new InvalidOperationException($"Expected {d.ContextLength} ids, got {_fullContextRows[0].Length}.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public float Vision()
    {
        _model.ImageEncoder.Encode(_pixels, Batch, _imageEmbeddings);
        return _imageEmbeddings[0];
    }

    [Benchmark]
    public float TextContext77()
    {
        _model.TextEncoder.Encode(_fullContextRows, _textEmbeddings);
        return _textEmbeddings[0];
    }

    [Benchmark]
    public float TextPrompt()
    {
        _model.TextEncoder.Encode(_promptRows, _textEmbeddings);
        return _textEmbeddings[0];
    }
}
