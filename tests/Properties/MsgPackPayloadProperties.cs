using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server.Serialization;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Properties of <see cref="MsgPackPayload"/>, the binary request mode: any body reads to a value tree or throws
/// <see cref="InvalidPayloadException"/>, and the writer's output reads back to the tree it was given (the msgpack
/// answer of one server can be the request of another).
/// </summary>
public class MsgPackPayloadProperties
{
    private static readonly Gen<byte[]> MutatedMsgPack =
        from tree in Generators.Tree(withBytes: true)
        from mutations in Generators.Mutations(4)
        select mutations.Aggregate(Write(tree), (bytes, mutation) => ByteMutator.Apply(bytes, mutation, [], ByteMutator.MsgPackTokens));

    [Property(MaxTest = 400, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_ArbitraryBytes_ReturnsTreeOrThrowsInvalidPayload() =>
        Prop.ForAll(Generators.Bytes.ToArbitrary(), AssertReadsOrRejects);

    [Property(MaxTest = 500, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_MutatedValidMsgPack_ReturnsTreeOrThrowsInvalidPayload() =>
        Prop.ForAll(MutatedMsgPack.ToArbitrary(), AssertReadsOrRejects);

    [Property(MaxTest = 300, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Write_Tree_ReadsBackEqualTree() =>
        Prop.ForAll(Generators.Tree(withBytes: true).ToArbitrary(), tree =>
        {
            var bytes = Write(tree);

            var read = MsgPackPayload.Read(bytes);

            Assert.That(ValueTree.DeepEquals(tree, read), Is.True,
                () => $"wrote {ValueTree.Describe(tree)}\nread back {ValueTree.Describe(read)}\n{Outcome.Show(bytes)}");
        });

    [Property(MaxTest = 100, Replay = PropertySeeds.Replay, QuietOnSuccess = true)]
    public Property Read_NestingBeyondMaxDepth_ThrowsInvalidPayload() =>
        Prop.ForAll(Gen.Choose(66, 5000).ToArbitrary(), Gen.Elements<byte[]>([0x91], [0x81, 0xA1, (byte)'a']).ToArbitrary(), (depth, opener) =>
        {
            var body = Enumerable.Repeat(opener, depth).SelectMany(b => b).Append((byte)0xC0).ToArray();

            var thrown = Outcome.Capture(() => MsgPackPayload.Read(body));

            Assert.That(thrown, Is.TypeOf<InvalidPayloadException>());
        });

    private static void AssertReadsOrRejects(byte[] input)
    {
        object? value = null;
        var thrown = Outcome.Capture(() => value = MsgPackPayload.Read(input));

        Assert.That(thrown, Is.Null.Or.TypeOf<InvalidPayloadException>(), () => $"{thrown}\ninput: {Outcome.Show(input)}");
        if (thrown is not null)
        {
            Assert.That(thrown.Message, Does.StartWith("Invalid msgpack payload: "));
            return;
        }

        // Whatever was read can be written back and reads the same (NaN included: msgpack carries it bit for bit,
        // but DeepEquals compares bit patterns and the writer keeps them).
        var again = MsgPackPayload.Read(Write(value));
        Assert.That(ValueTree.DeepEquals(value, again), Is.True, () => $"input: {Outcome.Show(input)}");
    }

    private static byte[] Write(object? tree)
    {
        var buffer = new ArrayBufferWriter<byte>();
        MsgPackPayload.Write(buffer, tree);
        return buffer.WrittenSpan.ToArray();
    }
}
