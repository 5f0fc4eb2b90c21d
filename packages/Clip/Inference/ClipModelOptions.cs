namespace Clip.Inference;

/// <summary>
/// Where a CLIP model's ONNX files are and how to run them. Single values are checked as they are set (an
/// <see cref="ArgumentException"/> whose <see cref="ArgumentException.ParamName"/> is the option's name); the
/// combinations are checked by <see cref="ClipModel.Load"/>. Immutable once built; safe to share.
/// </summary>
public sealed class ClipModelOptions
{
    /// <summary>
    /// The model directory. Layout detection, relative model paths and sidecar JSON files (image size, mean/std,
    /// context length, pad token) are all resolved against it.
    /// </summary>
    public required string ModelDirectory
    {
        get;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(ModelDirectory));
            field = value;
        }
    }

    /// <summary>
    /// The layout to use; <see langword="null"/> (default) detects it from the files in
    /// <see cref="ModelDirectory"/>. The layout picks default file names, tensor names and sidecar files.
    /// </summary>
    public ClipModelLayout? Layout
    {
        get;
        init
        {
            if (value is { } layout && !Enum.IsDefined(layout))
            {
                throw new ArgumentOutOfRangeException(nameof(Layout), value, "Unknown ClipModelLayout value.");
            }

            field = value;
        }
    }

    /// <summary>
    /// File variant suffix for the Split and Combined layouts, e.g. <c>fp16</c> or <c>quantized</c> selects
    /// <c>onnx/vision_model_fp16.onnx</c> + <c>onnx/text_model_fp16.onnx</c> (or <c>model_fp16.onnx</c>).
    /// <see langword="null"/> (default) selects the plain fp32 files. Letters, digits and underscores only.
    /// </summary>
    public string? ModelFileVariant
    {
        get;
        init
        {
            if (value is not null && (value.Length == 0 || !IsVariantText(value)))
            {
                throw new ArgumentException(
                    $"ClipModelOptions.ModelFileVariant must be letters, digits or '_' (e.g. \"fp16\"); got \"{value}\".",
                    nameof(ModelFileVariant));
            }

            field = value;
        }
    }

    /// <summary>
    /// Explicit image tower file (absolute, or relative to <see cref="ModelDirectory"/>); overrides the layout's
    /// default. Setting both this and <see cref="TextModelPath"/> without <see cref="Layout"/> implies
    /// <see cref="ClipModelLayout.Split"/> defaults for tensor names.
    /// </summary>
    public string? ImageModelPath { get; init => field = NullOrNonBlank(value, nameof(ImageModelPath)); }

    /// <summary>Explicit text tower file (absolute, or relative to <see cref="ModelDirectory"/>).</summary>
    public string? TextModelPath { get; init => field = NullOrNonBlank(value, nameof(TextModelPath)); }

    /// <summary>Explicit single-graph file for <see cref="ClipModelLayout.Combined"/>; implies that layout.</summary>
    public string? CombinedModelPath { get; init => field = NullOrNonBlank(value, nameof(CombinedModelPath)); }

    /// <summary>Pixel input tensor name; <see langword="null"/> uses the layout default (<c>pixel_values</c> or <c>image</c>).</summary>
    public string? ImageInputName { get; init => field = NullOrNonBlank(value, nameof(ImageInputName)); }

    /// <summary>Image embedding output name; <see langword="null"/> uses the layout default (<c>image_embeds</c> or <c>embedding</c>).</summary>
    public string? ImageOutputName { get; init => field = NullOrNonBlank(value, nameof(ImageOutputName)); }

    /// <summary>Token id input name; <see langword="null"/> uses the layout default (<c>input_ids</c>, or <c>text</c> for Immich).</summary>
    public string? TextInputName { get; init => field = NullOrNonBlank(value, nameof(TextInputName)); }

    /// <summary>
    /// Attention mask input name; <see langword="null"/> feeds <c>attention_mask</c> when the text graph has that
    /// input and no mask otherwise.
    /// </summary>
    public string? TextAttentionMaskName { get; init => field = NullOrNonBlank(value, nameof(TextAttentionMaskName)); }

    /// <summary>Text embedding output name; <see langword="null"/> uses the layout default (<c>text_embeds</c> or <c>embedding</c>).</summary>
    public string? TextOutputName { get; init => field = NullOrNonBlank(value, nameof(TextOutputName)); }

    /// <summary>
    /// Try the CUDA execution provider first (default <see langword="false"/>). When CUDA cannot be used, the
    /// sessions run on CPU and one warning is logged; the provider actually used is reported per tower.
    /// </summary>
    public bool UseCuda { get; init; }

    /// <summary>CUDA device ordinal used when <see cref="UseCuda"/> is set (default 0).</summary>
    public int CudaDeviceId
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(CudaDeviceId));
            field = value;
        }
    }

    /// <summary>
    /// Extra CUDA execution provider options, in ONNX Runtime's own names, e.g. <c>arena_extend_strategy</c>
    /// (<c>kNextPowerOfTwo</c> | <c>kSameAsRequested</c>), <c>cudnn_conv_algo_search</c> (<c>EXHAUSTIVE</c> |
    /// <c>HEURISTIC</c> | <c>DEFAULT</c>), <c>gpu_mem_limit</c> (bytes), <c>do_copy_in_default_stream</c>. Empty by
    /// default (ORT's defaults). <c>device_id</c> always comes from <see cref="CudaDeviceId"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string> CudaProviderOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Run the image tower through ONNX Runtime's I/O binding: ONNX Runtime writes float32 embeddings straight into
    /// the caller's buffer instead of allocating an output tensor that is then copied, and on CUDA the output's
    /// device-to-host copy lands there. <see langword="null"/> (default) uses it on CUDA only: on CPU there is no copy
    /// worth saving, and BenchmarkDotNet runs of the embedded model's tower at batch 8 were not faster with it.
    /// Both ways give identical embeddings (tested). Fixed-batch and float16-output graphs always use plain runs.
    /// </summary>
    public bool? UseIoBinding { get; init; }

    /// <summary>Threads ONNX Runtime uses inside one operator; 0 (default) lets ONNX Runtime choose.</summary>
    public int IntraOpThreads
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(IntraOpThreads));
            field = value;
        }
    }

    /// <summary>
    /// Threads ONNX Runtime uses to run independent operators concurrently; 0 (default) lets ONNX Runtime choose.
    /// A value above 1 also switches the session to parallel execution mode, the only mode that uses them.
    /// </summary>
    public int InterOpThreads
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(InterOpThreads));
            field = value;
        }
    }

    /// <summary>Checks the combinations of options; the single values were checked when they were set.</summary>
    /// <exception cref="ArgumentException">Two options contradict each other; the message names both.</exception>
    internal void Validate()
    {
        bool towerPaths = ImageModelPath is not null || TextModelPath is not null;
        if (CombinedModelPath is not null && towerPaths)
        {
            throw new ArgumentException(
                "ClipModelOptions.CombinedModelPath cannot be combined with ImageModelPath/TextModelPath: a combined " +
                "graph holds both towers.",
                nameof(CombinedModelPath));
        }

        if (Layout == ClipModelLayout.Combined && towerPaths)
        {
            throw new ArgumentException(
                "ClipModelOptions.Layout is Combined, which has one file: set CombinedModelPath instead of " +
                "ImageModelPath/TextModelPath.",
                nameof(Layout));
        }

        if (Layout is ClipModelLayout.Split or ClipModelLayout.Immich && CombinedModelPath is not null)
        {
            throw new ArgumentException(
                $"ClipModelOptions.Layout is {Layout}, which has two files: set ImageModelPath/TextModelPath " +
                "instead of CombinedModelPath.",
                nameof(Layout));
        }

        if (Layout == ClipModelLayout.Immich && ModelFileVariant is not null)
        {
            throw new ArgumentException(
                "ClipModelOptions.ModelFileVariant applies to the Split and Combined layouts only; Immich ships a " +
                "single ONNX file per tower.",
                nameof(ModelFileVariant));
        }
    }

    private static string? NullOrNonBlank(string? value, string optionName)
    {
        if (value is not null && string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException(
                $"ClipModelOptions.{optionName} must be null (use the default) or a non-blank value.", optionName);
        }

        return value;
    }

    private static bool IsVariantText(string value)
    {
        foreach (char c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }
}
