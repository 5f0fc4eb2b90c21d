using System.Buffers;
using System.Text;
using Truss.Clip.Tests.Properties.Shared;
using Truss.Server.Serialization;

namespace Truss.Clip.Fuzz;

/// <summary>
/// Writes the seed corpus (<c>fuzz/corpus/{json,msgpack,image}</c>) from code, so that it can be regenerated and
/// reviewed: valid requests of every shape the README documents, the edge cases the parsers special-case, and a tiny
/// image in every decodable format. Small on purpose (mutations near headers find the most).
/// </summary>
internal static class SeedCorpus
{
    /// <summary>Writes every seed under <paramref name="root"/>; returns the number of files.</summary>
    public static int Write(string root)
    {
        int count = 0;
        foreach (var (name, bytes) in Json())
        {
            count += Save(Path.Combine(root, "json"), name, bytes);
        }

        foreach (var (name, bytes) in MsgPack())
        {
            count += Save(Path.Combine(root, "msgpack"), name, bytes);
        }

        foreach (var (name, bytes) in SeedImages.All)
        {
            count += Save(Path.Combine(root, "image"), name, bytes);
        }

        return count;
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Json()
    {
        var png = SeedImages.All.First(s => s.Name.EndsWith(".png", StringComparison.Ordinal)).Bytes;
        var gif = SeedImages.All.First(s => s.Name.EndsWith(".gif", StringComparison.Ordinal)).Bytes;
        foreach (var (name, tree) in Requests(Convert.ToBase64String(png), "data:image/gif;base64," + Convert.ToBase64String(gif)))
        {
            yield return (name + ".json", Encoding.UTF8.GetBytes(PythonJsonWriter.Serialize(tree)));
        }

        // Texts no writer produces: formatting, escapes, numbers and encodings the reader must handle or refuse.
        yield return ("pretty-crlf.json", Text("{\r\n  \"labels\" : [ \"a cat\" ,\"a dog\" ],\r\n\t\"image\": [[[0, 0, 0]]]\r\n}\r\n"));
        yield return ("bom.json", [0xEF, 0xBB, 0xBF, .. Text("{\"labels\": [\"x\"], \"image_url\": \"http://127.0.0.1/a.png\"}")]);
        yield return ("escapes.json", Text("{\"labels\": [\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\\\\\", \"\\u732b\"], \"image\": [[1, 2], [3, 4]]}"));
        yield return ("duplicate-keys.json", Text("{\"labels\": [\"a\"], \"labels\": [\"b\", \"c\"], \"image_url\": \"x\", \"image_url\": \"https://e.com/i.jpg\"}"));
        yield return ("numbers.json", Text("[0, -0, -0.0, 1e400, -1e400, 1e-400, 9223372036854775807, 9223372036854775808, -9223372036854775809, 1.5E+3, 0.1e1, 123456789012345678901234567890]"));
        yield return ("floats-as-pixels.json", Text("{\"labels\": [\"a\"], \"image\": [[[255.0, 0.0, 1e2], [-0.0, 254.5, 2]]]}"));
        yield return ("deep-63.json", Text(new string('[', 63) + new string(']', 63)));
        yield return ("deep-65.json", Text(new string('[', 65) + new string(']', 65)));
        yield return ("not-json.json", Text("{'labels': ['a'], image: NaN, // comment\n}"));
        yield return ("lone-surrogate.json", Text("{\"labels\": [\"\\ud800\"], \"image_url\": \"\\udc00\"}"));
        yield return ("invalid-utf8.json", [.. Text("{\"labels\": [\""), 0xC3, 0x28, 0xFF, .. Text("\"]}")]);
        yield return ("empty.json", []);
    }

    private static IEnumerable<(string Name, byte[] Bytes)> MsgPack()
    {
        var png = SeedImages.All.First(s => s.Name.EndsWith(".png", StringComparison.Ordinal)).Bytes;
        foreach (var (name, tree) in Requests(Convert.ToBase64String(png), "data:image/png;base64," + Convert.ToBase64String(png)))
        {
            yield return (name + ".msgpack", Write(tree));
        }

        // The binary mode's own shapes: raw image bytes, byte-string keys (msgpack-numpy), float32, uint64, ext.
        yield return ("raw-image-bytes.msgpack", Write(Map(("labels", new List<object?> { "a cat", "a dog" }), ("image_base64", png))));
        yield return ("bin-keys.msgpack", [0x82, 0xC4, 6, .. "labels"u8, 0x91, 0xA1, (byte)'x', 0xC4, 9, .. "image_url"u8, 0xA1, (byte)'u']);
        yield return ("float32-uint64.msgpack", [0x93, 0xCA, 0x43, 0x7F, 0x00, 0x00, 0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        yield return ("int-keys-and-ext.msgpack", [0x82, 0x01, 0xC0, 0xA1, (byte)'e', 0xD6, 0xFF, 0, 0, 0, 0]);
        yield return ("str8-str16-str32.msgpack", [0x93, 0xD9, 1, (byte)'a', 0xDA, 0, 1, (byte)'b', 0xDB, 0, 0, 0, 1, (byte)'c']);
        yield return ("deep-64.msgpack", [.. Enumerable.Repeat((byte)0x91, 64), 0xC0]);
        yield return ("truncated.msgpack", [0x82, 0xA6, .. "labels"u8, 0x92, 0xA1]);
    }

    /// <summary>Request trees for both wire formats: valid ones of each source type, and each documented rejection.</summary>
    private static IEnumerable<(string Name, object? Tree)> Requests(string base64, string dataUri)
    {
        List<object?> Labels(params string[] labels) => [.. labels];
        List<object?> Rgb(int height, int width, int channels) =>
            [.. Enumerable.Range(0, height).Select(y => (object?)Enumerable.Range(0, width).Select(x => channels == 0
                ? (object?)(long)((x * 40) + y)
                : Enumerable.Range(0, channels).Select(c => (object?)(long)((x * 60) + (y * 30) + (c * 80) & 255)).ToList()).ToList())];

        yield return ("valid-image-rgb", Map(("labels", Labels("a red circle", "a blue square")), ("image", Rgb(2, 3, 3))));
        yield return ("valid-image-rgba", Map(("labels", Labels("a", "b", "c")), ("image", Rgb(2, 2, 4))));
        yield return ("valid-image-gray", Map(("labels", Labels("x")), ("image", Rgb(3, 2, 0))));
        yield return ("valid-image-1ch", Map(("labels", Labels("x")), ("image", Rgb(1, 2, 1))));
        yield return ("valid-url", Map(("labels", Labels("a cat", "猫", "😀")), ("image_url", "https://example.com/cat.jpg")));
        yield return ("valid-base64", Map(("labels", Labels("a cat")), ("image_base64", base64)));
        yield return ("valid-data-uri", Map(("image_base64", dataUri), ("labels", Labels("first", "second")), ("extra", null)));
        yield return ("no-labels", Map(("image_url", "http://a/b")));
        yield return ("empty-labels", Map(("labels", Labels()), ("image_url", "http://a/b")));
        yield return ("blank-and-long-label", Map(("labels", Labels(" \t", new string('x', 300))), ("image_url", "http://a/b")));
        yield return ("non-string-label", Map(("labels", new List<object?> { "a", 1L, null, true, 2.5 }), ("image_url", "http://a/b")));
        yield return ("two-sources", Map(("labels", Labels("a")), ("image", Rgb(1, 1, 3)), ("image_url", "http://a/b")));
        yield return ("no-source", Map(("labels", Labels("a"))));
        yield return ("bad-base64", Map(("labels", Labels("a")), ("image_base64", "data:image/png,@@@")));
        yield return ("ragged-image", Map(("labels", Labels("a")), ("image", new List<object?> { Rgb(1, 2, 3)[0], Rgb(1, 3, 3)[0] })));
        yield return ("bad-pixel", Map(("labels", Labels("a")), ("image", new List<object?> { new List<object?> { new List<object?> { 1L, 256L, -1L }, new List<object?> { 0.5, "7", null } } })));
        yield return ("not-an-object", new List<object?> { "labels", "image" });

        // /v1/embeddings bodies (the json and msgpack targets parse every body as both requests).
        yield return ("embeddings-texts", Map(("input", Labels("a red circle", "猫")), ("model", "m"), ("encoding_format", "base64"), ("dimensions", 512L)));
        yield return ("embeddings-string", Map(("input", "a blue square"), ("user", "u")));
        yield return ("embeddings-images", Map(("input", Labels(dataUri, "https://example.com/cat.jpg")), ("modality", "image")));
        yield return ("embeddings-token-ids", Map(("input", new List<object?> { new List<object?> { 320L, 1000L } }), ("model", "m")));
        yield return ("embeddings-audio", Map(("input", "x"), ("modality", "audio"), ("dimensions", 3L)));
    }

    private static OrderedDictionary<string, object?> Map(params (string Key, object? Value)[] fields)
    {
        var map = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            map[key] = value;
        }

        return map;
    }

    private static byte[] Write(object? tree)
    {
        var buffer = new ArrayBufferWriter<byte>();
        MsgPackPayload.Write(buffer, tree);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    private static int Save(string directory, string name, byte[] bytes)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name), bytes);
        return 1;
    }
}
