using System.Text;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Truss.Server.Serialization;

public class JsonPayloadReaderTests
{
    private static object? Read(string json) => JsonPayloadReader.Read(Encoding.UTF8.GetBytes(json));

    [Test]
    public void Read_Object_KeepsOrderAndTypes()
    {
        var value = (OrderedDictionary<string, object?>)Read("""{"b": 1, "a": [2.5, "x", true, null], "c": {"d": -3}}""")!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(value.Keys, Is.EqualTo(new[] { "b", "a", "c" }));
            Assert.That(value["b"], Is.EqualTo(1L));
            Assert.That(value["a"], Is.EqualTo(new List<object?> { 2.5, "x", true, null }));
            Assert.That(((OrderedDictionary<string, object?>)value["c"]!)["d"], Is.EqualTo(-3L));
        }
    }

    [Test]
    public void Read_DuplicateKeys_LastWinsAsInPython()
    {
        var value = (OrderedDictionary<string, object?>)Read("""{"a": 1, "a": 2}""")!;

        Assert.That(value["a"], Is.EqualTo(2L));
    }

    [Test]
    public void Read_Utf8Bom_IsSkipped() =>
        Assert.That(JsonPayloadReader.Read([0xEF, 0xBB, 0xBF, (byte)'7']), Is.EqualTo(7L));

    [Test]
    public void Read_HugeInteger_BecomesDouble() =>
        Assert.That(Read("123456789012345678901234567890"), Is.EqualTo(1.2345678901234568e29));

    [Test]
    public void Read_SmallIntegers_ShareBoxes()
    {
        var list = (List<object?>)Read("[255, 255]")!;

        Assert.That(ReferenceEquals(list[0], list[1]), Is.True, "pixel values must not allocate one box each");
    }

    [TestCase("", "Invalid JSON payload: Expecting value: line 1 column 1 (char 0)")]
    [TestCase("\n\n", "Invalid JSON payload: Expecting value: line 3 column 1 (char 2)")]
    [TestCase("[1]\n[2]", "Invalid JSON payload: Extra data: line 2 column 1 (char 4)")]
    public void Read_Invalid_ThrowsWithPythonStylePosition(string json, string message) =>
        Assert.That(() => Read(json), Throws.TypeOf<InvalidPayloadException>().With.Message.EqualTo(message));

    [TestCase("NaN")]
    [TestCase("{'a': 1}")]
    [TestCase("[1, 2")]
    [TestCase("{\"a\" 1}")]
    public void Read_NotJson_ThrowsInvalidPayload(string json) =>
        Assert.That(() => Read(json), Throws.TypeOf<InvalidPayloadException>().With.Message.StartWith("Invalid JSON payload: "));

    [Test]
    public void Read_InvalidUtf8_ThrowsInvalidPayload() =>
        Assert.That(() => JsonPayloadReader.Read([(byte)'"', 0xC3, 0x28, (byte)'"']), Throws.TypeOf<InvalidPayloadException>());

    [Test]
    public void Read_NestedTooDeep_ThrowsInsteadOfOverflowingTheStack()
    {
        var json = new string('[', 10_000) + new string(']', 10_000);

        Assert.That(() => Read(json), Throws.TypeOf<InvalidPayloadException>());
    }

    [Test]
    public void Read_LongStringsWithViewsOn_AreViewsOfTheBody()
    {
        var body = Encoding.UTF8.GetBytes("\uFEFF{\"long_key_long_key\": \"héllo wörld\", \"s\": \"hi\", \"e\": \"tab\\there\"}");

        var map = (OrderedDictionary<string, object?>)JsonPayloadReader.Read(body.AsMemory(), utf8TextMinBytes: 5)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(map.Keys, Is.EqualTo(new[] { "long_key_long_key", "s", "e" }), "keys stay strings");
            Assert.That(map["long_key_long_key"], Is.TypeOf<Utf8Text>());
            Assert.That(map["long_key_long_key"]!.ToString(), Is.EqualTo("héllo wörld"));
            Assert.That(map["s"], Is.EqualTo("hi"), "shorter than the threshold");
            Assert.That(map["e"], Is.EqualTo("tab\there"), "escaped strings are materialized");
        }
    }

    [Test]
    public void Read_LongStringsWithViewsOff_AreStrings() =>
        Assert.That(JsonPayloadReader.Read(Encoding.UTF8.GetBytes("[\"abcdefgh\"]").AsMemory()), Is.EqualTo(new[] { "abcdefgh" }));

    [Test]
    public void Read_InvalidUtf8InAView_ThrowsInvalidPayload() =>
        Assert.That(() => JsonPayloadReader.Read(new byte[] { (byte)'"', 0xC3, 0x28, 0x41, 0x41, (byte)'"' }.AsMemory(), utf8TextMinBytes: 2),
            Throws.TypeOf<InvalidPayloadException>().With.Message.Contains("Invalid UTF-8"));
}
