using System.Text.Json;
using System.Text.Json.Serialization;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;

namespace Truss.Clip.Tests.Clip.Inference;

/// <summary>
/// The tiny random-weight CLIP fixtures made by tools/make_layout_fixtures.py (the same weights in every layout)
/// and the torch reference values in expected.json.
/// </summary>
internal static class ModelFixtures
{
    /// <summary>Absolute tolerance against torch float32 (the fixtures' embeddings are of order 1).</summary>
    public const float TorchTolerance = 1e-4f;

    /// <summary>Tolerance between runs of the same graph with different batch or padding (float noise only).</summary>
    public const float BatchTolerance = 1e-5f;

    private static readonly Lazy<ExpectedValues> LazyExpected = new(ReadExpected);

    public static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "models");

    public static string Split => Path.Combine(Root, "split");

    public static string Immich => Path.Combine(Root, "immich");

    public static string Combined => Path.Combine(Root, "combined");

    /// <summary>A split-style text tower with embedding dim 8 (the others have 16).</summary>
    public static string MismatchedTextModel => Path.Combine(Root, "mismatch", "text_model_embed8.onnx");

    public static ExpectedValues Expected => LazyExpected.Value;

    public static string DirectoryOf(ClipModelLayout layout) => layout switch
    {
        ClipModelLayout.Split => Split,
        ClipModelLayout.Immich => Immich,
        _ => Combined,
    };

    public static ClipModel Load(string directory) =>
        ClipModel.Load(new ClipModelOptions { ModelDirectory = directory }, NullLogger.Instance);

    /// <summary>The reference pixels: flat index i holds ((i*37 + 11) % 201 - 100) / 100 in float32, as in the generator.</summary>
    public static float[] ReferencePixels()
    {
        int[] shape = Expected.Inputs.PixelsShape;
        var pixels = new float[shape[0] * shape[1] * shape[2] * shape[3]];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (((i * 37) + 11) % 201 - 100) / 100f;
        }

        return pixels;
    }

    public static int[][] ReferenceTokenIds() => Expected.Inputs.TokenIds;

    public static float[] EncodeImages(ClipModel model, float[] pixels, int batch)
    {
        var embeddings = new float[batch * model.ImageEncoder.EmbeddingDim];
        model.ImageEncoder.Encode(pixels, batch, embeddings);
        return embeddings;
    }

    public static float[] EncodeTexts(ClipModel model, IReadOnlyList<int[]> tokenIds)
    {
        var embeddings = new float[tokenIds.Count * model.TextEncoder.EmbeddingDim];
        model.TextEncoder.Encode(tokenIds, embeddings);
        return embeddings;
    }

    public static float[] Flatten(float[][] rows)
    {
        var flat = new float[rows.Length * rows[0].Length];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r].CopyTo(flat, r * rows[0].Length);
        }

        return flat;
    }

    /// <summary>Row-wise L2 normalization (what scoring does; idempotent on normalized rows).</summary>
    public static float[] Normalize(float[] rows, int dim)
    {
        var result = new float[rows.Length];
        for (int start = 0; start < rows.Length; start += dim)
        {
            double sum = 0;
            for (int i = 0; i < dim; i++)
            {
                sum += rows[start + i] * rows[start + i];
            }

            float inverse = (float)(1 / Math.Sqrt(sum));
            for (int i = 0; i < dim; i++)
            {
                result[start + i] = rows[start + i] * inverse;
            }
        }

        return result;
    }

    /// <summary>Zero-shot probabilities: softmax over texts of logitScale × cosine, [images, texts].</summary>
    public static float[] Probabilities(float[] images, float[] texts, int dim, float logitScale)
    {
        float[] a = Normalize(images, dim);
        float[] b = Normalize(texts, dim);
        int imageCount = a.Length / dim;
        int textCount = b.Length / dim;
        var probabilities = new float[imageCount * textCount];
        for (int i = 0; i < imageCount; i++)
        {
            var logits = new double[textCount];
            double max = double.NegativeInfinity;
            for (int t = 0; t < textCount; t++)
            {
                double dot = 0;
                for (int k = 0; k < dim; k++)
                {
                    dot += a[(i * dim) + k] * b[(t * dim) + k];
                }

                logits[t] = logitScale * dot;
                max = Math.Max(max, logits[t]);
            }

            double total = 0;
            for (int t = 0; t < textCount; t++)
            {
                logits[t] = Math.Exp(logits[t] - max);
                total += logits[t];
            }

            for (int t = 0; t < textCount; t++)
            {
                probabilities[(i * textCount) + t] = (float)(logits[t] / total);
            }
        }

        return probabilities;
    }

    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }

        return (float)(dot / Math.Sqrt(na * nb));
    }

    /// <summary>Copies fixture files into a fresh temporary directory: (source, path relative to the new directory).</summary>
    public static TempModelDirectory Assemble(params (string Source, string RelativePath)[] files)
    {
        var directory = new TempModelDirectory();
        foreach ((string source, string relativePath) in files)
        {
            directory.Copy(source, relativePath);
        }

        return directory;
    }

    private static ExpectedValues ReadExpected()
    {
        using FileStream stream = File.OpenRead(Path.Combine(Root, "expected.json"));
        return JsonSerializer.Deserialize<ExpectedValues>(stream)
            ?? throw new InvalidOperationException("expected.json is empty.");
    }

    /// <summary>A temporary model directory, deleted on dispose.</summary>
    internal sealed class TempModelDirectory : IDisposable
    {
        public TempModelDirectory()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "clip-inference-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Copy(string source, string relativePath)
        {
            string target = System.IO.Path.Combine(Path, relativePath);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }

        public void Write(string relativePath, string text)
        {
            string target = System.IO.Path.Combine(Path, relativePath);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.WriteAllText(target, text);
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    internal sealed record ExpectedValues(
        [property: JsonPropertyName("embed_dim")] int EmbedDim,
        [property: JsonPropertyName("image_size")] int ImageSize,
        [property: JsonPropertyName("vocab_size")] int VocabSize,
        [property: JsonPropertyName("logit_scale")] float LogitScale,
        [property: JsonPropertyName("inputs")] ExpectedInputs Inputs,
        [property: JsonPropertyName("image_embeds")] float[][] ImageEmbeds,
        [property: JsonPropertyName("image_embeds_normalized")] float[][] ImageEmbedsNormalized,
        [property: JsonPropertyName("text_embeds")] float[][] TextEmbeds,
        [property: JsonPropertyName("text_embeds_normalized")] float[][] TextEmbedsNormalized,
        [property: JsonPropertyName("probs_per_image")] float[][] ProbsPerImage);

    internal sealed record ExpectedInputs(
        [property: JsonPropertyName("pixels_shape")] int[] PixelsShape,
        [property: JsonPropertyName("token_ids")] int[][] TokenIds);
}
