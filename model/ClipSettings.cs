using Clip;
using Clip.Imaging;
using Clip.Inference;
using Clip.Tokenization;
using Truss.Server.Configuration;

namespace Truss.Clip;

/// <summary>
/// Maps <c>model_metadata.clip</c> in config.yaml (see README, "Configuration") to the engine's options and this
/// model's request limits. Every value is validated here, once, with errors that name the key.
/// </summary>
internal sealed record ClipSettings(ClipEngineOptions Engine, RequestLimits Limits, ImageFetchOptions Fetch)
{
    /// <summary>The model folder when config.yaml names none: the embedded model.</summary>
    public const string DefaultModelDirectory = "data/tiny-clip";

    /// <summary>Environment variable that overrides <c>model_metadata.clip.model_dir</c>.</summary>
    public const string ModelDirectoryVariable = "CLIP_MODEL_DIR";

    /// <summary>
    /// Environment variable that overrides <c>model_metadata.clip.execution.device</c> (<c>auto</c>, <c>cpu</c> or
    /// <c>cuda</c>): the GPU container image sets <c>cuda</c>, so one config.yaml serves both images.
    /// </summary>
    public const string ExecutionDeviceVariable = "CLIP_EXECUTION_DEVICE";

    private static readonly string[] Devices = ["auto", "cpu", "cuda"];

    /// <summary>
    /// Reads the settings. The model folder is, in order: <paramref name="modelDirectoryOverride"/> (<c>--model-dir</c>),
    /// <c>$CLIP_MODEL_DIR</c>, <c>model_metadata.clip.model_dir</c> (relative to the Truss folder), the embedded model.
    /// </summary>
    public static ClipSettings From(TrussConfig config, string? modelDirectoryOverride, Func<string, string?> environment)
    {
        var clip = config.ModelMetadata.GetSection("clip");
        var modelDirectory = FirstNonEmpty(modelDirectoryOverride, environment(ModelDirectoryVariable)) is { } fromCaller
            ? Path.GetFullPath(fromCaller)
            : Path.GetFullPath(clip.GetString("model_dir", DefaultModelDirectory)!, config.Directory);

        var execution = clip.GetSection("execution");
        var device = environment(ExecutionDeviceVariable) is { Length: > 0 } deviceOverride
            ? DeviceFromEnvironment(deviceOverride)
            : execution.GetChoice("device", "auto", Devices);
        var layout = clip.GetChoice("layout", "auto", "auto", "split", "immich", "combined");
        var image = clip.GetSection("image");
        var limits = clip.GetSection("limits");
        var fetch = clip.GetSection("fetch");
        var batching = clip.GetSection("batching");

        try
        {
            var engine = new ClipEngineOptions
            {
                Model = new ClipModelOptions
                {
                    ModelDirectory = modelDirectory,
                    Layout = layout switch
                    {
                        "split" => ClipModelLayout.Split,
                        "immich" => ClipModelLayout.Immich,
                        "combined" => ClipModelLayout.Combined,
                        _ => null,
                    },
                    ModelFileVariant = clip.GetString("model_variant"),
                    UseCuda = device == "cuda" || (device == "auto" && config.UseGpu),
                    CudaDeviceId = execution.GetInt32("cuda_device_id", 0, min: 0),
                    CudaProviderOptions = CudaOptions(execution.GetSection("cuda")),
                    UseIoBinding = execution.GetChoice("io_binding", "auto", "auto", "true", "false") switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => null,
                    },
                    IntraOpThreads = execution.GetInt32("intra_op_threads", 0, min: 0, max: 1024),
                    InterOpThreads = execution.GetInt32("inter_op_threads", 0, min: 0, max: 1024),
                },
                TokenizerPath = clip.GetString("tokenizer") is { } tokenizer ? Path.GetFullPath(tokenizer, config.Directory) : null,
                Tokenizer = new ClipTokenizerOptions { ApplyTextFixes = clip.GetBoolean("text_fixes", true) },
                LogitScale = (float)clip.GetDouble("logit_scale", 100, min: 1e-3, max: 1e4),
                PromptTemplates = clip.GetStringList("prompt_templates") ?? [],
                LabelCacheCapacity = clip.GetInt32("label_cache_size", 10_000, min: 0),
                FastJpegDecode = image.GetBoolean("fast_jpeg_decode", false),
                PreprocessThreads = execution.GetInt32("preprocess_threads", 0, min: 0, max: 1024),
                MaxPixelsInFlight = image.Has("max_pixels_in_flight") ? image.GetInt64("max_pixels_in_flight", 0, min: 1) : null,
                Batching = batching.GetBoolean("enabled", true)
                    ? new global::Clip.Batching.BatchingOptions
                    {
                        MaxBatchSize = batching.GetInt32("max_batch_size", 16, min: 1, max: 1024),
                        MaxDelay = TimeSpan.FromMilliseconds(batching.GetDouble("max_delay_ms", 2, min: 0, max: 1000)),
                    }
                    : null,
                Decode = new ImageDecodeOptions(
                    maxPixels: image.GetInt64("max_pixels", ImageDecodeOptions.DefaultMaxPixels, min: 1),
                    maxWidth: image.GetInt32("max_dimension", ImageDecodeOptions.DefaultMaxDimension, min: 1, max: ImageDecodeOptions.DefaultMaxDimension),
                    maxHeight: image.GetInt32("max_dimension", ImageDecodeOptions.DefaultMaxDimension, min: 1, max: ImageDecodeOptions.DefaultMaxDimension),
                    applyExifOrientation: image.GetBoolean("exif_transpose", true),
                    alphaMode: image.GetChoice("alpha", "black", "black", "drop", "white") switch
                    {
                        "drop" => AlphaMode.Drop,
                        "white" => AlphaMode.White,
                        _ => AlphaMode.Black,
                    })
                {
                    JpegDecoder = image.GetChoice("jpeg_decoder", "auto", "auto", "skia") == "skia" ? JpegDecoder.Skia : JpegDecoder.Auto,
                },
                Preprocess = new PreprocessOverrides
                {
                    Size = image.Has("size") ? image.GetInt32("size", 224, min: 1, max: 4096) : null,
                    ResizeMode = image.Has("resize_mode")
                        ? image.GetChoice("resize_mode", "shortest", "shortest", "squash") == "squash" ? ResizeMode.Squash : ResizeMode.Shortest
                        : null,
                    Interpolation = image.Has("interpolation")
                        ? image.GetChoice("interpolation", "bicubic", "bicubic", "bilinear") == "bilinear" ? ResampleFilter.Bilinear : ResampleFilter.Bicubic
                        : null,
                    CropRounding = image.GetChoice("crop_rounding", "round_half_even", "round_half_even", "floor") == "floor"
                        ? CropRounding.Floor
                        : CropRounding.RoundHalfEven,
                    Mean = ToFloats(image.GetDoubleList("mean", requiredCount: 3)),
                    Std = ToFloats(image.GetDoubleList("std", requiredCount: 3)),
                },
            };

            return new ClipSettings(
                engine,
                new RequestLimits(
                    MaxLabels: limits.GetInt32("max_labels", 1000, min: 1),
                    MaxLabelLength: limits.GetInt32("max_label_length", 1000, min: 1),
                    MaxBatchImages: limits.GetInt32("max_batch_images", 32, min: 1, max: 4096),
                    MaxTemplates: limits.GetInt32("max_templates", 16, min: 1, max: 1000),
                    MaxEmbeddingInputs: limits.GetInt32("max_embedding_inputs", 2048, min: 1, max: 100_000),
                    MaxEmbeddingInputLength: limits.GetInt32("max_embedding_input_length", 32768, min: 1)),
                ImageFetchOptions.From(fetch));
        }
        catch (ArgumentException e)
        {
            // The engine's own option checks (e.g. a template without {}); say which section they came from.
            throw new TrussConfigException($"config.yaml: model_metadata.clip: {e.Message}", e);
        }
    }

    private static string DeviceFromEnvironment(string value)
    {
        var device = value.Trim().ToLowerInvariant();
        return Array.IndexOf(Devices, device) >= 0
            ? device
            : throw new TrussConfigException($"${ExecutionDeviceVariable} must be one of {string.Join(", ", Devices)}, got '{value}'");
    }

    /// <summary>
    /// <c>execution.cuda</c>: <c>arena_extend_strategy</c>, <c>cudnn_conv_algo_search</c>, <c>gpu_mem_limit_bytes</c>,
    /// checked here so a typo fails at startup rather than on the GPU host.
    /// </summary>
    private static Dictionary<string, string> CudaOptions(ConfigSection cuda)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        if (cuda.Has("arena_extend_strategy"))
        {
            options["arena_extend_strategy"] = cuda.GetChoice("arena_extend_strategy", "kNextPowerOfTwo", "kNextPowerOfTwo", "kSameAsRequested");
        }

        if (cuda.Has("cudnn_conv_algo_search"))
        {
            options["cudnn_conv_algo_search"] = cuda.GetChoice("cudnn_conv_algo_search", "EXHAUSTIVE", "EXHAUSTIVE", "HEURISTIC", "DEFAULT");
        }

        if (cuda.Has("gpu_mem_limit_bytes"))
        {
            options["gpu_mem_limit"] = cuda.GetInt64("gpu_mem_limit_bytes", 0, min: 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // ORT's CUDA provider runs fp32 matrix products in TF32 unless told not to (faster, ~1e-3 relative error).
        if (cuda.Has("use_tf32"))
        {
            options["use_tf32"] = cuda.GetBoolean("use_tf32", true) ? "1" : "0";
        }

        return options;
    }

    private static string? FirstNonEmpty(params string?[] values)
    {
        foreach (var value in values)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value;
            }
        }

        return null;
    }

    private static float[]? ToFloats(double[]? values)
    {
        if (values is null)
        {
            return null;
        }

        var floats = new float[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            floats[i] = (float)values[i];
        }

        return floats;
    }
}
