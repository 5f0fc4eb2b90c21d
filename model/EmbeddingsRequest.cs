using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip;

/// <summary>How <c>/v1/embeddings</c> writes each vector (OpenAI's <c>encoding_format</c>).</summary>
internal enum EmbeddingEncoding
{
    /// <summary>A JSON list of numbers (the default).</summary>
    Float,

    /// <summary>One base64 string of the vector's little-endian float32 bytes, as OpenAI's API sends it.</summary>
    Base64,
}

/// <summary>
/// A validated <c>POST /v1/embeddings</c> request: OpenAI's body (<c>input</c>, <c>model</c>,
/// <c>encoding_format</c>, <c>dimensions</c>, <c>user</c>) plus infinity's <c>modality</c> for images. Exactly one
/// of <see cref="Texts"/> and <see cref="Images"/> is set. Every rejection is a <see cref="ModelInputException"/>
/// that names the field and the rule, with the status convention of predict: 400 for a wrong type or shape, 422 for
/// a well-typed value that breaks a rule, 413 for a size limit.
/// </summary>
/// <remarks>
/// Choices where the APIs leave room:
/// <list type="bullet">
/// <item><c>input</c> as token-id arrays (OpenAI accepts <c>[1, 2]</c> and <c>[[1, 2]]</c>) is refused with 400:
/// clients make those ids with tiktoken, whose ids mean nothing to CLIP's vocabulary, so serving them would return
/// confident nonsense. LangChain sends them unless told not to; the message says how.</item>
/// <item>Texts longer than the model's context (77 tokens for CLIP) are truncated, as the engine does for labels
/// and as <c>clip.tokenize(truncate=True)</c> does; usage counts the tokens actually read.</item>
/// <item><c>dimensions</c> must equal the model's embedding size: CLIP was not trained to be truncated
/// (Matryoshka-style), so a shortened vector would quietly lose quality.</item>
/// <item><c>model</c> is not checked, only echoed back as the served name: a deployment serves one model, truss
/// ignores the model name in its URLs too, and OpenAI clients insist on sending some name.</item>
/// <item>An empty string is refused (as OpenAI does); a blank one is embedded like any other text.</item>
/// <item>Unknown fields are ignored, as pydantic does for infinity and as predict does.</item>
/// </list>
/// </remarks>
internal sealed record EmbeddingsRequest(IReadOnlyList<string>? Texts, IReadOnlyList<ImageSource>? Images, EmbeddingEncoding EncodingFormat)
{
    private const string InputShape =
        "a string or a list of strings (texts; with \"modality\": \"image\", image URLs or data:image/...;base64 URIs)";

    private const string TokenArraysRefused =
        "`input` holds token ids, which this server does not accept: it tokenizes text with the CLIP model's own " +
        "tokenizer, and ids from another tokenizer (such as tiktoken) would give meaningless embeddings. Send the " +
        "text itself (LangChain: OpenAIEmbeddings(check_embedding_ctx_length=False)).";

    /// <summary>Validates <paramref name="input"/> for a model whose embeddings have <paramref name="dimensions"/> values.</summary>
    public static EmbeddingsRequest Parse(object? input, RequestLimits limits, int dimensions)
    {
        if (input is not OrderedDictionary<string, object?> fields)
        {
            throw new ModelInputException($"The request body must be a JSON object with `input`: {InputShape}.");
        }

        var images = ParseModality(Materialized(fields.GetValueOrDefault("modality")));
        var encoding = ParseEncoding(Materialized(fields.GetValueOrDefault("encoding_format")));
        CheckDimensions(fields.GetValueOrDefault("dimensions"), dimensions);
        CheckOptionalString(fields, "model");
        CheckOptionalString(fields, "user");

        var items = ParseInput(fields.GetValueOrDefault("input"), images ? limits.MaxBatchImages : limits.MaxEmbeddingInputs, images);
        return images
            ? new EmbeddingsRequest(null, ParseImages(items), encoding)
            : new EmbeddingsRequest(ParseTexts(items, limits.MaxEmbeddingInputLength), null, encoding);
    }

    /// <summary>True for images; infinity's field, "text" when absent.</summary>
    private static bool ParseModality(object? value) => value switch
    {
        null or "text" => false,
        "image" => true,
        "audio" => throw new ModelInputException(
            "`modality` \"audio\" is not supported: a CLIP model embeds \"text\" and \"image\".", 422),
        string other => throw new ModelInputException(
            $"`modality` must be \"text\" or \"image\", got \"{Truncate(other)}\".", 422),
        _ => throw new ModelInputException("`modality` must be a string: \"text\" or \"image\"."),
    };

    private static EmbeddingEncoding ParseEncoding(object? value) => value switch
    {
        null or "float" => EmbeddingEncoding.Float,
        "base64" => EmbeddingEncoding.Base64,
        string other => throw new ModelInputException(
            $"`encoding_format` must be \"float\" or \"base64\", got \"{Truncate(other)}\".", 422),
        _ => throw new ModelInputException("`encoding_format` must be a string: \"float\" or \"base64\"."),
    };

    private static void CheckDimensions(object? value, int dimensions)
    {
        switch (value)
        {
            case null:
                return;
            case long requested when requested == dimensions:
                return;
            case long requested:
                throw new ModelInputException(
                    $"`dimensions` must be {dimensions}, this model's embedding size (CLIP embeddings cannot be shortened); got {requested}.", 422);
            default:
                throw new ModelInputException($"`dimensions` must be an integer ({dimensions} for this model).");
        }
    }

    private static void CheckOptionalString(OrderedDictionary<string, object?> fields, string field)
    {
        if (fields.GetValueOrDefault(field) is not (null or string or Utf8Text))
        {
            throw new ModelInputException($"`{field}` must be a string.");
        }
    }

    /// <summary>
    /// The items of <c>input</c> with the field name each error should use: a lone string is <c>input</c>, list
    /// items are <c>input[i]</c>.
    /// </summary>
    private static (object Value, string Field)[] ParseInput(object? value, int maxCount, bool images)
    {
        var items = value switch
        {
            null => throw new ModelInputException($"Missing `input`: send {InputShape}."),
            string or byte[] or Utf8Text => null,
            long => throw new ModelInputException(TokenArraysRefused),
            List<object?> list => list,
            _ => throw new ModelInputException($"`input` must be {InputShape}."),
        };
        if (items is null)
        {
            return [(value!, "input")];
        }

        if (items.Count == 0)
        {
            throw new ModelInputException("`input` must not be empty.", 422);
        }

        // OpenAI's token-id forms: [1, 2, 3] and [[1, 2], [3]].
        if (items[0] is long || items[0] is List<object?> { Count: > 0 } nested && nested[0] is long)
        {
            throw new ModelInputException(TokenArraysRefused);
        }

        if (items.Count > maxCount)
        {
            var key = images ? "max_batch_images" : "max_embedding_inputs";
            throw new ModelInputException(
                $"`input` has {items.Count} entries; the limit is {maxCount} (model_metadata.clip.limits.{key}).", 413);
        }

        var parsed = new (object Value, string Field)[items.Count];
        for (var i = 0; i < parsed.Length; i++)
        {
            parsed[i] = items[i] switch
            {
                string or byte[] or Utf8Text => (items[i]!, $"input[{i}]"),
                long or List<object?> => throw new ModelInputException(TokenArraysRefused),
                _ => throw new ModelInputException($"`input[{i}]` must be a string."),
            };
        }

        return parsed;
    }

    private static string[] ParseTexts((object Value, string Field)[] items, int maxLength)
    {
        var texts = new string[items.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            var (value, field) = items[i];

            // Long texts arrive as views of the body (see Model.Utf8TextMinBytes); texts are strings from here on.
            texts[i] = (value is Utf8Text view ? view.ToString() : value) switch
            {
                string { Length: 0 } => throw new ModelInputException($"`{field}` is an empty string.", 422),
                string { Length: var n } when n > maxLength => throw new ModelInputException(
                    $"`{field}` has {n} characters; the limit is {maxLength} (model_metadata.clip.limits.max_embedding_input_length).", 413),
                string text => text,
                _ => throw new ModelInputException($"`{field}` must be a string."),
            };
        }

        return texts;
    }

    /// <summary>
    /// Image inputs as infinity takes them: an http(s) URL (fetched later through <c>ImageFetcher</c> and its
    /// guard) or a <c>data:image/...;base64,</c> URI; in msgpack mode also the encoded bytes themselves.
    /// </summary>
    private static ImageSource[] ParseImages((object Value, string Field)[] items)
    {
        var images = new ImageSource[items.Length];
        for (var i = 0; i < images.Length; i++)
        {
            var (value, field) = items[i];

            // A data: URI stays a view of the body (decoded from there); any other long string becomes a string.
            images[i] = (value is Utf8Text text && !InlineImage.IsDataUri(text) ? text.ToString() : value) switch
            {
                byte[] bytes => ImageSource.FromInline(bytes, field),
                Utf8Text view when InlineImage.IsDataUri(view) => ImageSource.FromUrl(view, field),
                string { Length: 0 } => throw new ModelInputException($"`{field}` is an empty string.", 422),
                string url when url.StartsWith("data:", StringComparison.OrdinalIgnoreCase) => ImageSource.FromUrl(url, field),
                string url when ImageSource.IsHttpUrl(url, out _) => ImageSource.FromUrl(url, field),
                _ => throw new ModelInputException(
                    $"`{field}` must be an http:// or https:// URL or a data:image/<type>;base64,<data> URI when `modality` is \"image\"."),
            };
        }

        return images;
    }

    /// <summary>Long strings arrive as <see cref="Utf8Text"/> views (see Model.Utf8TextMinBytes); scalar fields want strings.</summary>
    private static object? Materialized(object? value) => value is Utf8Text text ? text.ToString() : value;

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
