using System.Text;
using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.model;

/// <summary>
/// <see cref="EmbeddingsRequest.Parse"/>: OpenAI's body plus infinity's <c>modality</c>; every bad input is a 4xx
/// whose message names the field and the rule.
/// </summary>
/// <remarks>
/// Every case runs twice: with strings as .NET strings, and with every string as a Utf8Text view of the body (what the
/// server hands Model for long strings: long texts and data: URIs), so both representations obey the same rules.
/// </remarks>
[TestFixture(int.MaxValue)]
[TestFixture(1)]
public class EmbeddingsRequestTests(int utf8TextMinBytes)
{
    private const int Dimensions = 32;
    private static readonly RequestLimits Limits = new(MaxLabels: 3, MaxLabelLength: 10, MaxBatchImages: 2, MaxTemplates: 2, MaxEmbeddingInputs: 3, MaxEmbeddingInputLength: 12);

    private EmbeddingsRequest Parse(string json) =>
        EmbeddingsRequest.Parse(JsonPayloadReader.Read(Encoding.UTF8.GetBytes(json).AsMemory(), utf8TextMinBytes: utf8TextMinBytes), Limits, Dimensions);

    [Test]
    public void Parse_SingleString_IsOneTextInFloatFormat()
    {
        var request = Parse("""{"input": "a red circle", "model": "anything"}""");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(request.Texts, Is.EqualTo(new[] { "a red circle" }));
            Assert.That(request.Images, Is.Null);
            Assert.That(request.EncodingFormat, Is.EqualTo(EmbeddingEncoding.Float));
        }
    }

    [Test]
    public void Parse_EveryOptionalField_Accepted()
    {
        var request = Parse("""{"input": ["a", " ", "c"], "model": "clip", "encoding_format": "base64", "dimensions": 32, "user": "u-1", "modality": "text", "extra": [1]}""");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(request.Texts, Is.EqualTo(new[] { "a", " ", "c" }), "a blank text is embedded like any other, as OpenAI does");
            Assert.That(request.EncodingFormat, Is.EqualTo(EmbeddingEncoding.Base64));
        }
    }

    [Test]
    public void Parse_NullOptionalFields_AreDefaults()
    {
        var request = Parse("""{"input": "x", "model": null, "encoding_format": null, "dimensions": null, "user": null, "modality": null}""");

        Assert.That(request.Texts, Is.EqualTo(new[] { "x" }));
    }

    [Test]
    public void Parse_ImageModality_UrlsAndDataUris()
    {
        var request = Parse("""{"modality": "image", "input": ["http://127.0.0.1:9/a.png", "data:image/png;base64,aGVsbG8="]}""");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(request.Texts, Is.Null);
            Assert.That(request.Images!.Select(i => i.Field), Is.EqualTo(new[] { "input[0]", "input[1]" }));
            Assert.That(request.Images![0].Url, Is.EqualTo("http://127.0.0.1:9/a.png"));
            Assert.That(request.Images![1].Inline!.Decode(bytes => bytes.ToArray()), Is.EqualTo("hello"u8.ToArray()), "a data: URI is decoded, never fetched");
        }
    }

    [Test]
    public void Parse_ImageModality_LoneStringIsFieldInput()
    {
        var request = Parse("""{"modality": "image", "input": "https://example.com/cat.jpg"}""");

        Assert.That(request.Images!.Single(), Is.EqualTo(new ImageSource("input", null, "https://example.com/cat.jpg", null)));
    }

    [Test]
    public void Parse_MsgPackBytesAsImage_AreTheEncodedImage()
    {
        var fields = new OrderedDictionary<string, object?> { ["modality"] = "image", ["input"] = new List<object?> { new byte[] { 1, 2, 3 } } };

        var request = EmbeddingsRequest.Parse(fields, Limits, Dimensions);

        Assert.That(request.Images!.Single().Inline!.Decode(bytes => bytes.ToArray()), Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [TestCase("[]", 400, "The request body must be a JSON object with `input`")]
    [TestCase("\"a cat\"", 400, "The request body must be a JSON object with `input`")]
    [TestCase("{}", 400, "Missing `input`: send a string or a list of strings")]
    [TestCase("""{"input": null}""", 400, "Missing `input`")]
    [TestCase("""{"input": {"text": "a"}}""", 400, "`input` must be a string or a list of strings")]
    [TestCase("""{"input": true}""", 400, "`input` must be a string or a list of strings")]
    [TestCase("""{"input": 1.5}""", 400, "`input` must be a string or a list of strings")]
    [TestCase("""{"input": ""}""", 422, "`input` is an empty string.")]
    [TestCase("""{"input": []}""", 422, "`input` must not be empty.")]
    [TestCase("""{"input": ["a", ""]}""", 422, "`input[1]` is an empty string.")]
    [TestCase("""{"input": ["a", null]}""", 400, "`input[1]` must be a string.")]
    [TestCase("""{"input": ["a", 2.5]}""", 400, "`input[1]` must be a string.")]
    [TestCase("""{"input": ["a", {"x": 1}]}""", 400, "`input[1]` must be a string.")]
    [TestCase("""{"input": ["a", "b", "c", "d"]}""", 413, "`input` has 4 entries; the limit is 3 (model_metadata.clip.limits.max_embedding_inputs).")]
    [TestCase("""{"input": "0123456789abc"}""", 413, "`input` has 13 characters; the limit is 12 (model_metadata.clip.limits.max_embedding_input_length).")]
    [TestCase("""{"input": ["a", "0123456789abc"]}""", 413, "`input[1]` has 13 characters; the limit is 12")]
    [TestCase("""{"input": 42}""", 400, "`input` holds token ids, which this server does not accept")]
    [TestCase("""{"input": [1, 2, 3]}""", 400, "`input` holds token ids")]
    [TestCase("""{"input": [[1, 2], [3]]}""", 400, "`input` holds token ids")]
    [TestCase("""{"input": ["a", [1, 2]]}""", 400, "`input` holds token ids")]
    [TestCase("""{"input": [1, 2, 3, 4, 5, 6]}""", 400, "`input` holds token ids", Description = "refused as token ids, not as too many inputs")]
    [TestCase("""{"input": "a", "encoding_format": "binary"}""", 422, "`encoding_format` must be \"float\" or \"base64\", got \"binary\".")]
    [TestCase("""{"input": "a", "encoding_format": "FLOAT"}""", 422, "`encoding_format` must be \"float\" or \"base64\"")]
    [TestCase("""{"input": "a", "encoding_format": 1}""", 400, "`encoding_format` must be a string: \"float\" or \"base64\".")]
    [TestCase("""{"input": "a", "dimensions": 16}""", 422, "`dimensions` must be 32, this model's embedding size (CLIP embeddings cannot be shortened); got 16.")]
    [TestCase("""{"input": "a", "dimensions": 0}""", 422, "`dimensions` must be 32")]
    [TestCase("""{"input": "a", "dimensions": -32}""", 422, "`dimensions` must be 32")]
    [TestCase("""{"input": "a", "dimensions": 32.0}""", 400, "`dimensions` must be an integer (32 for this model).")]
    [TestCase("""{"input": "a", "dimensions": "32"}""", 400, "`dimensions` must be an integer")]
    [TestCase("""{"input": "a", "model": 7}""", 400, "`model` must be a string.")]
    [TestCase("""{"input": "a", "model": ["clip"]}""", 400, "`model` must be a string.")]
    [TestCase("""{"input": "a", "user": {"id": 1}}""", 400, "`user` must be a string.")]
    [TestCase("""{"input": "a", "modality": "audio"}""", 422, "`modality` \"audio\" is not supported: a CLIP model embeds \"text\" and \"image\".")]
    [TestCase("""{"input": "a", "modality": "video"}""", 422, "`modality` must be \"text\" or \"image\", got \"video\".")]
    [TestCase("""{"input": "a", "modality": 1}""", 400, "`modality` must be a string: \"text\" or \"image\".")]
    [TestCase("""{"modality": "image", "input": []}""", 422, "`input` must not be empty.")]
    [TestCase("""{"modality": "image", "input": ""}""", 422, "`input` is an empty string.")]
    [TestCase("""{"modality": "image", "input": ["http://a/1.png", "http://a/2.png", "http://a/3.png"]}""", 413, "`input` has 3 entries; the limit is 2 (model_metadata.clip.limits.max_batch_images).")]
    [TestCase("""{"modality": "image", "input": "a red circle"}""", 400, "`input` must be an http:// or https:// URL or a data:image/<type>;base64,<data> URI when `modality` is \"image\".")]
    [TestCase("""{"modality": "image", "input": ["http://a/1.png", "ftp://a/2.png"]}""", 400, "`input[1]` must be an http:// or https:// URL or a data:image")]
    [TestCase("""{"modality": "image", "input": "/relative/path.png"}""", 400, "`input` must be an http:// or https:// URL")]
    [TestCase("""{"modality": "image", "input": "aGVsbG8="}""", 400, "`input` must be an http:// or https:// URL or a data:image", Description = "raw base64 needs the data: prefix")]
    [TestCase("""{"modality": "image", "input": "data:image/png,aGVsbG8="}""", 400, "`input` data URIs must be of the form data:image/<type>;base64,<data>.")]
    [TestCase("""{"modality": "image", "input": ["data:image/png;base64,not base64!"]}""", 400, "`input[0]` is not valid base64.")]
    [TestCase("""{"modality": "image", "input": [[1, 2]]}""", 400, "`input` holds token ids")]
    public void Parse_BadRequest_NamesFieldAndRule(string json, int status, string message) =>
        Assert.That(() => Parse(json), Throws.TypeOf<ModelInputException>()
            .With.Message.StartsWith(message).And.Property(nameof(ModelInputException.StatusCode)).EqualTo(status));

    [Test]
    public void Parse_TokenIdArrays_MessageSaysWhatToSendInstead() =>
        Assert.That(() => Parse("""{"input": [[49406, 320, 49407]]}"""), Throws.TypeOf<ModelInputException>()
            .With.Message.Contain("Send the text itself").And.Message.Contain("check_embedding_ctx_length=False"));

    [Test]
    public void Parse_MsgPackBytesAsText_AreRefused()
    {
        var fields = new OrderedDictionary<string, object?> { ["input"] = new byte[] { 1, 2, 3 } };

        Assert.That(() => EmbeddingsRequest.Parse(fields, Limits, Dimensions), Throws.TypeOf<ModelInputException>()
            .With.Message.EqualTo("`input` must be a string."));
    }

    [Test]
    public void Parse_LongUnknownModality_IsShortenedInTheMessage() =>
        Assert.That(() => Parse($$"""{"input": "a", "modality": "{{new string('x', 500)}}"}"""), Throws.TypeOf<ModelInputException>()
            .With.Message.Length.LessThan(120));
}
