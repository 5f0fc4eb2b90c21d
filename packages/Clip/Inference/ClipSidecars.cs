using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Clip.Inference;

/// <summary>
/// What the JSON files next to the ONNX graphs say about preprocessing and tokenization. Every value is
/// <see langword="null"/> when no sidecar states it; the graph metadata and the CLIP defaults fill the gaps.
/// Read-only after <see cref="Read"/>.
/// </summary>
internal sealed class ClipSidecars
{
    private const string EndOfText = "<|endoftext|>";

    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
    };

    private readonly List<string> _filesRead = [];

    private ClipSidecars()
    {
    }

    /// <summary>Side length of the square image the image tower takes (crop size), in pixels.</summary>
    public int? ImageSize { get; private set; }

    /// <summary>Target of the resize step before the crop (HF <c>size.shortest_edge</c>), in pixels.</summary>
    public int? ResizeSize { get; private set; }

    /// <summary>Resize rule before the crop (HF size {height,width} → squash; open_clip <c>resize_mode</c>).</summary>
    public ImageResizeMode? ResizeMode { get; private set; }

    /// <summary>Resampling filter (HF <c>resample</c>, open_clip <c>interpolation</c>).</summary>
    public ImageInterpolation? Interpolation { get; private set; }

    /// <summary>Whether the resized image is center-cropped to <see cref="ImageSize"/>.</summary>
    public bool? CenterCrop { get; private set; }

    /// <summary>Per-channel RGB mean, 3 values.</summary>
    public float[]? Mean { get; private set; }

    /// <summary>Per-channel RGB standard deviation, 3 values.</summary>
    public float[]? Std { get; private set; }

    /// <summary>Maximum ids per text (HF <c>max_position_embeddings</c>, open_clip <c>context_length</c>).</summary>
    public int? ContextLength { get; private set; }

    /// <summary>Whether the tokenizer pads with <c>&lt;|endoftext|&gt;</c>; <see langword="null"/> when no tokenizer config names a pad token.</summary>
    public bool? PadWithEndOfText { get; private set; }

    /// <summary>Text vocabulary size (HF <c>text_config.vocab_size</c>, open_clip <c>text_cfg.vocab_size</c>).</summary>
    public int? VocabSize { get; private set; }

    /// <summary>Embedding dim the config claims (HF <c>projection_dim</c>, open_clip <c>embed_dim</c>).</summary>
    public int? EmbeddingDim { get; private set; }

    /// <summary>Sidecar files that were found and read, relative to the model directory.</summary>
    public IReadOnlyList<string> FilesRead => _filesRead;

    /// <summary>Reads the sidecars a layout ships; absent files are skipped.</summary>
    /// <exception cref="ClipModelException">A sidecar exists but is not valid JSON or has a value of the wrong type.</exception>
    public static ClipSidecars Read(string modelDirectory, ClipModelLayout layout, ILogger logger)
    {
        var sidecars = new ClipSidecars();
        if (layout == ClipModelLayout.Immich)
        {
            sidecars.ReadFile(modelDirectory, "config.json", sidecars.ReadOpenClipConfig, logger);
            sidecars.ReadFile(modelDirectory, "visual/preprocess_cfg.json", sidecars.ReadImmichPreprocess, logger);
            sidecars.ReadFile(modelDirectory, "textual/tokenizer_config.json", sidecars.ReadTokenizerConfig, logger);
        }
        else
        {
            sidecars.ReadFile(modelDirectory, "config.json", sidecars.ReadHfConfig, logger);
            sidecars.ReadFile(modelDirectory, "preprocessor_config.json", sidecars.ReadHfPreprocessor, logger);
            sidecars.ReadFile(modelDirectory, "tokenizer_config.json", sidecars.ReadTokenizerConfig, logger);
        }

        return sidecars;
    }

    private void ReadFile(
        string modelDirectory, string relativePath, Action<JsonElement, string, ILogger> read, ILogger logger)
    {
        string path = Path.Combine(modelDirectory, relativePath);
        if (!File.Exists(path))
        {
            return;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path), JsonOptions);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ClipModelException(
                    $"Sidecar '{path}' must hold a JSON object; found {document.RootElement.ValueKind}.");
            }

            read(document.RootElement, path, logger);
        }
        catch (JsonException e)
        {
            throw new ClipModelException($"Sidecar '{path}' is not valid JSON: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ClipModelException($"Sidecar '{path}' cannot be read: {e.Message}", e);
        }

        _filesRead.Add(relativePath);
    }

    private void ReadHfConfig(JsonElement root, string path, ILogger logger)
    {
        EmbeddingDim = ReadInt(root, "projection_dim", path);
        if (Child(root, "text_config", path) is { } text)
        {
            ContextLength = ReadInt(text, "max_position_embeddings", path);
            VocabSize = ReadInt(text, "vocab_size", path);
        }

        if (Child(root, "vision_config", path) is { } vision)
        {
            ImageSize ??= ReadInt(vision, "image_size", path);
        }
    }

    private void ReadHfPreprocessor(JsonElement root, string path, ILogger logger)
    {
        // HF CLIPImageProcessor: resize (shortest_edge, or exact height/width) → center crop → rescale → normalize.
        // Older configs store plain integers for size and crop_size.
        bool squash = false;
        int? size = null;
        if (root.TryGetProperty("size", out JsonElement sizeElement) && sizeElement.ValueKind == JsonValueKind.Object)
        {
            size = ReadInt(sizeElement, "shortest_edge", path);
            if (size is null)
            {
                size = ReadSquare(sizeElement, path, "size");
                squash = size is not null;
            }
        }
        else
        {
            size = ReadInt(root, "size", path);
        }

        int? crop = root.TryGetProperty("crop_size", out JsonElement cropElement)
            && cropElement.ValueKind == JsonValueKind.Object
                ? ReadSquare(cropElement, path, "crop_size")
                : ReadInt(root, "crop_size", path);

        CenterCrop = ReadBool(root, "do_center_crop", path) ?? true;
        ResizeSize = size;
        ResizeMode = squash ? ImageResizeMode.Squash : ImageResizeMode.Shortest;
        ImageSize = (CenterCrop == true ? crop : null) ?? size ?? ImageSize;
        Mean = ReadTriple(root, "image_mean", path);
        Std = ReadTriple(root, "image_std", path, positive: true);
        if (ReadInt(root, "resample", path) is { } resample)
        {
            // Pillow's filter constants, which HF stores verbatim.
            Interpolation = resample switch
            {
                0 => ImageInterpolation.Nearest,
                1 => ImageInterpolation.Lanczos,
                2 => ImageInterpolation.Bilinear,
                3 => ImageInterpolation.Bicubic,
                _ => Unsupported(logger, path, "resample", resample.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            };
        }
    }

    private void ReadOpenClipConfig(JsonElement root, string path, ILogger logger)
    {
        EmbeddingDim = ReadInt(root, "embed_dim", path);
        if (Child(root, "text_cfg", path) is { } text)
        {
            ContextLength = ReadInt(text, "context_length", path);
            VocabSize = ReadInt(text, "vocab_size", path);
        }

        if (Child(root, "vision_cfg", path) is { } vision)
        {
            ImageSize ??= ReadIntOrSquarePair(vision, "image_size", path);
        }
    }

    private void ReadImmichPreprocess(JsonElement root, string path, ILogger logger)
    {
        // Immich / open_clip PreprocessCfg: size, mean, std, interpolation, resize_mode ("shortest" then crop).
        if (ReadIntOrSquarePair(root, "size", path) is { } size)
        {
            ImageSize = size;
            ResizeSize = size;
        }

        Mean = ReadTriple(root, "mean", path);
        Std = ReadTriple(root, "std", path, positive: true);
        if (ReadString(root, "interpolation", path) is { } interpolation)
        {
            Interpolation = interpolation switch
            {
                "bicubic" => ImageInterpolation.Bicubic,
                "bilinear" => ImageInterpolation.Bilinear,
                "nearest" => ImageInterpolation.Nearest,
                "lanczos" => ImageInterpolation.Lanczos,
                _ => Unsupported(logger, path, "interpolation", interpolation),
            };
        }

        ResizeMode = ReadString(root, "resize_mode", path) switch
        {
            null or "shortest" => ImageResizeMode.Shortest,
            "longest" => ImageResizeMode.Longest,
            "squash" => ImageResizeMode.Squash,
            { } other => UnsupportedResizeMode(logger, path, other),
        };
        CenterCrop = ResizeMode == ImageResizeMode.Shortest;
    }

    private void ReadTokenizerConfig(JsonElement root, string path, ILogger logger)
    {
        // HF and Immich CLIP tokenizers set pad_token = eos_token = <|endoftext|>, so padding repeats the EOT id;
        // openai/CLIP pads with 0. Any other pad token (SDXL's "!") is id 0 in the CLIP vocabulary.
        string? pad = ReadToken(root, "pad_token", path);
        string? eos = ReadToken(root, "eos_token", path);
        if (pad is not null)
        {
            PadWithEndOfText = pad == EndOfText || pad == eos;
        }
    }

    private static ImageInterpolation Unsupported(ILogger logger, string path, string key, string value)
    {
        logger.LogWarning(
            "Sidecar {SidecarPath}: {Key} = {Value} is not a supported interpolation; reporting bicubic instead",
            path, key, value);
        return ImageInterpolation.Bicubic;
    }

    private static ImageResizeMode UnsupportedResizeMode(ILogger logger, string path, string value)
    {
        logger.LogWarning(
            "Sidecar {SidecarPath}: resize_mode = {Value} is not supported; reporting shortest instead", path, value);
        return ImageResizeMode.Shortest;
    }

    private static JsonElement? Child(JsonElement obj, string key, string path)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object ? value : throw WrongType(path, key, "an object", value);
    }

    private static int? ReadInt(JsonElement obj, string key, string path)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result) && result > 0
            ? result
            : throw WrongType(path, key, "a positive integer", value);
    }

    private static bool? ReadBool(JsonElement obj, string key, string path)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(path, key, "true or false", value),
        };
    }

    private static string? ReadString(JsonElement obj, string key, string path)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw WrongType(path, key, "a string", value);
    }

    /// <summary>A special token: a plain string, or an AddedToken object whose text is in <c>content</c>.</summary>
    private static string? ReadToken(JsonElement obj, string key, string path)
    {
        if (obj.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.Object)
        {
            return ReadString(value, "content", path);
        }

        return ReadString(obj, key, path);
    }

    /// <summary>A square <c>{"height": n, "width": n}</c> object (HF size / crop_size).</summary>
    private static int? ReadSquare(JsonElement obj, string path, string key)
    {
        int? height = ReadInt(obj, "height", path);
        int? width = ReadInt(obj, "width", path);
        if (height != width)
        {
            throw new ClipModelException(
                $"Sidecar '{path}': {key} is {height?.ToString() ?? "missing"}x{width?.ToString() ?? "missing"} " +
                "(height x width); only square images are supported.");
        }

        return height;
    }

    /// <summary>An integer, or a square <c>[height, width]</c> pair (open_clip / Immich <c>size</c>).</summary>
    private static int? ReadIntOrSquarePair(JsonElement obj, string key, string path)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind != JsonValueKind.Array)
        {
            return ReadInt(obj, key, path);
        }

        if (value.GetArrayLength() == 2
            && value[0].TryGetInt32(out int height) && value[1].TryGetInt32(out int width)
            && height > 0 && height == width)
        {
            return height;
        }

        throw WrongType(path, key, "a positive integer or a square [height, width] pair", value);
    }

    private static float[]? ReadTriple(JsonElement obj, string key, string path, bool positive = false)
    {
        if (!obj.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 3)
        {
            var result = new float[3];
            for (int i = 0; i < 3; i++)
            {
                if (value[i].ValueKind != JsonValueKind.Number)
                {
                    throw WrongType(path, key, "3 numbers (R, G, B)", value);
                }

                result[i] = value[i].GetSingle();
                if (positive && !(result[i] > 0f))
                {
                    throw WrongType(path, key, "3 positive numbers (R, G, B)", value);
                }
            }

            return result;
        }

        throw WrongType(path, key, "3 numbers (R, G, B)", value);
    }

    private static ClipModelException WrongType(string path, string key, string expected, JsonElement actual) =>
        new($"Sidecar '{path}': \"{key}\" must be {expected}; found {actual.ValueKind} {actual.GetRawText()}.");
}
