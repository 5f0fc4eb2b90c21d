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
        var image = fields.GetValueOrDefault("image");
        var url = fields.GetValueOrDefault("image_url");
        var base64 = fields.GetValueOrDefault("image_base64");
        var sources = (image is null ? 0 : 1) + (url is null ? 0 : 1) + (base64 is null ? 0 : 1);
        if (sources != 1)
        {
            throw new ModelInputException(sources == 0
                ? "Missing image: send `image` (an H×W×3 array of integers 0-255), `image_url` or `image_base64`."
                : "Send exactly one of `image`, `image_url` or `image_base64`.");
        }

        if (url is not null and not string { Length: > 0 })
        {
            throw new ModelInputException("`image_url` must be a non-empty string.");
        }

        return new PredictRequest(labels, image, url as string) { ImageBytes = base64 is null ? null : DecodeBase64(base64) };
    }

    /// <summary>Encoded image bytes from <c>image_base64</c> (raw base64 or a <c>data:image/...;base64,</c> URI).</summary>
    public byte[]? ImageBytes { get; init; }

    private static byte[] DecodeBase64(object value)
    {
        if (value is byte[] raw)
        {
            return raw; // msgpack mode carries the bytes themselves
        }

        if (value is not string { Length: > 0 } text)
        {
            throw new ModelInputException("`image_base64` must be a non-empty base64 string or a data: URI.");
        }

        if (text.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = text.IndexOf(',');
            if (comma < 0 || !text.AsSpan(0, comma).EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelInputException("`image_base64` data URIs must be of the form data:image/<type>;base64,<data>.");
            }

            text = text[(comma + 1)..];
        }

        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new ModelInputException("`image_base64` is not valid base64.");
        }
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
