using System.Buffers;
using System.Collections;
using MessagePack;

namespace Truss.Server.Serialization;

/// <summary>
/// The binary mode of the Truss contract: a msgpack request body read into the neutral value tree, and a result
/// written back as msgpack. Built on MessagePack-CSharp's low-level reader and writer so that the value tree is the
/// same as the JSON mode's (string-keyed ordered maps, <see cref="long"/>, <see cref="double"/>, <c>byte[]</c>).
/// </summary>
/// <remarks>
/// Map keys that are bytes (as msgpack-numpy writes them) are decoded as UTF-8. Floats are written as float64,
/// except <see cref="float"/>, which stays float32. A <c>byte[]</c> result is sent raw, as truss does.
/// </remarks>
public static class MsgPackPayload
{
    /// <summary>Parses a msgpack body; throws <see cref="InvalidPayloadException"/> when it is malformed.</summary>
    public static object? Read(ReadOnlyMemory<byte> body, int maxDepth = 64)
    {
        var reader = new MessagePackReader(body);
        try
        {
            var value = ReadValue(ref reader, maxDepth);
            if (!reader.End)
            {
                throw new InvalidPayloadException($"Invalid msgpack payload: extra data after byte {reader.Consumed}");
            }

            return value;
        }
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentOutOfRangeException)
        {
            throw new InvalidPayloadException($"Invalid msgpack payload: {e.Message}", e);
        }
    }

    /// <summary>Serializes <paramref name="value"/> as msgpack into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, object? value)
    {
        var writer = new MessagePackWriter(output);
        WriteValue(ref writer, value, 0);
        writer.Flush();
    }

    private static object? ReadValue(ref MessagePackReader reader, int depthLeft)
    {
        if (depthLeft < 0)
        {
            throw new InvalidPayloadException("Invalid msgpack payload: nested too deeply");
        }

        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Nil:
                reader.ReadNil();
                return null;
            case MessagePackType.Boolean:
                return reader.ReadBoolean();
            case MessagePackType.Integer:
                return reader.NextCode == MessagePackCode.UInt64
                    ? ReadUnsigned(ref reader)
                    : WireValues.Box(reader.ReadInt64());
            case MessagePackType.Float:
                return reader.ReadDouble();
            case MessagePackType.String:
                return reader.ReadString();
            case MessagePackType.Binary:
                return reader.ReadBytes()?.ToArray();
            case MessagePackType.Array:
                var count = reader.ReadArrayHeader();
                var list = new List<object?>(Math.Min(count, 4096));
                for (var i = 0; i < count; i++)
                {
                    list.Add(ReadValue(ref reader, depthLeft - 1));
                }

                return list;
            case MessagePackType.Map:
                var entries = reader.ReadMapHeader();
                var map = new OrderedDictionary<string, object?>(Math.Min(entries, 4096), StringComparer.Ordinal);
                for (var i = 0; i < entries; i++)
                {
                    var key = ReadKey(ref reader);
                    map[key] = ReadValue(ref reader, depthLeft - 1);
                }

                return map;
            default:
                throw new InvalidPayloadException(
                    $"Invalid msgpack payload: unsupported type {reader.NextMessagePackType} at byte {reader.Consumed}");
        }
    }

    private static object ReadUnsigned(ref MessagePackReader reader)
    {
        var value = reader.ReadUInt64();
        return value <= long.MaxValue ? WireValues.Box((long)value) : (double)value;
    }

    private static string ReadKey(ref MessagePackReader reader) =>
        reader.NextMessagePackType switch
        {
            MessagePackType.String => reader.ReadString() ?? "",
            MessagePackType.Binary => System.Text.Encoding.UTF8.GetString(reader.ReadBytes()!.Value.ToArray()),
            MessagePackType.Integer => reader.ReadInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new InvalidPayloadException(
                $"Invalid msgpack payload: map keys must be strings (got {reader.NextMessagePackType})"),
        };

    private static void WriteValue(ref MessagePackWriter writer, object? value, int depth)
    {
        if (depth > 256)
        {
            throw new ResultSerializationException("ValueError: Circular reference detected");
        }

        switch (value)
        {
            case null:
                writer.WriteNil();
                break;
            case bool b:
                writer.Write(b);
                break;
            case string s:
                writer.Write(s);
                break;
            case double d:
                writer.Write(d);
                break;
            case float f:
                writer.Write(f);
                break;
            case long l:
                writer.Write(l);
                break;
            case int i:
                writer.Write(i);
                break;
            case byte[] bytes:
                writer.Write(bytes);
                break;
            case short or sbyte or byte or ushort or uint:
                writer.Write(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case ulong u:
                writer.Write(u);
                break;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                var items = pairs as ICollection<KeyValuePair<string, object?>> ?? pairs.ToList();
                writer.WriteMapHeader(items.Count);
                foreach (var (key, item) in items)
                {
                    writer.Write(key);
                    WriteValue(ref writer, item, depth + 1);
                }

                break;
            case IDictionary dictionary:
                writer.WriteMapHeader(dictionary.Count);
                foreach (DictionaryEntry entry in dictionary)
                {
                    writer.Write(entry.Key as string ?? throw new ResultSerializationException(
                        $"TypeError: map keys must be strings, not {entry.Key.GetType().Name}"));
                    WriteValue(ref writer, entry.Value, depth + 1);
                }

                break;
            case IEnumerable sequence:
                var list = sequence as ICollection ?? sequence.Cast<object?>().ToList();
                writer.WriteArrayHeader(list.Count);
                foreach (var item in list)
                {
                    WriteValue(ref writer, item, depth + 1);
                }

                break;
            default:
                throw new ResultSerializationException(
                    $"TypeError: can not serialize '{value.GetType().Name}' object");
        }
    }
}
