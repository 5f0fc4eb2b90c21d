using System.Text.Json;
using Clip.Inference;
using Clip.Tokenization;
using Microsoft.Extensions.Logging.Abstractions;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// Proves the C# side runs the same weights as the PyTorch baseline: the export's torch_reference.json holds torch's
/// embeddings of a fixed input, and ONNX Runtime through the engine must reproduce them (and the tokenizer its ids).
/// </summary>
public static class VitB32Parity
{
    public static int Run()
    {
        var dir = BenchPaths.VitB32Dir;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "torch_reference.json")));
        var root = doc.RootElement;
        float[] Floats(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var expectedIds = root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        using var model = ClipModel.Load(new ClipModelOptions { ModelDirectory = dir }, NullLogger.Instance);
        var d = model.Descriptor;
        // torch.linspace(-1.5, 1.5, n): the same values in the same order.
        var n = 3 * d.ImageSize * d.ImageSize;
        var pixels = new float[n];
        for (var i = 0; i < n; i++)
        {
            pixels[i] = (float)(-1.5 + (3.0 * i / (n - 1)));
        }

        var image = new float[d.EmbeddingDim];
        model.ImageEncoder.Encode(pixels, 1, image);
        var text = new float[d.EmbeddingDim];
        model.TextEncoder.Encode([expectedIds], text);
        var ids = ClipTokenizer.FromDirectory(dir).Encode("a photo of a cat.", d.ContextLength);

        var imageDiff = MaxAbsDiff(image, Floats("image_embeds"));
        var textDiff = MaxAbsDiff(text, Floats("text_embeds"));
        var idsMatch = ids.SequenceEqual(expectedIds);
        var ok = imageDiff < 1e-3 && textDiff < 1e-3 && idsMatch;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            stage = "vit_parity",
            ok,
            image_max_abs_diff = imageDiff,
            text_max_abs_diff = textDiff,
            tokenizer_ids_match = idsMatch,
            embedding_dim = d.EmbeddingDim,
            context_length = d.ContextLength,
        }));
        return ok ? 0 : 1;
    }

    private static double MaxAbsDiff(float[] a, float[] b) =>
        a.Length != b.Length ? double.PositiveInfinity : a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));
}
