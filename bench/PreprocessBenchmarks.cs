using BenchmarkDotNet.Attributes;
using Clip.Imaging;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The engine's exact image path on one thread: Skia decode of the encoded bytes (full size, no DCT scaling, as
/// Pillow decodes in openai/CLIP's <c>_transform</c>) then the Pillow-exact bicubic resize + centre crop + normalise
/// to [3,224,224]. Decode and Preprocess alone show which half dominates.
/// </summary>
[MemoryDiagnoser]
public class PreprocessBenchmarks
{
    private readonly ImageDecoder _decoder = new();
    private readonly ClipPreprocessor _preprocessor = new();
    private byte[] _bytes = null!;
    private RgbImage _decoded = null!;
    private float[] _tensor = null!;

    [Params("jpeg_1920x1080", "png_640x480", "jpeg_224x224")]
    public string Image { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _bytes = TestImages.Read(Image);
        _decoded = _decoder.Decode(_bytes);
        _tensor = new float[_preprocessor.TensorLength];
    }

    [GlobalCleanup]
    public void Cleanup() => _decoded.Dispose();

    [Benchmark(Baseline = true)]
    public float DecodeAndPreprocess()
    {
        using var image = _decoder.Decode(_bytes);
        _preprocessor.Preprocess(image, _tensor);
        return _tensor[0];
    }

    [Benchmark]
    public int Decode()
    {
        using var image = _decoder.Decode(_bytes);
        return image.Width;
    }

    [Benchmark]
    public float Preprocess()
    {
        _preprocessor.Preprocess(_decoded, _tensor);
        return _tensor[0];
    }
}
