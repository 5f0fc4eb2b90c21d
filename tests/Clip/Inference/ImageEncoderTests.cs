using Clip.Inference;
using static Truss.Clip.Tests.Clip.Inference.ModelFixtures;

namespace Truss.Clip.Tests.Clip.Inference;

public class ImageEncoderTests
{
    private const int Images = 5;

    [TestCase(ClipModelLayout.Split, TestName = "Encode_BatchOnDynamicBatchGraph_EqualsSingleCalls")]
    [TestCase(ClipModelLayout.Combined, TestName = "Encode_BatchOnCombinedGraph_EqualsSingleCalls")]
    [TestCase(ClipModelLayout.Immich, TestName = "Encode_BatchOnFixedBatchOneGraph_RunsPerImageAndEqualsSingleCalls")]
    public void Encode_Batch_EqualsSingleCalls(ClipModelLayout layout)
    {
        using ClipModel model = Load(DirectoryOf(layout));
        int perImage = 3 * model.ImageEncoder.ImageSize * model.ImageEncoder.ImageSize;
        int dim = model.ImageEncoder.EmbeddingDim;
        float[] pixels = DistinctImages(Images, perImage);

        float[] batched = EncodeImages(model, pixels, Images);

        for (int i = 0; i < Images; i++)
        {
            float[] single = EncodeImages(model, pixels.AsSpan(i * perImage, perImage).ToArray(), 1);
            Assert.That(batched.AsSpan(i * dim, dim).ToArray(), Is.EqualTo(single).Within(BatchTolerance), $"image {i}");
        }
    }

    [TestCase(ClipModelLayout.Split)]
    [TestCase(ClipModelLayout.Combined)]
    [TestCase(ClipModelLayout.Immich)] // fixed batch: always plain runs, so both settings must agree trivially
    public void Encode_IoBindingOnOrOff_GivesIdenticalEmbeddings(ClipModelLayout layout)
    {
        using ClipModel bound = ClipModel.Load(new ClipModelOptions { ModelDirectory = DirectoryOf(layout), UseIoBinding = true }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using ClipModel plain = ClipModel.Load(new ClipModelOptions { ModelDirectory = DirectoryOf(layout), UseIoBinding = false }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        using ClipModel automatic = Load(DirectoryOf(layout));
        int perImage = 3 * bound.ImageEncoder.ImageSize * bound.ImageEncoder.ImageSize;
        float[] pixels = DistinctImages(Images, perImage);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(bound.ImageEncoder.UsesIoBinding, Is.EqualTo(layout != ClipModelLayout.Immich));
            Assert.That(plain.ImageEncoder.UsesIoBinding, Is.False);
            Assert.That(automatic.ImageEncoder.UsesIoBinding, Is.False, "the default (auto) binds on CUDA only");
            Assert.That(EncodeImages(bound, pixels, Images), Is.EqualTo(EncodeImages(plain, pixels, Images)));
        }
    }

    [Test]
    public void Encode_PixelCountNotMatchingBatch_ThrowsArgumentException()
    {
        using ClipModel model = Load(Split);
        var embeddings = new float[2 * model.ImageEncoder.EmbeddingDim];

        var e = Assert.Throws<ArgumentException>(() => model.ImageEncoder.Encode(new float[100], 2, embeddings));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(e.ParamName, Is.EqualTo("pixels"));
            Assert.That(e.Message, Does.Contain("2 x 3 x 32 x 32 = 6144").And.Contain("got 100"));
        }
    }

    [Test]
    public void Encode_OutputOfWrongLength_ThrowsArgumentException()
    {
        using ClipModel model = Load(Split);

        var e = Assert.Throws<ArgumentException>(
            () => model.ImageEncoder.Encode(ReferencePixels(), 2, new float[model.ImageEncoder.EmbeddingDim]));

        Assert.That(e.ParamName, Is.EqualTo("embeddings"));
    }

    [Test]
    public void Encode_ConcurrentCalls_GiveTheSameEmbeddingsAsOneCall()
    {
        using ClipModel model = Load(Immich);
        float[] pixels = ReferencePixels();
        float[] expected = EncodeImages(model, pixels, 2);
        var results = new float[16][];

        Parallel.For(0, results.Length, i => results[i] = EncodeImages(model, pixels, 2));

        foreach (float[] result in results)
        {
            Assert.That(result, Is.EqualTo(expected).Within(BatchTolerance));
        }
    }

    /// <summary>Different deterministic images, so a row mix-up in batching would show.</summary>
    private static float[] DistinctImages(int count, int perImage)
    {
        var pixels = new float[count * perImage];
        for (int i = 0; i < pixels.Length; i++)
        {
            int image = i / perImage;
            pixels[i] = MathF.Sin((i % perImage) * (0.01f + (0.013f * image))) * (1f + (0.25f * image));
        }

        return pixels;
    }
}
