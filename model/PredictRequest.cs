using Clip;
using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip;

/// <summary>
/// The predict request, validated. The seed API's <c>{"labels": [...], "image" | "image_url": ...}</c>, plus
/// <c>image_base64</c>, a batch form <c>"images": [{...}, ...]</c> (one predictions entry per image, in order),
/// per-request <c>templates</c> and <c>top_k</c>. Every rejection is a <see cref="ModelInputException"/> whose message
/// names the field and the rule, never the 200-with-an-error that the Python CLIP truss returns: 400 for a wrong
/// type or shape, 422 for a well-typed value that breaks a rule, 413 for a size limit. Ambiguous input (two image
/// fields) is rejected, not guessed.
/// </summary>
internal sealed record PredictRequest(
    IReadOnlyList<string> Labels,
    IReadOnlyList<ImageSource> Images,
    IReadOnlyList<string>? Templates,
    int? TopK)
{
    private static readonly string[] ImageFields = ["image", "image_url", "image_base64"];

    /// <summary>Validates <paramref name="input"/> against <paramref name="limits"/>.</summary>
    public static PredictRequest Parse(object? input, RequestLimits limits)
    {
        if (input is not OrderedDictionary<string, object?> fields)
        {
            throw new ModelInputException(
                "The request body must be a JSON object with `labels` and one of `image`, `image_url`, `image_base64` or `images`.");
        }

        var labels = ParseLabels(fields.GetValueOrDefault("labels"), limits);
        var images = fields.GetValueOrDefault("images") is { } batch
            ? ParseBatch(batch, fields, limits)
            : [ParseImage(fields, "", "")];
        return new PredictRequest(
            labels,
            images,
            ParseTemplates(fields.GetValueOrDefault("templates"), limits),
            ParseTopK(fields.GetValueOrDefault("top_k"), labels.Length));
    }

    private static ImageSource[] ParseBatch(object batch, OrderedDictionary<string, object?> fields, RequestLimits limits)
    {
        foreach (var field in ImageFields)
        {
            if (fields.GetValueOrDefault(field) is not null)
            {
                throw new ModelInputException($"Send either `images` or `{field}`, not both.");
            }
        }

        if (batch is not List<object?> list)
        {
            throw new ModelInputException("`images` must be a list of objects, each with one of `image`, `image_url` or `image_base64`.");
        }

        if (list.Count == 0)
        {
            throw new ModelInputException("`images` must not be empty.", 422);
        }

        if (list.Count > limits.MaxBatchImages)
        {
            throw new ModelInputException(
                $"`images` has {list.Count} entries; the limit is {limits.MaxBatchImages} (model_metadata.clip.limits.max_batch_images).", 413);
        }

        var images = new ImageSource[list.Count];
        for (var i = 0; i < images.Length; i++)
        {
            images[i] = list[i] is OrderedDictionary<string, object?> item
                ? ParseImage(item, $"images[{i}].", $" in `images[{i}]`")
                : throw new ModelInputException($"`images[{i}]` must be an object with one of `image`, `image_url` or `image_base64`.");
        }

        return images;
    }

    private static ImageSource ParseImage(OrderedDictionary<string, object?> fields, string prefix, string where)
    {
        var image = fields.GetValueOrDefault("image");
        var url = fields.GetValueOrDefault("image_url");
        var base64 = fields.GetValueOrDefault("image_base64");
        var sources = (image is null ? 0 : 1) + (url is null ? 0 : 1) + (base64 is null ? 0 : 1);
        if (sources != 1)
        {
            throw new ModelInputException(sources == 0
                ? $"Missing image{where}: send `image` (an H×W×3 array of integers 0-255), `image_url` or `image_base64`."
                : $"Send exactly one of `image`, `image_url` or `image_base64`{where}.");
        }

        if (url is not null and not (string { Length: > 0 } or Utf8Text))
        {
            throw new ModelInputException($"`{prefix}image_url` must be a non-empty string.");
        }

        if (url is not null)
        {
            return ImageSource.FromUrl(url, prefix + "image_url");
        }

        return image is not null
            ? new ImageSource(prefix + "image", image, null, null)
            : ImageSource.FromInline(base64, prefix + "image_base64");
    }

    private static string[] ParseLabels(object? value, RequestLimits limits)
    {
        var labels = ParseStrings(value, "labels", limits.MaxLabels, limits.MaxLabelLength, "max_labels", "max_label_length", required: true)!;
        return labels;
    }

    private static string[]? ParseTemplates(object? value, RequestLimits limits)
    {
        var templates = ParseStrings(value, "templates", limits.MaxTemplates, limits.MaxLabelLength, "max_templates", "max_label_length", required: false);
        if (templates is null)
        {
            return null;
        }

        try
        {
            ClipEngineOptions.ValidateTemplates(templates);
        }
        catch (ArgumentException e)
        {
            throw new ModelInputException($"`templates`: {e.Message.Split(" (Parameter", 2)[0]}", 422);
        }

        return templates;
    }

    private static string[]? ParseStrings(
        object? value, string field, int maxCount, int maxLength, string countKey, string lengthKey, bool required)
    {
        if (value is null)
        {
            return required ? throw new ModelInputException($"Missing `{field}`: send a non-empty list of strings.") : null;
        }

        if (value is not List<object?> list)
        {
            throw new ModelInputException($"`{field}` must be a list of strings.");
        }

        if (list.Count == 0)
        {
            throw new ModelInputException($"`{field}` must not be empty.", 422);
        }

        if (list.Count > maxCount)
        {
            throw new ModelInputException(
                $"`{field}` has {list.Count} entries; the limit is {maxCount} (model_metadata.clip.limits.{countKey}).", 413);
        }

        var strings = new string[list.Count];
        for (var i = 0; i < strings.Length; i++)
        {
            // Very long strings arrive as views of the body (Model opts in for base64 images); labels are strings.
            var item = list[i] is Utf8Text view ? view.ToString() : list[i];
            strings[i] = item switch
            {
                string { Length: 0 } => throw new ModelInputException($"`{field}[{i}]` is empty.", 422),
                string { Length: var n } when n > maxLength => throw new ModelInputException(
                    $"`{field}[{i}]` has {n} characters; the limit is {maxLength} (model_metadata.clip.limits.{lengthKey}).", 413),
                string text when string.IsNullOrWhiteSpace(text) => throw new ModelInputException($"`{field}[{i}]` is blank.", 422),
                string text => text,
                _ => throw new ModelInputException($"`{field}[{i}]` must be a string."),
            };
        }

        return strings;
    }

    private static int? ParseTopK(object? value, int labelCount) => value switch
    {
        null => null,
        long k and >= 1 when k <= labelCount => (int)k,
        long => throw new ModelInputException($"`top_k` must be between 1 and the number of labels ({labelCount}).", 422),
        _ => throw new ModelInputException("`top_k` must be an integer."),
    };
}

/// <summary>Request-size limits, from <c>model_metadata.clip.limits</c>.</summary>
/// <param name="MaxLabels">Labels per predict request.</param>
/// <param name="MaxLabelLength">Characters per label or template.</param>
/// <param name="MaxBatchImages">Images per predict batch, and per <c>/v1/embeddings</c> request.</param>
/// <param name="MaxTemplates">Templates per predict request.</param>
/// <param name="MaxEmbeddingInputs">Texts per <c>/v1/embeddings</c> request (2048, as OpenAI and infinity).</param>
/// <param name="MaxEmbeddingInputLength">Characters per <c>/v1/embeddings</c> text.</param>
internal sealed record RequestLimits(
    int MaxLabels,
    int MaxLabelLength,
    int MaxBatchImages = 32,
    int MaxTemplates = 16,
    int MaxEmbeddingInputs = 2048,
    int MaxEmbeddingInputLength = 32768);
