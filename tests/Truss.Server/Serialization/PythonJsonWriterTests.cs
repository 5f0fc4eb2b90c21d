using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Truss.Server.Serialization;

/// <summary>Responses must be byte-identical to Python's json.dumps, which the Python truss server uses.</summary>
public class PythonJsonWriterTests
{
    [Test]
    public void Serialize_ContractExample_MatchesPythonByteForByte()
    {
        // The example from the Truss contract notes, produced by Python's json.dumps with numpy float32 scores.
        var result = new OrderedDictionary<string, object?>
        {
            ["small cat"] = 0.98765433f,
            ["x"] = 3.2e-05f,
            ["one"] = 1.0,
            ["n"] = null,
            ["u"] = "café",
            ["big"] = 1e16,
            ["l"] = new List<object?> { 1L, 2 },
        };

        Assert.That(PythonJsonWriter.Serialize(result), Is.EqualTo(
            """{"small cat": 0.9876543283462524, "x": 3.199999991920777e-05, "one": 1.0, "n": null, "u": "caf\u00e9", "big": 1e+16, "l": [1, 2]}"""));
    }

    // Expected strings are Python 3's repr() of the same doubles.
    [TestCase(0.0, "0.0")]
    [TestCase(-0.0, "-0.0")]
    [TestCase(1.0, "1.0")]
    [TestCase(-2.5, "-2.5")]
    [TestCase(0.1, "0.1")]
    [TestCase(1e-05, "1e-05")]
    [TestCase(0.0001, "0.0001")]
    [TestCase(0.00012345, "0.00012345")]
    [TestCase(123456789012345.0, "123456789012345.0")]
    [TestCase(1234567890123456.0, "1234567890123456.0")]
    [TestCase(1e16, "1e+16")]
    [TestCase(1.5e300, "1.5e+300")]
    [TestCase(5e-324, "5e-324")]
    [TestCase(double.MaxValue, "1.7976931348623157e+308")]
    [TestCase(double.NaN, "NaN")]
    [TestCase(double.PositiveInfinity, "Infinity")]
    [TestCase(double.NegativeInfinity, "-Infinity")]
    [TestCase(100.0, "100.0")]
    [TestCase(0.30000000000000004, "0.30000000000000004")]
    public void FormatDouble_MatchesPythonRepr(double value, string expected) =>
        Assert.That(PythonJsonWriter.FormatDouble(value), Is.EqualTo(expected));

    [Test]
    public void Serialize_Strings_EscapeLikeEnsureAscii()
    {
        var text = "q\"b\\n\nt\tc\u0001\u007fé😀";

        Assert.That(PythonJsonWriter.Serialize(text), Is.EqualTo("\"q\\\"b\\\\n\\nt\\tc\\u0001\\u007f\\u00e9\\ud83d\\ude00\""));
    }

    [Test]
    public void Serialize_LongString_CrossesBufferSegments()
    {
        var text = new string('é', 10_000) + "end";

        var json = PythonJsonWriter.Serialize(text);

        Assert.That(json, Has.Length.EqualTo(2 + (10_000 * 6) + 3));
        Assert.That(json, Does.EndWith("\\u00e9end\""));
    }

    [Test]
    public void Serialize_NestedCollections_UsesPythonSeparators()
    {
        var value = new Dictionary<string, object?> { ["a"] = new[] { 1, 2 }, ["b"] = new Dictionary<string, object?> { ["c"] = true } };

        Assert.That(PythonJsonWriter.Serialize(value), Is.EqualTo("""{"a": [1, 2], "b": {"c": true}}"""));
    }

    [Test]
    public void Serialize_Bytes_ThrowsLikeJsonDumps() =>
        Assert.That(() => PythonJsonWriter.Serialize(new byte[] { 1 }),
            Throws.TypeOf<ResultSerializationException>().With.Message.EqualTo("TypeError: Object of type bytes is not JSON serializable"));

    [Test]
    public void Serialize_UnknownType_Throws() =>
        Assert.That(() => PythonJsonWriter.Serialize(new object()), Throws.TypeOf<ResultSerializationException>());
}
