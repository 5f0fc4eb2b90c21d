using System.Diagnostics;
using System.Text.Json;

namespace Truss.Clip.Benchmarks;

/// <summary>
/// Where the like-for-like ViT-B/32 request's time goes, stage by stage, with the same medians-of-N method as
/// tools/python_baseline.py, so each stage can be set against its Python counterpart: decode + preprocess, the 5
/// labels through tokenizer + text tower (no cache), the image tower, and the whole Classify; for the "ctx77" variant
/// (77-token text graph, openai/CLIP's work) and the default export (dynamic sequence: real tokens only).
/// The towers run where <see cref="BenchDevice"/> says. Output: one JSON line per stage.
/// </summary>
public static class EndToEndBreakdown
{
    public static int Run(int repeats)
    {
        var jpeg = TestImages.Read("jpeg_1920x1080");
        foreach (var variant in new[] { "ctx77", null })
        {
            using var classifier = BenchDevice.LoadClassifier(BenchPaths.VitB32Dir, BenchDevice.Variant(variant), 0);
            var name = variant ?? "dynamic";
            using var image = classifier.Decoder.Decode(jpeg);
            var embeddings = new float[classifier.EmbeddingDim];
            Time($"{name}_decode_preprocess_image_tower", repeats, () =>
            {
                using var decoded = classifier.Decoder.Decode(jpeg);
                classifier.EmbedImages([decoded], embeddings);   // includes the vision tower; subtracted below
            }, out var decodeAndVision);
            Time($"{name}_preprocess_image_tower", repeats, () => classifier.EmbedImages([image], embeddings), out var vision);
            Emit($"{name}_decode_derived", decodeAndVision - vision, repeats);
            Time($"{name}_text_5_labels_no_cache", repeats, () => classifier.EmbedTextsUncached(Workload.Labels), out _);
            Time($"{name}_classify_1080p_5_labels", repeats, () =>
            {
                using var decoded = classifier.Decoder.Decode(jpeg);
                classifier.Classify([decoded], Workload.Labels);
            }, out _);
        }

        return 0;
    }

    private static void Time(string stage, int repeats, Action work, out double median)
    {
        work();
        var samples = new double[repeats];
        for (var i = 0; i < repeats; i++)
        {
            var t = Stopwatch.GetTimestamp();
            work();
            samples[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }

        Array.Sort(samples);
        median = repeats % 2 == 1 ? samples[repeats / 2] : (samples[(repeats / 2) - 1] + samples[repeats / 2]) / 2;
        Emit(stage, median, repeats);
    }

    private static void Emit(string stage, double medianMs, int repeats) =>
        Console.WriteLine(JsonSerializer.Serialize(new { stage, median_ms = Math.Round(medianMs, 3), n = repeats }));
}
