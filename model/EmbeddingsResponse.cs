using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Truss.Clip;

/// <summary>
/// The <c>/v1/embeddings</c> answer, shaped exactly as OpenAI's:
/// <c>{"object": "list", "data": [{"object": "embedding", "embedding": [...] | "base64", "index": i}, ...],
/// "model": "...", "usage": {"prompt_tokens": N, "total_tokens": N}}</c>.
/// </summary>
internal static class EmbeddingsResponse
{
    /// <summary>
    /// What one image adds to <c>usage</c>. An image has no text tokens; counting it as one keeps usage-based
    /// accounting from seeing image requests as free, and reads as "inputs embedded" for image-only requests.
    /// </summary>
    public const int TokensPerImage = 1;

    /// <summary>
    /// One entry per row of <paramref name="vectors"/> (row-major, <paramref name="dimensions"/> values each), in
    /// input order. Float values stay <see cref="float"/>, so JSON carries each as its widened double (exactly the
    /// float32, as OpenAI's own answers do) and msgpack as float32.
    /// </summary>
    public static OrderedDictionary<string, object?> Create(
        float[] vectors, int dimensions, EmbeddingEncoding encoding, string model, long promptTokens)
    {
        var count = vectors.Length / dimensions;
        var data = new List<object?>(count);
        for (var i = 0; i < count; i++)
        {
            var row = new ArraySegment<float>(vectors, i * dimensions, dimensions);
            data.Add(new OrderedDictionary<string, object?>
            {
                ["object"] = "embedding",
                ["embedding"] = encoding == EmbeddingEncoding.Base64 ? ToBase64(row) : row,
                ["index"] = (long)i,
            });
        }

        return new OrderedDictionary<string, object?>
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = model,
            ["usage"] = new OrderedDictionary<string, object?>
            {
                ["prompt_tokens"] = promptTokens,
                ["total_tokens"] = promptTokens,
            },
        };
    }

    /// <summary>The vector's float32 values as little-endian bytes, base64-encoded (what numpy's frombuffer reads).</summary>
    public static string ToBase64(ReadOnlySpan<float> vector)
    {
        if (BitConverter.IsLittleEndian)
        {
            return Convert.ToBase64String(MemoryMarshal.AsBytes(vector));
        }

        var bytes = ArrayPool<byte>.Shared.Rent(vector.Length * sizeof(float));
        try
        {
            for (var i = 0; i < vector.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
            }

            return Convert.ToBase64String(bytes, 0, vector.Length * sizeof(float));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
