using Truss.Server;

namespace Truss.Clip;

/// <summary>
/// The seed API's request, validated: <c>{"labels": [...], "image": H×W×3 list}</c> or
/// <c>{"labels": [...], "image_url": "..."}</c>. Every rejection is a <see cref="ModelInputException"/> whose message
/// names the field and the rule (answered 4xx), never the 200-with-an-error that the Python CLIP truss returns.
/// </summary>
internal sealed record PredictRequest(IReadOnlyList<string> Labels, object? PixelArray, string? ImageUrl)
{
    /// <summary>Validates <paramref name="input"/> against <paramref name="limits"/>.</summary>
    public static PredictRequest Parse(object? input, RequestLimits limits)
    {
        if (input is not OrderedDictionary<string, object?> fields)
        {
            throw new ModelInputException(
                "The request body must be a JSON object with `labels` and one of `image` or `image_url`.");
        }

        var labels = ParseLabels(fields.GetValueOrDefault("labels"), limits);
        var hasImage = fields.TryGetValue("image", out var image) && image is not null;
        var hasUrl = fields.TryGetValue("image_url", out var url) && url is not null;
        if (hasImage == hasUrl)
        {
            throw new ModelInputException(hasImage
                ? "Send exactly one of `image` or `image_url`, not both."
                : "Missing image: send `image` (an H×W×3 array of integers 0-255) or `image_url`.");
        }

        if (hasUrl && url is not string { Length: > 0 })
        {
            throw new ModelInputException("`image_url` must be a non-empty string.");
        }

        return new PredictRequest(labels, image, url as string);
    }

    private static string[] ParseLabels(object? value, RequestLimits limits)
    {
        if (value is null)
        {
            throw new ModelInputException("Missing `labels`: send a non-empty list of strings.");
        }

        if (value is not List<object?> list)
        {
            throw new ModelInputException("`labels` must be a list of strings.");
        }

        if (list.Count == 0)
        {
            throw new ModelInputException("`labels` must not be empty.");
        }

        if (list.Count > limits.MaxLabels)
        {
            throw new ModelInputException(
                $"`labels` has {list.Count} entries; the limit is {limits.MaxLabels} (model_metadata.clip.limits.max_labels).", 413);
        }

        var labels = new string[list.Count];
        for (var i = 0; i < labels.Length; i++)
        {
            labels[i] = list[i] switch
            {
                string { Length: 0 } => throw new ModelInputException($"`labels[{i}]` is empty."),
                string { Length: var n } when n > limits.MaxLabelLength => throw new ModelInputException(
                    $"`labels[{i}]` has {n} characters; the limit is {limits.MaxLabelLength} " +
                    "(model_metadata.clip.limits.max_label_length).", 413),
                string label when string.IsNullOrWhiteSpace(label) => throw new ModelInputException($"`labels[{i}]` is blank."),
                string label => label,
                _ => throw new ModelInputException($"`labels[{i}]` must be a string."),
            };
        }

        return labels;
    }
}

/// <summary>Request-size limits, from <c>model_metadata.clip.limits</c>.</summary>
internal sealed record RequestLimits(int MaxLabels, int MaxLabelLength);
