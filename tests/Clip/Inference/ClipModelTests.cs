using Clip.Inference;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static Truss.Clip.Tests.Clip.Inference.ModelFixtures;

namespace Truss.Clip.Tests.Clip.Inference;

public class ClipModelTests
{
    private static readonly ClipModelLayout[] Layouts = [ClipModelLayout.Split, ClipModelLayout.Immich, ClipModelLayout.Combined];

    [Test]
    public void Load_SplitDirectory_DetectsSplitAndDescribesBothTowers()
    {
        using ClipModel model = Load(Split);
        ClipModelDescriptor d = model.Descriptor;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(d.Layout, Is.EqualTo(ClipModelLayout.Split));
            Assert.That(d.Image.ModelPath, Does.EndWith(Path.Combine("onnx", "vision_model.onnx")));
            Assert.That(d.Image.InputNames, Is.EqualTo(new[] { "pixel_values" }));
            Assert.That(d.Image.PixelInputName, Is.EqualTo("pixel_values"));
            Assert.That(d.Image.PixelElementType, Is.EqualTo(TensorElementType.Float));
            Assert.That(d.Image.FixedBatchSize, Is.Null);
            Assert.That(d.Image.OutputName, Is.EqualTo("image_embeds"));
            Assert.That(d.Image.OutputNormalized, Is.False);
            Assert.That(d.Image.ExecutionProvider, Is.EqualTo(ExecutionProviderKind.Cpu));
            Assert.That(d.Text.ModelPath, Does.EndWith(Path.Combine("onnx", "text_model.onnx")));
            Assert.That(d.Text.IdsInputName, Is.EqualTo("input_ids"));
            Assert.That(d.Text.IdsElementType, Is.EqualTo(TensorElementType.Int64));
            Assert.That(d.Text.AttentionMaskName, Is.Null);
            Assert.That(d.Text.FixedBatchSize, Is.Null);
            Assert.That(d.Text.FixedSequenceLength, Is.Null);
            Assert.That(d.Text.OutputName, Is.EqualTo("text_embeds"));
            Assert.That(d.Text.OutputNormalized, Is.False);
            Assert.That(d.EmbeddingDim, Is.EqualTo(16));
            Assert.That(d.ImageSize, Is.EqualTo(32));
            Assert.That(d.ResizeSize, Is.EqualTo(32));
            Assert.That(d.ResizeMode, Is.EqualTo(ImageResizeMode.Shortest));
            Assert.That(d.Interpolation, Is.EqualTo(ImageInterpolation.Bicubic));
            Assert.That(d.CenterCrop, Is.True);
            Assert.That(d.ImageMean, Is.EqualTo(ClipModelDescriptor.OpenAiMean).Within(1e-7f));
            Assert.That(d.ImageStd, Is.EqualTo(ClipModelDescriptor.OpenAiStd).Within(1e-7f));
            Assert.That(d.ContextLength, Is.EqualTo(77));
            Assert.That(d.PadWithEndOfText, Is.True);
            Assert.That(d.VocabSize, Is.EqualTo(1000));
            Assert.That(
                d.SidecarFiles,
                Is.EquivalentTo(new[] { "config.json", "preprocessor_config.json", "tokenizer_config.json" }));
        }
    }

    [Test]
    public void Load_ImmichDirectory_DetectsImmichWithFixedBatchInt32IdsAndNormalizedOutputs()
    {
        using ClipModel model = Load(Immich);
        ClipModelDescriptor d = model.Descriptor;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(d.Layout, Is.EqualTo(ClipModelLayout.Immich));
            Assert.That(d.Image.PixelInputName, Is.EqualTo("image"));
            Assert.That(d.Image.FixedBatchSize, Is.EqualTo(1));
            Assert.That(d.Image.OutputName, Is.EqualTo("embedding"));
            Assert.That(d.Image.OutputNormalized, Is.True);
            Assert.That(d.Text.IdsInputName, Is.EqualTo("text"));
            Assert.That(d.Text.IdsElementType, Is.EqualTo(TensorElementType.Int32));
            Assert.That(d.Text.AttentionMaskName, Is.Null);
            Assert.That(d.Text.FixedBatchSize, Is.EqualTo(1));
            Assert.That(d.Text.FixedSequenceLength, Is.EqualTo(77));
            Assert.That(d.Text.OutputName, Is.EqualTo("embedding"));
            Assert.That(d.Text.OutputNormalized, Is.True);
            Assert.That(d.EmbeddingDim, Is.EqualTo(16));
            Assert.That(d.ImageSize, Is.EqualTo(32));
            Assert.That(d.ResizeSize, Is.EqualTo(32));
            Assert.That(d.ResizeMode, Is.EqualTo(ImageResizeMode.Shortest));
            Assert.That(d.Interpolation, Is.EqualTo(ImageInterpolation.Bicubic));
            Assert.That(d.CenterCrop, Is.True);
            Assert.That(d.ImageStd, Is.EqualTo(ClipModelDescriptor.OpenAiStd).Within(1e-7f));
            Assert.That(d.ContextLength, Is.EqualTo(77));
            Assert.That(d.PadWithEndOfText, Is.True);
            Assert.That(d.VocabSize, Is.EqualTo(1000));
            Assert.That(
                d.SidecarFiles,
                Is.EquivalentTo(new[] { "config.json", "visual/preprocess_cfg.json", "textual/tokenizer_config.json" }));
        }
    }

    [Test]
    public void Load_CombinedDirectory_DetectsCombinedSharingOneGraphWithNormalizedOutputs()
    {
        using ClipModel model = Load(Combined);
        ClipModelDescriptor d = model.Descriptor;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(d.Layout, Is.EqualTo(ClipModelLayout.Combined));
            Assert.That(d.Image.ModelPath, Is.EqualTo(d.Text.ModelPath));
            Assert.That(d.Image.ModelPath, Does.EndWith("model.onnx"));
            Assert.That(d.Image.InputNames, Is.EquivalentTo(new[] { "input_ids", "pixel_values", "attention_mask" }));
            Assert.That(d.Image.PixelInputName, Is.EqualTo("pixel_values"));
            Assert.That(d.Image.FixedBatchSize, Is.Null);
            Assert.That(d.Image.OutputName, Is.EqualTo("image_embeds"));
            Assert.That(d.Image.OutputNormalized, Is.True);
            Assert.That(d.Text.IdsInputName, Is.EqualTo("input_ids"));
            Assert.That(d.Text.IdsElementType, Is.EqualTo(TensorElementType.Int64));
            Assert.That(d.Text.AttentionMaskName, Is.EqualTo("attention_mask"));
            Assert.That(d.Text.FixedSequenceLength, Is.Null);
            Assert.That(d.Text.OutputName, Is.EqualTo("text_embeds"));
            Assert.That(d.Text.OutputNormalized, Is.True);
            Assert.That(d.EmbeddingDim, Is.EqualTo(16));
        }
    }

    [TestCaseSource(nameof(Layouts))]
    public void Encode_FixtureInputs_MatchTorchReferenceWithin1e4(ClipModelLayout layout)
    {
        using ClipModel model = Load(DirectoryOf(layout));
        bool normalized = layout != ClipModelLayout.Split;

        float[] images = EncodeImages(model, ReferencePixels(), 2);
        float[] texts = EncodeTexts(model, ReferenceTokenIds());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(
                images,
                Is.EqualTo(Flatten(normalized ? Expected.ImageEmbedsNormalized : Expected.ImageEmbeds)).Within(TorchTolerance));
            Assert.That(
                texts,
                Is.EqualTo(Flatten(normalized ? Expected.TextEmbedsNormalized : Expected.TextEmbeds)).Within(TorchTolerance));
        }
    }

    [Test]
    public void Encode_AllLayouts_GiveTheSameNormalizedEmbeddingsAndProbabilities()
    {
        int dim = Expected.EmbedDim;
        var images = new List<float[]>();
        var texts = new List<float[]>();
        foreach (ClipModelLayout layout in Layouts)
        {
            using ClipModel model = Load(DirectoryOf(layout));
            images.Add(Normalize(EncodeImages(model, ReferencePixels(), 2), dim));
            texts.Add(Normalize(EncodeTexts(model, ReferenceTokenIds()), dim));
        }

        // Softmax over 100 × cosine turns a 1e-4 cosine error into at most ~1e-2 in a logit; with these
        // near-one-hot fixtures the probabilities then move by well under 1e-4.
        float[] reference = Probabilities(images[0], texts[0], dim, Expected.LogitScale);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(reference, Is.EqualTo(Flatten(Expected.ProbsPerImage)).Within(1e-4f));
            for (int i = 1; i < Layouts.Length; i++)
            {
                Assert.That(images[i], Is.EqualTo(images[0]).Within(TorchTolerance), $"{Layouts[i]} image embeddings");
                Assert.That(texts[i], Is.EqualTo(texts[0]).Within(TorchTolerance), $"{Layouts[i]} text embeddings");
                Assert.That(
                    Probabilities(images[i], texts[i], dim, Expected.LogitScale),
                    Is.EqualTo(reference).Within(1e-4f),
                    $"{Layouts[i]} probabilities");
            }
        }
    }

    [Test]
    public void Load_SplitFp16Variant_FeedsHalfPixelsAndMatchesTorchWithinHalfPrecision()
    {
        using ClipModel model = ClipModel.Load(
            new ClipModelOptions { ModelDirectory = Split, ModelFileVariant = "fp16" }, NullLogger.Instance);

        float[] images = EncodeImages(model, ReferencePixels(), 2);
        float[] texts = EncodeTexts(model, ReferenceTokenIds());

        float[] expectedImages = Flatten(Expected.ImageEmbeds);
        float[] expectedTexts = Flatten(Expected.TextEmbeds);
        int dim = Expected.EmbedDim;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Descriptor.Image.ModelPath, Does.EndWith("vision_model_fp16.onnx"));
            Assert.That(model.Descriptor.Text.ModelPath, Does.EndWith("text_model_fp16.onnx"));
            Assert.That(model.Descriptor.Image.PixelElementType, Is.EqualTo(TensorElementType.Float16));
            // float16 keeps ~3 significant digits: the pixels and the outputs are rounded, the compute is float32.
            Assert.That(images, Is.EqualTo(expectedImages).Within(2e-2f));
            Assert.That(texts, Is.EqualTo(expectedTexts).Within(2e-2f));
            for (int r = 0; r < 2; r++)
            {
                Assert.That(Cosine(images.AsSpan(r * dim, dim), expectedImages.AsSpan(r * dim, dim)), Is.GreaterThan(0.9999f));
            }
        }
    }

    [Test]
    public void Load_SplitWithoutSidecars_UsesClipDefaultsAndPadsWithZero()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));

        using ClipModel model = Load(directory.Path);
        float[] texts = EncodeTexts(model, ReferenceTokenIds());

        ClipModelDescriptor d = model.Descriptor;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(d.SidecarFiles, Is.Empty);
            Assert.That(d.ImageSize, Is.EqualTo(32), "taken from the graph's fixed pixel dims");
            Assert.That(d.ContextLength, Is.EqualTo(77));
            Assert.That(d.PadWithEndOfText, Is.False);
            Assert.That(d.VocabSize, Is.Null);
            Assert.That(d.ImageMean, Is.EqualTo(ClipModelDescriptor.OpenAiMean));
            Assert.That(texts, Is.EqualTo(Flatten(Expected.TextEmbeds)).Within(TorchTolerance), "padding with 0");
        }
    }

    [Test]
    public void Load_ImmichVisualWithExplicitTensorNamesInSplitSlot_Loads()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Immich, "visual", "model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));
        var options = new ClipModelOptions
        {
            ModelDirectory = directory.Path,
            ImageInputName = "image",
            ImageOutputName = "embedding",
        };

        using ClipModel model = ClipModel.Load(options, NullLogger.Instance);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Descriptor.Layout, Is.EqualTo(ClipModelLayout.Split));
            Assert.That(model.Descriptor.Image.PixelInputName, Is.EqualTo("image"));
            Assert.That(model.Descriptor.Image.FixedBatchSize, Is.EqualTo(1));
            Assert.That(model.Descriptor.Image.OutputNormalized, Is.True);
            Assert.That(model.Descriptor.Text.OutputNormalized, Is.False);
        }
    }

    [Test]
    public void Load_ExplicitTowerPathsOutsideAnyLayout_UsesSplitDefaults()
    {
        var options = new ClipModelOptions
        {
            ModelDirectory = Root,
            ImageModelPath = "split/onnx/vision_model.onnx",
            TextModelPath = Path.Combine(Split, "onnx", "text_model.onnx"),
        };

        using ClipModel model = ClipModel.Load(options, NullLogger.Instance);

        Assert.That(model.Descriptor.Layout, Is.EqualTo(ClipModelLayout.Split));
    }

    [Test]
    public void Load_MissingDirectory_ThrowsNamingTheOption()
    {
        string missing = Path.Combine(Root, "does-not-exist");

        var e = Assert.Throws<ClipModelException>(() => Load(missing));

        Assert.That(e.Message, Does.Contain(missing).And.Contain("ClipModelOptions.ModelDirectory"));
    }

    [Test]
    public void Load_DirectoryWithoutModels_ThrowsListingTheLayoutsLookedFor()
    {
        using var directory = new TempModelDirectory();

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(
            e.Message,
            Does.Contain("onnx/vision_model.onnx").And.Contain("visual/model.onnx").And.Contain("model.onnx")
                .And.Contain("ONNX files present: none"));
    }

    [Test]
    public void Load_SplitWithoutTextModel_ThrowsNamingTheMissingFile()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"));

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(e.Message, Does.Contain("Found onnx/vision_model.onnx but not onnx/text_model.onnx"));
    }

    [Test]
    public void Load_VariantThatDoesNotExist_ThrowsListingTheFilesPresent()
    {
        var options = new ClipModelOptions { ModelDirectory = Split, ModelFileVariant = "quantized" };

        var e = Assert.Throws<ClipModelException>(() => ClipModel.Load(options, NullLogger.Instance));

        Assert.That(
            e.Message,
            Does.Contain("onnx/vision_model_quantized.onnx").And.Contain(Path.Combine("onnx", "vision_model_fp16.onnx")));
    }

    [Test]
    public void Load_ExplicitLayoutWhoseFilesAreMissing_ThrowsNamingFileAndOption()
    {
        var options = new ClipModelOptions { ModelDirectory = Split, Layout = ClipModelLayout.Immich };

        var e = Assert.Throws<ClipModelException>(() => ClipModel.Load(options, NullLogger.Instance));

        Assert.That(
            e.Message,
            Does.Contain(Path.Combine(Split, "visual", "model.onnx")).And.Contain("ClipModelOptions.ImageModelPath"));
    }

    [Test]
    public void Load_GraphWithWrongInputName_ThrowsNamingExpectedAndActualInputs()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Immich, "visual", "model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(
            e.Message,
            Does.Contain("vision_model.onnx").And.Contain("'pixel_values'").And.Contain("image: Float [1,3,32,32]")
                .And.Contain("ClipModelOptions.ImageInputName"));
    }

    [Test]
    public void Load_GraphWithWrongOutputName_ThrowsListingTheOutputs()
    {
        var options = new ClipModelOptions { ModelDirectory = Split, TextOutputName = "pooler_output" };

        var e = Assert.Throws<ClipModelException>(() => ClipModel.Load(options, NullLogger.Instance));

        Assert.That(
            e.Message,
            Does.Contain("text_model.onnx").And.Contain("'pooler_output'").And.Contain("text_embeds: Float [batch_size,16]"));
    }

    [Test]
    public void Load_ImageGraphAsTextTower_ThrowsNamingTheElementType()
    {
        var options = new ClipModelOptions
        {
            ModelDirectory = Split,
            TextModelPath = "onnx/vision_model.onnx",
            TextInputName = "pixel_values",
        };

        var e = Assert.Throws<ClipModelException>(() => ClipModel.Load(options, NullLogger.Instance));

        Assert.That(e.Message, Does.Contain("'pixel_values' has element type Float; expected Int32 or Int64"));
    }

    [Test]
    public void Load_TowersWithDifferentEmbeddingDims_ThrowsNamingBothDims()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"),
            (MismatchedTextModel, "onnx/text_model.onnx"));

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(
            e.Message,
            Does.Contain("'image_embeds' has 16").And.Contain("'text_embeds' has 8")
                .And.Contain(Path.Combine(directory.Path, "onnx", "vision_model.onnx"))
                .And.Contain(Path.Combine(directory.Path, "onnx", "text_model.onnx")));
    }

    [Test]
    public void Load_CorruptOnnxFile_ThrowsWrappingTheOnnxRuntimeError()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));
        directory.Write("onnx/vision_model.onnx", "this is not a protobuf");

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(e.Message, Does.Contain(Path.Combine(directory.Path, "onnx", "vision_model.onnx")));
            Assert.That(e.InnerException, Is.InstanceOf<OnnxRuntimeException>());
        }
    }

    [Test]
    public void Load_MalformedSidecar_ThrowsNamingTheFile()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));
        directory.Write("preprocessor_config.json", "{ \"crop_size\": ");

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(e.Message, Does.Contain("preprocessor_config.json").And.Contain("not valid JSON"));
    }

    [Test]
    public void Load_SidecarOfWrongType_ThrowsNamingKeyAndValue()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));
        directory.Write("preprocessor_config.json", "{ \"image_mean\": [0.5, 0.5] }");

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(e.Message, Does.Contain("\"image_mean\" must be 3 numbers (R, G, B); found Array [0.5, 0.5]"));
    }

    [Test]
    public void Load_SidecarImageSizeDisagreesWithGraph_ThrowsNamingBothSizes()
    {
        using TempModelDirectory directory = Assemble(
            (Path.Combine(Split, "onnx", "vision_model.onnx"), "onnx/vision_model.onnx"),
            (Path.Combine(Split, "onnx", "text_model.onnx"), "onnx/text_model.onnx"));
        directory.Write("preprocessor_config.json", "{ \"crop_size\": 224, \"size\": 224 }");

        var e = Assert.Throws<ClipModelException>(() => Load(directory.Path));

        Assert.That(
            e.Message,
            Does.Contain("'pixel_values' is fixed to 32x32 pixels").And.Contain("preprocessor_config.json")
                .And.Contain("says 224"));
    }

    [Test]
    public void Load_ContradictoryPathOptions_ThrowsArgumentExceptionNamingTheOption()
    {
        var options = new ClipModelOptions
        {
            ModelDirectory = Split,
            CombinedModelPath = "model.onnx",
            ImageModelPath = "onnx/vision_model.onnx",
        };

        var e = Assert.Throws<ArgumentException>(() => ClipModel.Load(options, NullLogger.Instance));

        Assert.That(e.ParamName, Is.EqualTo(nameof(ClipModelOptions.CombinedModelPath)));
    }

    [Test]
    public void Encode_AfterDispose_ThrowsObjectDisposedException()
    {
        ClipModel model = Load(Split);
        model.Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.Throws<ObjectDisposedException>(() => EncodeImages(model, ReferencePixels(), 2));
            Assert.Throws<ObjectDisposedException>(() => EncodeTexts(model, ReferenceTokenIds()));
        }
    }
}
