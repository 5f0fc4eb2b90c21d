using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.model;

public class PredictRequestTests
{
    private static readonly RequestLimits Limits = new(MaxLabels: 3, MaxLabelLength: 10);

    private static PredictRequest Parse(string json) => PredictRequest.Parse(JsonPayloadReader.Read(System.Text.Encoding.UTF8.GetBytes(json)), Limits);

    [Test]
    public void Parse_LabelsAndUrl_Accepted()
    {
        var request = Parse("""{"labels": ["cat", "dog"], "image_url": "http://127.0.0.1/x.png"}""");

        Assert.That(request.Labels, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(request.ImageUrl, Is.EqualTo("http://127.0.0.1/x.png"));
    }

    [TestCase("[]", 400, "The request body must be a JSON object")]
    [TestCase("""{"image_url": "http://a/b"}""", 400, "Missing `labels`")]
    [TestCase("""{"labels": "cat", "image_url": "http://a/b"}""", 400, "`labels` must be a list of strings.")]
    [TestCase("""{"labels": [], "image_url": "http://a/b"}""", 400, "`labels` must not be empty.")]
    [TestCase("""{"labels": ["a", 1], "image_url": "http://a/b"}""", 400, "`labels[1]` must be a string.")]
    [TestCase("""{"labels": ["a", ""], "image_url": "http://a/b"}""", 400, "`labels[1]` is empty.")]
    [TestCase("""{"labels": ["a", "  "], "image_url": "http://a/b"}""", 400, "`labels[1]` is blank.")]
    [TestCase("""{"labels": ["a", "b", "c", "d"], "image_url": "http://a/b"}""", 413, "`labels` has 4 entries; the limit is 3")]
    [TestCase("""{"labels": ["abcdefghijk"], "image_url": "http://a/b"}""", 413, "`labels[0]` has 11 characters; the limit is 10")]
    [TestCase("""{"labels": ["a"]}""", 400, "Missing image")]
    [TestCase("""{"labels": ["a"], "image": [[[1,2,3]]], "image_url": "http://a/b"}""", 400, "Send exactly one of `image`, `image_url` or `image_base64`")]
    [TestCase("""{"labels": ["a"], "image_base64": "aGk=", "image_url": "http://a/b"}""", 400, "Send exactly one of")]
    [TestCase("""{"labels": ["a"], "image_base64": "not base64!"}""", 400, "`image_base64` is not valid base64.")]
    [TestCase("""{"labels": ["a"], "image_base64": "data:image/png,xyz"}""", 400, "`image_base64` data URIs must be")]
    [TestCase("""{"labels": ["a"], "image_base64": 12}""", 400, "`image_base64` must be a non-empty base64 string")]
    [TestCase("""{"labels": ["a"], "image_url": 5}""", 400, "`image_url` must be a non-empty string.")]
    public void Parse_BadRequest_NamesFieldAndRule(string json, int status, string message) =>
        Assert.That(() => Parse(json), Throws.TypeOf<ModelInputException>()
            .With.Message.StartsWith(message).And.Property(nameof(ModelInputException.StatusCode)).EqualTo(status));

    [TestCase("aGVsbG8=")]
    [TestCase("data:image/png;base64,aGVsbG8=")]
    public void Parse_ImageBase64_RawOrDataUri_Decodes(string value) =>
        Assert.That(Parse($$"""{"labels": ["a"], "image_base64": "{{value}}"}""").ImageBytes, Is.EqualTo("hello"u8.ToArray()));
}
