using System.Text.Json;
using Clip.Tokenization;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// Proves the C# side runs the same weights as the PyTorch baseline: the export's torch_reference.json holds torch's
/// embeddings of a fixed input, and ONNX Runtime through the engine must reproduce them (and the tokenizer its ids).
/// The towers run where <see cref="BenchDevice"/> says; <c>check-vit --tolerance X</c> loosens the 1e-3 bound (a GPU's
/// TF32 or an fp16 variant does not reproduce fp32 CPU results to 1e-3).
/// </summary>
public static class VitB32Parity
{
    public static int Run(string[] args)
    {
        var at = Array.IndexOf(args, "--tolerance");
        var tolerance = at >= 0 && at + 1 < args.Length ? double.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture) : 1e-3;
        var dir = BenchPaths.VitB32Dir;
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "torch_reference.json")));
        var root = doc.RootElement;
        float[] Floats(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var expectedIds = root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        using var model = BenchDevice.LoadModel(dir, BenchDevice.Variant(null));
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
        var ok = imageDiff < tolerance && textDiff < tolerance && idsMatch;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            stage = "vit_parity",
            ok,
            image_max_abs_diff = imageDiff,
            text_max_abs_diff = textDiff,
            tokenizer_ids_match = idsMatch,
            tolerance,
            device = BenchDevice.Name,
            image_provider = d.Image.ExecutionProvider.ToString(),
            text_provider = d.Text.ExecutionProvider.ToString(),
            variant = BenchDevice.Variant(null),
            embedding_dim = d.EmbeddingDim,
            context_length = d.ContextLength,
        }));
        return ok ? 0 : 1;
    }

    private static double MaxAbsDiff(float[] a, float[] b) =>
        a.Length != b.Length ? double.PositiveInfinity : a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));
}
