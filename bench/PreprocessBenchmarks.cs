using BenchmarkDotNet.Attributes;
using Clip.Imaging;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// The engine's exact image path on one thread: decode of the encoded bytes with the default JPEG decoder (TurboJPEG
/// when libturbojpeg is installed, else Skia) at full size, with no DCT scaling, as
/// Pillow decodes in openai/CLIP's <c>_transform</c>, then the Pillow-exact bicubic resize + centre crop + normalise
/// to [3,224,224]. Decode and Preprocess alone show which half dominates; ReadHeader is what the server adds before
/// each decode (<c>ZeroShotClassifier.DecodeAsync</c>). <see cref="FastDecodeAndPreprocess"/> is the
/// opt-in fast JPEG path (<c>model_metadata.clip.image.fast_jpeg_decode</c>): a reduced-DCT decode whose short side
/// stays ≥ 2× the crop, then the same exact resample; for PNG it is the exact path. The <c>Skia*</c> variants force
/// Skia's decoder (<c>jpeg_decoder: skia</c>), so both decoders show side by side; for PNG they are the same work.
/// </summary>
[MemoryDiagnoser]
public class PreprocessBenchmarks
{
    private readonly ImageDecoder _decoder = new();
    private readonly ClipPreprocessor _preprocessor = new();
    private readonly ImageDecoder _fastDecoder = new(new ImageDecodeOptions { FastJpegMinShortSide = 2 * new ClipPreprocessor().Size });
    private readonly ImageDecoder _skiaDecoder = new(new ImageDecodeOptions { JpegDecoder = JpegDecoder.Skia });
    private readonly ImageDecoder _skiaFastDecoder = new(new ImageDecodeOptions
    {
        FastJpegMinShortSide = 2 * new ClipPreprocessor().Size,
        JpegDecoder = JpegDecoder.Skia,
    });
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
    public float FastDecodeAndPreprocess()
    {
        using var image = _fastDecoder.Decode(_bytes);
        _preprocessor.Preprocess(image, _tensor);
        return _tensor[0];
    }

    [Benchmark]
    public float SkiaDecodeAndPreprocess()
    {
        using var image = _skiaDecoder.Decode(_bytes);
        _preprocessor.Preprocess(image, _tensor);
        return _tensor[0];
    }

    [Benchmark]
    public float SkiaFastDecodeAndPreprocess()
    {
        using var image = _skiaFastDecoder.Decode(_bytes);
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
    public int SkiaDecode()
    {
        using var image = _skiaDecoder.Decode(_bytes);
        return image.Width;
    }

    /// <summary>The header read the server does before each decode, to reserve the image's room in the decode budget.</summary>
    [Benchmark]
    public long ReadHeader() => _decoder.ReadHeader(_bytes).Pixels;

    [Benchmark]
    public float Preprocess()
    {
        _preprocessor.Preprocess(_decoded, _tensor);
        return _tensor[0];
    }
}
