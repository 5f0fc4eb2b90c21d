namespace Clip.Inference;

/// <summary>
/// Everything <see cref="ClipModel.Load"/> discovered about a model: both towers, plus the preprocessing and
/// tokenization values from the sidecar JSON files (or the CLIP defaults where no sidecar says otherwise). The
/// image preprocessing and the tokenizer are configured from these; they are not applied by the towers. Immutable.
/// </summary>
public sealed record ClipModelDescriptor
{
    /// <summary>OpenAI CLIP per-channel mean (openai/CLIP:clip/clip.py <c>_transform</c>), used without a sidecar.</summary>
    public static IReadOnlyList<float> OpenAiMean { get; } = [0.48145466f, 0.4578275f, 0.40821073f];

    /// <summary>OpenAI CLIP per-channel standard deviation, used without a sidecar.</summary>
    public static IReadOnlyList<float> OpenAiStd { get; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>The layout the files were read as.</summary>
    public required ClipModelLayout Layout { get; init; }

    /// <summary>The model directory as a full path.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>The image tower.</summary>
    public required ImageTowerDescriptor Image { get; init; }

    /// <summary>The text tower.</summary>
    public required TextTowerDescriptor Text { get; init; }

    /// <summary>Length of an embedding; both towers agree on it (checked at load).</summary>
    public required int EmbeddingDim { get; init; }

    /// <summary>Side length in pixels of the square, cropped image the image tower takes (224 for ViT-B/32).</summary>
    public required int ImageSize { get; init; }

    /// <summary>Target in pixels of the resize before the crop (HF <c>size.shortest_edge</c>); usually <see cref="ImageSize"/>.</summary>
    public required int ResizeSize { get; init; }

    /// <summary>How the sidecar says to resize (default <see cref="ImageResizeMode.Shortest"/>).</summary>
    public required ImageResizeMode ResizeMode { get; init; }

    /// <summary>The resampling filter the sidecar asks for (default <see cref="ImageInterpolation.Bicubic"/>).</summary>
    public required ImageInterpolation Interpolation { get; init; }

    /// <summary>Whether the resized image is center-cropped to <see cref="ImageSize"/> (default <see langword="true"/>).</summary>
    public required bool CenterCrop { get; init; }

    /// <summary>Per-channel RGB mean applied after scaling pixels to [0, 1]; 3 values.</summary>
    public required IReadOnlyList<float> ImageMean { get; init; }

    /// <summary>Per-channel RGB standard deviation; 3 positive values.</summary>
    public required IReadOnlyList<float> ImageStd { get; init; }

    /// <summary>Maximum ids per text including SOT and EOT (default 77); the tokenizer truncates to it.</summary>
    public required int ContextLength { get; init; }

    /// <summary>
    /// Whether rows are padded with the EOT id (HF and Immich tokenizers: <c>pad_token</c> is
    /// <c>&lt;|endoftext|&gt;</c>) rather than 0 (openai/CLIP, open_clip, or no tokenizer sidecar). The text encoder
    /// applies this itself; it is reported so a tokenizer can match it.
    /// </summary>
    public required bool PadWithEndOfText { get; init; }

    /// <summary>Text vocabulary size from the sidecar, or <see langword="null"/> when no sidecar states it. Ids must be below it.</summary>
    public required int? VocabSize { get; init; }

    /// <summary>Sidecar JSON files that were read, relative to <see cref="ModelDirectory"/>.</summary>
    public required IReadOnlyList<string> SidecarFiles { get; init; }
}
