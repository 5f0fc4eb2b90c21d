using System.Buffers;
using MessagePack;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Truss.Server.Serialization;

public class MsgPackPayloadTests
{
    [Test]
    public void Read_MapWithBytesKeysAndBinary_DecodesToValueTree()
    {
        // msgpack-numpy style: bytes keys, a raw binary payload.
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(3);
        writer.Write("nd"u8);
        writer.Write(true);
        writer.Write("data"u8);
        writer.Write(new byte[] { 9, 8, 7 });
        writer.Write("shape");
        writer.WriteArrayHeader(2);
        writer.Write(ulong.MaxValue);
        writer.Write(1.5f);
        writer.Flush();

        var value = (OrderedDictionary<string, object?>)MsgPackPayload.Read(buffer.WrittenMemory)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(value["nd"], Is.EqualTo(true));
            Assert.That(value["data"], Is.EqualTo(new byte[] { 9, 8, 7 }));
            Assert.That(value["shape"], Is.EqualTo(new List<object?> { (double)ulong.MaxValue, 1.5 }));
        }
    }

    [Test]
    public void WriteThenRead_RoundTripsTheValueTree()
    {
        var original = new OrderedDictionary<string, object?>
        {
            ["s"] = "text",
            ["i"] = -42L,
            ["f"] = 0.5,
            ["b"] = false,
            ["n"] = null,
            ["bin"] = new byte[] { 1, 2 },
            ["list"] = new List<object?> { 1L, "two" },
        };
        var buffer = new ArrayBufferWriter<byte>();

        MsgPackPayload.Write(buffer, original);

        Assert.That(MsgPackPayload.Read(buffer.WrittenMemory), Is.EqualTo(original));
    }

    [Test]
    public void Read_Truncated_ThrowsInvalidPayload()
    {
        var bytes = MessagePackSerializer.Serialize(new[] { "abc", "def" });

        Assert.That(() => MsgPackPayload.Read(bytes.AsMemory(0, bytes.Length - 2)), Throws.TypeOf<InvalidPayloadException>());
    }

    [Test]
    public void Read_TrailingBytes_ThrowsInvalidPayload() =>
        Assert.That(() => MsgPackPayload.Read(new byte[] { 0x01, 0x02 }), Throws.TypeOf<InvalidPayloadException>());
}
