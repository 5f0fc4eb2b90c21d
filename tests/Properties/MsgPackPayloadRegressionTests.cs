using Truss.Server.Serialization;

namespace Truss.Clip.Tests.Properties;

/// <summary>
/// Found by <c>MsgPackPayloadProperties</c>: a str32 or bin32 header whose 32-bit length has the top bit set
/// (≥ 2 GiB, negative as an <see cref="int"/>) made MessagePack-CSharp's reader slice with a negative length and throw
/// <see cref="ArgumentOutOfRangeException"/>, which escaped as a 500 instead of the 400 for a malformed body.
/// </summary>
public class MsgPackPayloadRegressionTests
{
    [TestCase(new byte[] { 0xDB, 0x80, 0x00, 0x00, 0x00 }, TestName = "Read_Str32LengthOver2GiB_ThrowsInvalidPayload")]
    [TestCase(new byte[] { 0xDB, 0xFF, 0xFF, 0xFF, 0xFF, 0xCD, 0x01, 0xCB }, TestName = "Read_Str32LengthUInt32Max_ThrowsInvalidPayload")]
    [TestCase(new byte[] { 0xC6, 0x80, 0x00, 0x00, 0x00 }, TestName = "Read_Bin32LengthOver2GiB_ThrowsInvalidPayload")]
    [TestCase(new byte[] { 0x81, 0xC6, 0x80, 0x00, 0x00, 0x00, 0x01 }, TestName = "Read_Bin32MapKeyLengthOver2GiB_ThrowsInvalidPayload")]
    [TestCase(new byte[] { 0x81, 0xDB, 0x80, 0x00, 0x00, 0x00, 0x01 }, TestName = "Read_Str32MapKeyLengthOver2GiB_ThrowsInvalidPayload")]
    [TestCase(new byte[] { 0x91, 0xDB, 0x8B, 0x09, 0x03, 0x20, 0xB2 }, TestName = "Read_Str32InArrayLengthOver2GiB_ThrowsInvalidPayload")]
    public void Read_LengthHeaderOver2GiB_ThrowsInvalidPayload(byte[] body) =>
        Assert.That(() => MsgPackPayload.Read(body), Throws.TypeOf<InvalidPayloadException>().With.Message.StartWith("Invalid msgpack payload: "));
}
