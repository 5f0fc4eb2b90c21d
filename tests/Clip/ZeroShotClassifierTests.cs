using Clip;
using Clip.Embeddings;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Clip.Inference;

namespace Truss.Clip.Tests.Clip;

/// <summary>
/// The facade over the layout fixtures (tiny random weights, the same in every layout, with a tiny committed BPE
/// vocabulary): layouts agree, batching equals single calls, the label cache spares the text encoder, templates
/// ensemble as in the CLIP paper.
/// </summary>
public class ZeroShotClassifierTests
{
    private static readonly string[] Labels = ["a red circle", "a photo of a cat", "a blue square on a white background"];

    private static ZeroShotClassifier Load(string directory, Func<ClipEngineOptions, ClipEngineOptions>? configure = null)
    {
        var options = new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = directory } };
        return ZeroShotClassifier.Load(configure?.Invoke(options) ?? options, NullLoggerFactory.Instance);
    }

    /// <summary>A deterministic, non-square test image.</summary>
    private static RgbImage Image(int seed, int width = 45, int height = 37)
    {
        var random = new Random(seed);
        var rgb = new byte[width * height * 3];
        random.NextBytes(rgb);
        return RgbImage.FromRgb(rgb, width, height);
    }

    [Test]
    public void Classify_EveryLayout_GivesTheSameProbabilities()
    {
        using var image = Image(1);
        var results = new List<float[]>();
        foreach (var layout in new[] { ClipModelLayout.Split, ClipModelLayout.Immich, ClipModelLayout.Combined })
        {
            using var classifier = Load(ModelFixtures.DirectoryOf(layout));
            Assert.That(classifier.Descriptor.Layout, Is.EqualTo(layout));
            results.Add(classifier.Classify([image], Labels)[0]);
        }

        Assert.That(results[0].Sum(), Is.EqualTo(1f).Within(1e-5));
        Assert.That(results[1], Is.EqualTo(results[0]).Within(1e-4), "immich vs split");
        Assert.That(results[2], Is.EqualTo(results[0]).Within(1e-4), "combined vs split");
    }

    [Test]
    public void Classify_BatchOfImages_EqualsSingleCalls()
    {
        using var classifier = Load(ModelFixtures.Split);
        using var a = Image(1);
        using var b = Image(2, 20, 60);
        using var c = Image(3, 300, 200);

        var batch = classifier.Classify([a, b, c], Labels);

        var singles = new[] { a, b, c }.Select(image => classifier.Classify([image], Labels)[0]).ToArray();
        for (var i = 0; i < 3; i++)
        {
            Assert.That(batch[i], Is.EqualTo(singles[i]).Within(1e-5), $"image {i}");
        }
    }

    [Test]
    public void Classify_RepeatedLabelSet_RunsTheTextEncoderZeroTimes()
    {
        using var classifier = Load(ModelFixtures.Split);
        using var image = Image(4);
        classifier.Classify([image], Labels);
        var rowsAfterFirst = classifier.TextRowsEncoded;

        classifier.Classify([image], Labels);
        classifier.Classify([image], [Labels[2], Labels[0]]);

        Assert.That(rowsAfterFirst, Is.EqualTo(Labels.Length));
        Assert.That(classifier.TextRowsEncoded, Is.EqualTo(rowsAfterFirst));
        Assert.That(classifier.LabelCache.Hits, Is.EqualTo(5));
    }

    [Test]
    public void Classify_WithTemplates_UsesTheNormalizedMeanOfTemplateEmbeddings()
    {
        string[] templates = ["a photo of a {}.", "a drawing of a {}."];
        using var classifier = Load(ModelFixtures.Split, o => o with { PromptTemplates = templates });
        using var image = Image(5);

        var probabilities = classifier.Classify([image], Labels)[0];

        var dim = classifier.EmbeddingDim;
        var expectedLabels = new float[Labels.Length * dim];
        for (var i = 0; i < Labels.Length; i++)
        {
            var rows = classifier.EmbedTextsUncached(templates.Select(t => t.Replace("{}", Labels[i], StringComparison.Ordinal)).ToArray());
            Similarity.EnsembleMean(rows.SelectMany(r => r).ToArray(), templates.Length, expectedLabels.AsSpan(i * dim, dim));
        }

        var imageEmbedding = new float[dim];
        classifier.EmbedImages([image], imageEmbedding);
        var expected = new float[Labels.Length];
        Similarity.ZeroShotProbabilities(imageEmbedding, expectedLabels, 100f, expected);
        Assert.That(probabilities, Is.EqualTo(expected).Within(1e-5));
        Assert.That(classifier.Classify([image], Labels, templates: [])[0], Is.Not.EqualTo(probabilities), "a per-call override is honoured");
    }

    [Test]
    public void Load_PreprocessingFollowsTheSidecars()
    {
        using var classifier = Load(ModelFixtures.Split);

        Assert.That(classifier.Preprocessing.Size, Is.EqualTo(classifier.Descriptor.ImageSize));
        Assert.That(classifier.Preprocessing.Mean, Is.EqualTo(classifier.Descriptor.ImageMean));
    }

    [Test]
    public void Load_ImageSizeOverrideThatContradictsTheModel_FailsClearly() =>
        Assert.That(() => Load(ModelFixtures.Split, o => o with { Preprocess = new PreprocessOverrides { Size = 224 } }),
            Throws.TypeOf<ClipModelException>().With.Message.Contains("image size 224 does not match"));

    [Test]
    public void Load_MissingTokenizer_FailsClearly()
    {
        var directory = Path.Combine(Path.GetTempPath(), "clip-no-tokenizer-" + Guid.NewGuid().ToString("N"));
        CopyDirectory(ModelFixtures.Split, directory);
        File.Delete(Path.Combine(directory, "bpe_simple_vocab.txt"));
        try
        {
            Assert.That(() => Load(directory), Throws.TypeOf<ClipModelException>().With.Message.Contains("Could not load the tokenizer"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Options_TemplateWithoutPlaceholder_IsRejected() =>
        Assert.That(() => new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = "x" }, PromptTemplates = ["a photo"] },
            Throws.ArgumentException.With.Message.Contains("exactly one {}"));

    internal static void CopyDirectory(string source, string destination)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
