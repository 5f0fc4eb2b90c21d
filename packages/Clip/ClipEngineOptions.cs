using Clip.Imaging;
using Clip.Inference;
using Clip.Tokenization;

namespace Clip;

/// <summary>
/// Everything the engine needs to load one CLIP model. Values left null are taken from the model's own sidecar
/// files (image size, mean/std, interpolation), so a user bringing an HF, Xenova or Immich export sets only
/// <see cref="Model"/>'s directory. Validated when set and again at load.
/// </summary>
public sealed record ClipEngineOptions
{
    /// <summary>Where the ONNX towers are and how to run them.</summary>
    public required ClipModelOptions Model { get; init; }

    /// <summary>Tokenizer file or directory; null looks in the model directory.</summary>
    public string? TokenizerPath { get; init; }

    /// <summary>Tokenizer behaviour (text fixes, word-cache size).</summary>
    public ClipTokenizerOptions Tokenizer { get; init; } = ClipTokenizerOptions.Default;

    /// <summary>Decoding limits and alpha/EXIF handling for encoded images.</summary>
    public ImageDecodeOptions Decode { get; init; } = ImageDecodeOptions.Default;

    /// <summary>Preprocessing settings that override the model's sidecars (each null keeps the sidecar's value).</summary>
    public PreprocessOverrides Preprocess { get; init; } = new();

    /// <summary>
    /// Multiplier of the cosine similarity before the softmax (CLIP's learned <c>logit_scale.exp()</c>; 100 for
    /// OpenAI and LAION checkpoints, whose split exports do not carry it).
    /// </summary>
    public float LogitScale
    {
        get;
        init => field = float.IsFinite(value) && value > 0
            ? value
            : throw new ArgumentOutOfRangeException(nameof(LogitScale), value, "The logit scale must be a positive number.");
    } = 100f;

    /// <summary>
    /// Prompt templates, each containing <c>{}</c> where the label goes (for example <c>a photo of a {}.</c>).
    /// Several templates are ensembled as in the CLIP paper. Empty means the label text is used as is.
    /// </summary>
    public IReadOnlyList<string> PromptTemplates
    {
        get;
        init => field = ValidateTemplates(value);
    } = [];

    /// <summary>
    /// Dynamic batching of image-tower runs across concurrent calls of
    /// <c>ZeroShotClassifier.ClassifyAsync</c> and <c>EmbedImagesAsync</c>; null disables it. Used only when the image tower's batch
    /// dimension is dynamic.
    /// </summary>
    public Batching.BatchingOptions? Batching { get; init; }

    /// <summary>
    /// The fast JPEG path: large JPEGs are decoded at a reduced DCT scale whose short side is still at least twice
    /// the model's input size, then resampled exactly (see <see cref="ImageDecodeOptions.FastJpegMinShortSide"/>).
    /// </summary>
    public bool FastJpegDecode { get; init; }

    /// <summary>
    /// How many requests decode and preprocess images at the same time in the asynchronous (server) paths, each on
    /// its own thread (see <see cref="Imaging.PreprocessingSlots"/>); 0 (default) sets no bound of its own, so the
    /// server's <c>predict_concurrency</c> is the bound. The synchronous methods
    /// (<see cref="ZeroShotClassifier.Classify"/>, <see cref="ZeroShotClassifier.EmbedImages"/>) are not bounded by it.
    /// </summary>
    /// <remarks>
    /// Not bounded by default because a bound cost throughput where it was measured (docs/benchmarks.md: one slot on
    /// a one-core server with <c>predict_concurrency</c> 4, −3 % at 8 connections and −6 % at 32): a request that
    /// waits for a slot resumes on another thread, and batches form later. A bound pays off where
    /// <c>predict_concurrency</c> is set far above the core count (to fill GPU batches, say): it keeps the decoders
    /// from time-slicing the cores and bounds the decoded images held in memory at once.
    /// </remarks>
    public int PreprocessThreads
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(PreprocessThreads), value, "Must be ≥ 0.");
    }

    /// <summary>
    /// The most decoded pixels held at the same time across all requests of the asynchronous (server) paths
    /// (<see cref="Imaging.DecodeBudget"/>); null (default) allows twice <see cref="ImageDecodeOptions.MaxPixels"/>:
    /// two images of the largest accepted size, or any number of ordinary photos, decode at once. Memory while decoding
    /// is up to 7 bytes per pixel (Skia's RGBA plus the RGB image; 3 with TurboJPEG), 3 until the image is preprocessed.
    /// </summary>
    public long? MaxPixelsInFlight
    {
        get;
        init => field = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxPixelsInFlight), value, "Must be ≥ 1.");
    }

    /// <summary><see cref="MaxPixelsInFlight"/> with its default applied.</summary>
    public long EffectiveMaxPixelsInFlight => MaxPixelsInFlight ?? (Decode.MaxPixels > long.MaxValue / 2 ? long.MaxValue : 2 * Decode.MaxPixels);

    /// <summary>How many prompt embeddings the label cache keeps (0 disables it).</summary>
    public int LabelCacheCapacity
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(LabelCacheCapacity), value, "Must be ≥ 0.");
    } = 10_000;

    /// <summary>Checks a template list: each template has exactly one <c>{}</c>.</summary>
    public static IReadOnlyList<string> ValidateTemplates(IReadOnlyList<string> templates)
    {
        foreach (var template in templates)
        {
            var first = template.IndexOf("{}", StringComparison.Ordinal);
            if (first < 0 || template.IndexOf("{}", first + 2, StringComparison.Ordinal) >= 0)
            {
                throw new ArgumentException($"The prompt template \"{template}\" must contain exactly one {{}} where the label goes.", nameof(templates));
            }
        }

        return templates;
    }
}

/// <summary>
/// Preprocessing values that take precedence over what the model's sidecar files say. Null means "as the model
/// says" (or the OpenAI defaults when it says nothing).
/// </summary>
public sealed record PreprocessOverrides
{
    /// <summary>Square input size in pixels.</summary>
    public int? Size { get; init; }

    /// <summary>How the image is fitted to the square.</summary>
    public ResizeMode? ResizeMode { get; init; }

    /// <summary>Resampling filter (Pillow-exact).</summary>
    public ResampleFilter? Interpolation { get; init; }

    /// <summary>Center-crop offset rounding; torchvision's round-half-even by default (OpenAI parity).</summary>
    public CropRounding CropRounding { get; init; } = CropRounding.RoundHalfEven;

    /// <summary>Per-channel mean (RGB), in [0,1] units.</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <summary>Per-channel standard deviation (RGB).</summary>
    public IReadOnlyList<float>? Std { get; init; }
}
