using Clip;
using Clip.Embeddings;
using Clip.Imaging;
using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

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

    /// <summary>The split fixture, with dynamic batching on or off.</summary>
    private static ZeroShotClassifier LoadSplit(bool batching) =>
        Load(ModelFixtures.Split, o => o with { Batching = batching ? new global::Clip.Batching.BatchingOptions() : null });

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
    public void EmbedTexts_MoreThanOneRun_EqualsUncachedEmbeddingsInOrderAndFillsTheCache()
    {
        using var classifier = Load(ModelFixtures.Split);
        var texts = Enumerable.Range(0, ZeroShotClassifier.TextRowsPerRun + 7).Select(i => $"a photo of {i} cats").ToArray();
        var dim = classifier.EmbeddingDim;
        var embeddings = new float[texts.Length * dim];

        classifier.EmbedTexts(texts, embeddings);

        var expected = classifier.EmbedTextsUncached(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.That(embeddings.AsSpan(i * dim, dim).ToArray(), Is.EqualTo(expected[i]).Within(1e-6), texts[i]);
        }

        var rows = classifier.TextRowsEncoded;
        classifier.EmbedTexts(texts[..3], new float[3 * dim]);
        var labels = new float[3 * dim];
        classifier.EmbedLabels(texts[..3], [], labels);
        Assert.That(classifier.TextRowsEncoded, Is.EqualTo(rows), "repeated texts and the same labels without templates are cache hits");
        Assert.That(labels, Is.EqualTo(embeddings[..(3 * dim)]));
    }

    [Test]
    public void EmbedTextsUncached_MoreTextsThanOneRun_EqualsOneTextAtATime()
    {
        using var classifier = Load(ModelFixtures.Split);
        var texts = Enumerable.Range(0, (2 * ZeroShotClassifier.TextRowsPerRun) + 3).Select(i => $"a drawing of {i} red circles").ToArray();

        var together = classifier.EmbedTextsUncached(texts);

        foreach (var i in new[] { 0, ZeroShotClassifier.TextRowsPerRun - 1, ZeroShotClassifier.TextRowsPerRun, texts.Length - 1 })
        {
            Assert.That(together[i], Is.EqualTo(classifier.EmbedTextsUncached([texts[i]])[0]).Within(1e-6), texts[i]);
        }
    }

    [Test]
    public void EmbedTexts_WrongDestinationLength_IsRejected()
    {
        using var classifier = Load(ModelFixtures.Split);

        Assert.That(() => classifier.EmbedTexts(["a", "b"], new float[classifier.EmbeddingDim]), Throws.ArgumentException);
    }

    [Test]
    public void EmbedTexts_Cancelled_StopsBeforeTheTextTower()
    {
        using var classifier = Load(ModelFixtures.Split);

        Assert.That(() => classifier.EmbedTexts(["a", "b"], new float[2 * classifier.EmbeddingDim], new CancellationToken(canceled: true)),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(classifier.TextRowsEncoded, Is.Zero);
    }

    [Test]
    public void CountTokens_IsWhatTheTextTowerReads_TruncatedAtTheContext()
    {
        using var classifier = Load(ModelFixtures.Split);
        var context = classifier.Descriptor.ContextLength;
        var longText = string.Join(' ', Enumerable.Repeat("cat", context * 2));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(classifier.CountTokens("a red circle"), Is.EqualTo(classifier.Tokenizer.Encode("a red circle", context).Length));
            Assert.That(classifier.CountTokens("a red circle"), Is.EqualTo(classifier.Tokenizer.EncodeContent("a red circle").Length + 2), "start and end ids count");
            Assert.That(classifier.CountTokens(" "), Is.EqualTo(2));
            Assert.That(classifier.CountTokens(longText), Is.EqualTo(context));
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task EmbedImagesAsync_WithOrWithoutBatching_EqualsEmbedImages(bool batching)
    {
        using var classifier = LoadSplit(batching);
        using var a = Image(6);
        using var b = Image(7, 80, 20);
        var expected = new float[2 * classifier.EmbeddingDim];
        classifier.EmbedImages([a, b], expected);

        var embeddings = await classifier.EmbedImagesAsync([a, b], CancellationToken.None);

        Assert.That(classifier.Batcher, batching ? Is.Not.Null : Is.Null);
        Assert.That(embeddings, Is.EqualTo(expected).Within(1e-6));
        Assert.That(embeddings.Take(classifier.EmbeddingDim).Sum(v => v * v), Is.EqualTo(1f).Within(1e-5), "unit norm");
    }

    [Test]
    public void PreprocessThreads_SetsTheSlotCount_ZeroMeaningUnbounded()
    {
        using var byDefault = Load(ModelFixtures.Split);
        using var three = Load(ModelFixtures.Split, o => o with { PreprocessThreads = 3 });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(byDefault.PreprocessingSlots.Count, Is.EqualTo(PreprocessingSlots.Unbounded));
            Assert.That(three.PreprocessingSlots.Count, Is.EqualTo(3));
            Assert.That(() => new ClipEngineOptions { Model = new ClipModelOptions { ModelDirectory = ModelFixtures.Split }, PreprocessThreads = -1 },
                Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ClassifyAsync_AllSlotsHeld_WaitsForOne_ThenGivesItBack(bool batching)
    {
        using var classifier = Load(ModelFixtures.Split, o => o with
        {
            PreprocessThreads = 1,
            Batching = batching ? new global::Clip.Batching.BatchingOptions() : null,
        });
        using var image = Image(8);
        var expected = classifier.Classify([image], Labels);
        var held = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);

        var classifying = classifier.ClassifyAsync([image], Labels, null, CancellationToken.None);
        Assert.That(await Poll.UntilAsync(() => classifier.PreprocessingSlots.Waiting == 1), Is.True, "it waits for the slot");

        Assert.That(classifying.IsCompleted, Is.False, "it may not preprocess while the only slot is held");
        held.Dispose();
        var probabilities = await classifying.WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(probabilities[0], Is.EqualTo(expected[0]).Within(1e-6));
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero, "its own slot was given back");
            Assert.That(classifier.PreprocessingSlots.Waiting, Is.Zero);
        }
    }

    [Test]
    public async Task ClassifyAsync_CallersSlot_IsGivenBack_OnSuccessAndOnFailure()
    {
        using var classifier = Load(ModelFixtures.Split, o => o with { PreprocessThreads = 1 });
        using var image = Image(9);

        var slot = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);
        await classifier.ClassifyAsync([image], Labels, null, CancellationToken.None, slot);
        var failing = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);
        var noLabels = classifier.ClassifyAsync([image], [], null, CancellationToken.None, failing);
        var empty = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);
        var noImages = await classifier.EmbedImagesAsync([], CancellationToken.None, empty);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(slot.IsHeld, Is.False);
            Assert.That(async () => await noLabels, Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(failing.IsHeld, Is.False);
            Assert.That(noImages, Is.Empty);
            Assert.That(empty.IsHeld, Is.False);
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task ClassifyAsync_WithALoader_DecodesOneImageAtATime_AndEqualsTheListOverload(bool batching)
    {
        using var classifier = LoadSplit(batching);
        using var a = Image(11);
        using var b = Image(12, 30, 70);
        using var c = Image(13, 64, 64);
        RgbImage[] sources = [a, b, c];
        var expected = await classifier.ClassifyAsync(sources, Labels, null, CancellationToken.None);
        var expectedEmbeddings = await classifier.EmbedImagesAsync(sources, CancellationToken.None);
        var loaded = new List<RgbImage>();
        var undisposedAtEachLoad = new List<int>();
        ValueTask<RgbImage> LoadCopy(int index, CancellationToken _)
        {
            undisposedAtEachLoad.Add(loaded.Count(image => !IsDisposed(image)));
            var copy = RgbImage.FromRgb(sources[index].Pixels.ToArray(), sources[index].Width, sources[index].Height);
            loaded.Add(copy);
            return new(copy);
        }

        var probabilities = await classifier.ClassifyAsync(sources.Length, LoadCopy, Labels, null, CancellationToken.None);
        var embeddings = await classifier.EmbedImagesAsync(sources.Length, LoadCopy, CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            for (var i = 0; i < sources.Length; i++)
            {
                Assert.That(probabilities[i], Is.EqualTo(expected[i]).Within(1e-6), $"image {i}");
            }

            Assert.That(embeddings, Is.EqualTo(expectedEmbeddings).Within(1e-6));
            Assert.That(undisposedAtEachLoad, Is.EqualTo(new[] { 0, 0, 0, 0, 0, 0 }), "each image is disposed before the next is loaded");
            Assert.That(loaded.All(IsDisposed), Is.True, "the engine disposes every image it loaded");
            Assert.That(a.Pixels.Length, Is.Positive, "images passed as a list stay the caller's");
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
        }
    }

    [Test]
    public async Task ClassifyAsync_LoaderThrows_DisposesWhatItLoaded_GivesTheSlotBack_AndAnnouncesNothing()
    {
        using var classifier = Load(ModelFixtures.Split, o => o with { PreprocessThreads = 1, Batching = new global::Clip.Batching.BatchingOptions() });
        var loaded = new List<RgbImage>();
        ValueTask<RgbImage> LoadOrFail(int index, CancellationToken _)
        {
            if (index == 1)
            {
                throw new InvalidDataException("image 1 is not an image");
            }

            var image = Image(14);
            loaded.Add(image);
            return new(image);
        }

        var slot = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);
        var classifying = classifier.ClassifyAsync(3, LoadOrFail, Labels, null, CancellationToken.None, slot);

        Assert.That(async () => await classifying, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("image 1"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(loaded, Has.Count.EqualTo(1), "nothing is loaded after the failure");
            Assert.That(IsDisposed(loaded[0]), Is.True, "the image loaded before the failure is disposed");
            Assert.That(slot.IsHeld, Is.False);
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
            Assert.That(classifier.Batcher!.Announced, Is.Zero, "the announcement ended with the failure");
        }
    }

    [Test]
    public async Task ClassifyAsync_WithALoader_CancelledBetweenImages_LoadsNoMore()
    {
        using var classifier = Load(ModelFixtures.Split, o => o with { PreprocessThreads = 1 });
        using var cancellation = new CancellationTokenSource();
        var loaded = new List<RgbImage>();
        ValueTask<RgbImage> LoadThenCancel(int index, CancellationToken _)
        {
            var image = Image(15);
            loaded.Add(image);
            cancellation.Cancel(); // the client leaves while its first image is being decoded
            return new(image);
        }

        var classifying = classifier.ClassifyAsync(3, LoadThenCancel, Labels, null, cancellation.Token);

        Assert.That(async () => await classifying, Throws.InstanceOf<OperationCanceledException>());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(loaded, Has.Count.EqualTo(1), "no image is decoded after the cancellation");
            Assert.That(IsDisposed(loaded[0]), Is.True);
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
        }
    }

    private static bool IsDisposed(RgbImage image)
    {
        try
        {
            _ = image.Pixels;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    [Test]
    public async Task EmbedImagesAsync_CancelledWhileWaitingForASlot_Throws_AndHoldsNothing()
    {
        using var classifier = Load(ModelFixtures.Split, o => o with { PreprocessThreads = 1, Batching = new global::Clip.Batching.BatchingOptions() });
        using var image = Image(10);
        var held = await classifier.PreprocessingSlots.EnterAsync(CancellationToken.None);
        using var cancellation = new CancellationTokenSource();

        var embedding = classifier.EmbedImagesAsync([image], cancellation.Token);
        Assert.That(await Poll.UntilAsync(() => classifier.PreprocessingSlots.Waiting == 1), Is.True, "it waits for the slot");
        await cancellation.CancelAsync();

        Assert.That(async () => await embedding, Throws.InstanceOf<OperationCanceledException>());
        held.Dispose();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(classifier.PreprocessingSlots.Busy, Is.Zero);
            Assert.That(classifier.Batcher!.Announced, Is.Zero, "it never announced itself to the batcher");
        }
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
