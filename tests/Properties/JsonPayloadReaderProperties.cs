using System.Text;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server.Serialization;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="JsonPayloadReader"/>: whatever a client sends, the reader either returns a neutral value
/// tree or throws <see cref="InvalidPayloadException"/> (answered 400); anything else would surface as a 500, and a
/// hang would pin a request slot. Valid documents in the server's own output format read back to the same tree.
/// </summary>
public partial class JsonPayloadReaderProperties
{
    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_ArbitraryBytes_ReturnsTreeOrThrowsInvalidPayload() =>
        Prop.ForAll(Generators.Bytes.ToArbitrary(), AssertReadsOrRejects);

    [Property(MaxTest = 600, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_JsonSoup_ReturnsTreeOrThrowsInvalidPayload() =>
        Prop.ForAll(Generators.JsonSoup.ToArbitrary(), AssertReadsOrRejects);

    [Property(MaxTest = 400, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_MutatedValidJson_ReturnsTreeOrThrowsInvalidPayload() =>
        Prop.ForAll(Generators.MutatedJson.ToArbitrary(), AssertReadsOrRejects);

    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_PythonJsonOfTree_ReturnsEqualTree() =>
        Prop.ForAll(Generators.Tree(withBytes: false).ToArbitrary(), tree =>
        {
            var json = PythonJsonWriter.Serialize(tree);

            var read = JsonPayloadReader.Read(Encoding.UTF8.GetBytes(json));

            Assert.That(ValueTree.DeepEquals(tree, read), Is.True,
                () => $"wrote {ValueTree.Describe(tree)}\nas {json}\nread back {ValueTree.Describe(read)}");
        });

    [Property(MaxTest = 100, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_NestingBeyondMaxDepth_ThrowsInvalidPayload() =>
        Prop.ForAll(Gen.Choose(65, 5000).ToArbitrary(), Gen.Elements("[", "{\"a\":").ToArbitrary(), (depth, opener) =>
        {
            // Deep nesting must be refused by the depth cap, not by a stack overflow (which no catch can stop).
            var json = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(opener, depth)));

            var thrown = Outcome.Capture(() => JsonPayloadReader.Read(json));

            Assert.That(thrown, Is.TypeOf<InvalidPayloadException>());
        });

    /// <summary>
    /// The core property: a value tree or <see cref="InvalidPayloadException"/> with a Python-style message. A
    /// returned tree must also survive the server's own writer and read back unchanged (NaN/Infinity aside, which
    /// the writer emits as Python does and the reader refuses by design).
    /// </summary>
    private static void AssertReadsOrRejects(byte[] input)
    {
        object? value = null;
        var thrown = Outcome.Capture(() => value = JsonPayloadReader.Read(input));

        Assert.That(thrown, Is.Null.Or.TypeOf<InvalidPayloadException>(), () => $"{thrown}\ninput: {Outcome.Show(input)}");
        if (thrown is not null)
        {
            Assert.That(thrown.Message, Does.Match(PythonErrorPattern()), () => $"input: {Outcome.Show(input)}");
            return;
        }

        Assert.That(IsNeutral(value), Is.True, () => $"not a neutral tree: {ValueTree.Describe(value)}");
        if (!ValueTree.HasNonFinite(value))
        {
            var again = JsonPayloadReader.Read(Encoding.UTF8.GetBytes(PythonJsonWriter.Serialize(value)));
            Assert.That(ValueTree.DeepEquals(value, again), Is.True, () => $"input: {Outcome.Show(input)}");
        }
    }

    private static bool IsNeutral(object? value) => value switch
    {
        null or bool or long or double or string => true,
        List<object?> list => list.All(IsNeutral),
        OrderedDictionary<string, object?> map => map.Values.All(IsNeutral),
        _ => false,
    };

    [GeneratedRegex(@"^Invalid JSON payload: .+: line \d+ column \d+ \(char \d+\)$", RegexOptions.Singleline)]
    private static partial Regex PythonErrorPattern();
}
