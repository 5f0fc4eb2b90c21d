using Truss.Server;
using Truss.Server.Serialization;

namespace Truss.Clip.Tests.model;

// Every case runs twice: with strings as .NET strings, and with every string as a Utf8Text view of the body (what
// the server hands Model for long strings, e.g. base64 images), so both representations obey the same rules.
[TestFixture(int.MaxValue)]
[TestFixture(1)]
public class PredictRequestTests(int utf8TextMinBytes)
{
    private static readonly RequestLimits Limits = new(MaxLabels: 3, MaxLabelLength: 10, MaxBatchImages: 3, MaxTemplates: 2);

    private PredictRequest Parse(string json) =>
        PredictRequest.Parse(JsonPayloadReader.Read(System.Text.Encoding.UTF8.GetBytes(json).AsMemory(), utf8TextMinBytes: utf8TextMinBytes), Limits);

    [Test]
    public void Parse_LabelsAndUrl_Accepted()
    {
        var request = Parse("""{"labels": ["cat", "dog"], "image_url": "http://127.0.0.1/x.png"}""");

        Assert.That(request.Labels, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(request.Images.Single().Url, Is.EqualTo("http://127.0.0.1/x.png"));
        Assert.That(request.Images.Single().Field, Is.EqualTo("image_url"));
    }

    [TestCase("[]", 400, "The request body must be a JSON object")]
    [TestCase("""{"image_url": "http://a/b"}""", 400, "Missing `labels`")]
    [TestCase("""{"labels": "cat", "image_url": "http://a/b"}""", 400, "`labels` must be a list of strings.")]
    [TestCase("""{"labels": [], "image_url": "http://a/b"}""", 422, "`labels` must not be empty.")]
    [TestCase("""{"labels": ["a", 1], "image_url": "http://a/b"}""", 400, "`labels[1]` must be a string.")]
    [TestCase("""{"labels": ["a", ""], "image_url": "http://a/b"}""", 422, "`labels[1]` is empty.")]
    [TestCase("""{"labels": ["a", "  "], "image_url": "http://a/b"}""", 422, "`labels[1]` is blank.")]
    [TestCase("""{"labels": ["a", "b", "c", "d"], "image_url": "http://a/b"}""", 413, "`labels` has 4 entries; the limit is 3")]
    [TestCase("""{"labels": ["abcdefghijk"], "image_url": "http://a/b"}""", 413, "`labels[0]` has 11 characters; the limit is 10")]
    [TestCase("""{"labels": ["a"]}""", 400, "Missing image")]
    [TestCase("""{"labels": ["a"], "image": [[[1,2,3]]], "image_url": "http://a/b"}""", 400, "Send exactly one of `image`, `image_url` or `image_base64`")]
    [TestCase("""{"labels": ["a"], "image_base64": "aGk=", "image_url": "http://a/b"}""", 400, "Send exactly one of")]
    [TestCase("""{"labels": ["a"], "image_base64": "not base64!"}""", 400, "`image_base64` is not valid base64.")]
    [TestCase("""{"labels": ["a"], "image_base64": "data:image/png,xyz"}""", 400, "`image_base64` data URIs must be")]
    [TestCase("""{"labels": ["a"], "image_base64": 12}""", 400, "`image_base64` must be a non-empty base64 string")]
    [TestCase("""{"labels": ["a"], "image_url": 5}""", 400, "`image_url` must be a non-empty string.")]
    [TestCase("""{"labels": ["a"], "images": []}""", 422, "`images` must not be empty.")]
    [TestCase("""{"labels": ["a"], "images": {}}""", 400, "`images` must be a list of objects")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": "http://a/b"}, 3]}""", 400, "`images[1]` must be an object")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": "http://a/b"}, {}]}""", 400, "Missing image in `images[1]`")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": "http://a/b", "image_base64": "aGk="}]}""", 400, "Send exactly one of `image`, `image_url` or `image_base64` in `images[0]`")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": "http://a/b"}], "image_url": "http://a/b"}""", 400, "Send either `images` or `image_url`, not both.")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": ""}]}""", 400, "`images[0].image_url` must be a non-empty string.")]
    [TestCase("""{"labels": ["a"], "images": [{"image_url": "u"}, {"image_url": "u"}, {"image_url": "u"}, {"image_url": "u"}]}""", 413, "`images` has 4 entries; the limit is 3")]
    [TestCase("""{"labels": ["a"], "image_url": "u", "templates": "a {}"}""", 400, "`templates` must be a list of strings.")]
    [TestCase("""{"labels": ["a"], "image_url": "u", "templates": ["a photo"]}""", 422, "`templates`: The prompt template \"a photo\" must contain exactly one {}")]
    [TestCase("""{"labels": ["a"], "image_url": "u", "templates": ["{} {}"]}""", 422, "`templates`: The prompt template")]
    [TestCase("""{"labels": ["a"], "image_url": "u", "templates": []}""", 422, "`templates` must not be empty.")]
    [TestCase("""{"labels": ["a", "b"], "image_url": "u", "top_k": 0}""", 422, "`top_k` must be between 1 and the number of labels (2).")]
    [TestCase("""{"labels": ["a", "b"], "image_url": "u", "top_k": 3}""", 422, "`top_k` must be between 1 and the number of labels (2).")]
    [TestCase("""{"labels": ["a", "b"], "image_url": "u", "top_k": 1.5}""", 400, "`top_k` must be an integer.")]
    [TestCase("""{"labels": ["a", "b"], "image_url": "u", "top_k": "1"}""", 400, "`top_k` must be an integer.")]
    public void Parse_BadRequest_NamesFieldAndRule(string json, int status, string message) =>
        Assert.That(() => Parse(json), Throws.TypeOf<ModelInputException>()
            .With.Message.StartsWith(message).And.Property(nameof(ModelInputException.StatusCode)).EqualTo(status));

    [TestCase("aGVsbG8=")]
    [TestCase("data:image/png;base64,aGVsbG8=")]
    [TestCase("DATA:image/png;BASE64,aGVsbG8=")]
    [TestCase("aGVs bG8=")] // whitespace inside, as Python's b64decode and Convert.FromBase64String accept
    [TestCase("aGVsbG8=\\n")] // an escaped newline: always a string, never a view
    public void Parse_ImageBase64_RawOrDataUri_Decodes(string value) =>
        Assert.That(Parse($$"""{"labels": ["a"], "image_base64": "{{value}}"}""").Images[0].Inline!.Decode(bytes => bytes.ToArray()),
            Is.EqualTo("hello"u8.ToArray()));

    [Test]
    public void Parse_DataUriInImageUrl_IsInlineNotFetched()
    {
        var image = Parse("""{"labels": ["a"], "image_url": "data:image/png;base64,aGk="}""").Images[0];

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.Url, Is.Null);
            Assert.That(image.Inline!.Decode(bytes => bytes.ToArray()), Is.EqualTo("hi"u8.ToArray()));
        }
    }

    [Test]
    public void Parse_BatchWithTemplatesAndTopK_KeepsEverything()
    {
        var request = Parse("""{"labels": ["a", "b"], "images": [{"image_url": "http://x/1"}, {"image_base64": "aGk="}, {"image": [[0]]}], "templates": ["a {}."], "top_k": 1}""");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(request.Images.Select(i => i.Field), Is.EqualTo(new[] { "images[0].image_url", "images[1].image_base64", "images[2].image" }));
            Assert.That(request.Templates, Is.EqualTo(new[] { "a {}." }));
            Assert.That(request.TopK, Is.EqualTo(1));
        }
    }
}

public class ClipSettingsTests
{
    private static ClipSettings Parse(string yaml, IReadOnlyDictionary<string, string>? environment = null) =>
        ClipSettings.From(
            global::Truss.Server.Configuration.TrussConfig.Parse(new StringReader(yaml), "/srv/truss"),
            null,
            name => environment is not null && environment.TryGetValue(name, out var value) ? value : null);

    [Test]
    public void From_CudaSection_MapsToProviderOptions()
    {
        var settings = Parse("""
            resources:
              accelerator: H100
            model_metadata:
              clip:
                execution:
                  cuda_device_id: 1
                  cuda:
                    arena_extend_strategy: kSameAsRequested
                    cudnn_conv_algo_search: heuristic
                    gpu_mem_limit_bytes: 4294967296
                    use_tf32: false
                  io_binding: false
            """);

        var model = settings.Engine.Model;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.UseCuda, Is.True, "an accelerator in resources turns CUDA on");
            Assert.That(model.CudaDeviceId, Is.EqualTo(1));
            Assert.That(model.CudaProviderOptions["arena_extend_strategy"], Is.EqualTo("kSameAsRequested"));
            Assert.That(model.CudaProviderOptions["cudnn_conv_algo_search"], Is.EqualTo("HEURISTIC"));
            Assert.That(model.CudaProviderOptions["gpu_mem_limit"], Is.EqualTo("4294967296"));
            Assert.That(model.CudaProviderOptions["use_tf32"], Is.EqualTo("0"));
            Assert.That(model.UseIoBinding, Is.False);
        }
    }

    [Test]
    public void From_Defaults_EmbeddedModelOnCpuWithBatching()
    {
        var settings = Parse("model_name: x\n");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(settings.Engine.Model.ModelDirectory, Is.EqualTo("/srv/truss/data/tiny-clip"));
            Assert.That(settings.Engine.Model.UseCuda, Is.False);
            Assert.That(settings.Engine.Batching, Is.Not.Null);
            Assert.That(settings.Engine.FastJpegDecode, Is.False);
            Assert.That(settings.Engine.Decode.JpegDecoder, Is.EqualTo(global::Clip.Imaging.JpegDecoder.Auto));
            Assert.That(settings.Engine.LogitScale, Is.EqualTo(100f));
            Assert.That(settings.Engine.PreprocessThreads, Is.Zero, "no bound of its own");
            Assert.That(settings.Engine.EffectiveMaxPixelsInFlight, Is.EqualTo(100_000_000), "twice max_pixels");
            Assert.That(settings.Limits, Is.EqualTo(new RequestLimits(1000, 1000, 32, 16, MaxEmbeddingInputs: 2048, MaxEmbeddingInputLength: 32768)));
        }
    }

    [Test]
    public void From_ExecutionThreads_AreRead()
    {
        var settings = Parse("model_metadata:\n  clip:\n    execution:\n      intra_op_threads: 3\n      inter_op_threads: 2\n      preprocess_threads: 5\n");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(settings.Engine.Model.IntraOpThreads, Is.EqualTo(3));
            Assert.That(settings.Engine.Model.InterOpThreads, Is.EqualTo(2));
            Assert.That(settings.Engine.PreprocessThreads, Is.EqualTo(5));
        }
    }

    [Test]
    public void From_MaxPixelsInFlight_IsRead_AndFollowsMaxPixelsWhenAbsent()
    {
        var set = Parse("model_metadata:\n  clip:\n    image:\n      max_pixels_in_flight: 30000000\n");
        var derived = Parse("model_metadata:\n  clip:\n    image:\n      max_pixels: 1000000\n");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(set.Engine.EffectiveMaxPixelsInFlight, Is.EqualTo(30_000_000));
            Assert.That(derived.Engine.MaxPixelsInFlight, Is.Null);
            Assert.That(derived.Engine.EffectiveMaxPixelsInFlight, Is.EqualTo(2_000_000));
        }
    }

    [Test]
    public void From_FetchMaxBytesInFlight_DefaultsTo256MiB_AndIsRead()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Parse("model_name: x\n").Fetch.MaxBytesInFlight, Is.EqualTo(256L * 1024 * 1024));
            Assert.That(Parse("model_metadata:\n  clip:\n    fetch:\n      max_bytes_in_flight: 50000000\n").Fetch.MaxBytesInFlight, Is.EqualTo(50_000_000));
            Assert.That(Parse("model_metadata:\n  clip:\n    fetch:\n      max_bytes: 300000000\n").Fetch.MaxBytesInFlight, Is.EqualTo(300_000_000), "never below max_bytes");
        }
    }

    [TestCase("model_name: x\n", "cuda", true)]
    [TestCase("model_name: x\n", " CUDA ", true)]
    [TestCase("model_metadata:\n  clip:\n    execution:\n      device: cuda\n", "cpu", false)]
    [TestCase("resources:\n  accelerator: T4\n", "cpu", false)]
    [TestCase("resources:\n  accelerator: T4\n", "auto", true)]
    [TestCase("model_name: x\n", "auto", false)]
    public void From_DeviceVariable_OverridesConfigDevice(string yaml, string device, bool useCuda)
    {
        // The GPU image sets CLIP_EXECUTION_DEVICE=cuda so that the same config.yaml runs on the GPU there.
        var settings = Parse(yaml, new Dictionary<string, string> { [ClipSettings.ExecutionDeviceVariable] = device });

        Assert.That(settings.Engine.Model.UseCuda, Is.EqualTo(useCuda));
    }

    [Test]
    public void From_DeviceVariableWithUnknownValue_NamesTheVariable() =>
        Assert.That(
            () => Parse("model_name: x\n", new Dictionary<string, string> { [ClipSettings.ExecutionDeviceVariable] = "tpu" }),
            Throws.TypeOf<global::Truss.Server.Configuration.TrussConfigException>()
                .With.Message.EqualTo("$CLIP_EXECUTION_DEVICE must be one of auto, cpu, cuda, got 'tpu'"));

    [TestCase("auto", global::Clip.Imaging.JpegDecoder.Auto)]
    [TestCase("skia", global::Clip.Imaging.JpegDecoder.Skia)]
    public void From_JpegDecoder_IsRead(string value, global::Clip.Imaging.JpegDecoder expected)
    {
        var settings = Parse($"model_metadata:\n  clip:\n    image:\n      jpeg_decoder: {value}\n      alpha: white\n");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(settings.Engine.Decode.JpegDecoder, Is.EqualTo(expected));
            Assert.That(settings.Engine.Decode.AlphaMode, Is.EqualTo(global::Clip.Imaging.AlphaMode.White), "the other image keys still apply");
        }
    }

    [Test]
    public void From_EmbeddingLimits_AreRead()
    {
        var settings = Parse("model_metadata:\n  clip:\n    limits:\n      max_embedding_inputs: 7\n      max_embedding_input_length: 99\n");

        Assert.That(settings.Limits, Is.EqualTo(new RequestLimits(1000, 1000, 32, 16, MaxEmbeddingInputs: 7, MaxEmbeddingInputLength: 99)));
    }

    [TestCase("model_metadata:\n  clip:\n    execution:\n      cuda:\n        cudnn_conv_algo_search: FASTEST\n", "model_metadata.clip.execution.cuda.cudnn_conv_algo_search must be one of EXHAUSTIVE, HEURISTIC, DEFAULT")]
    [TestCase("model_metadata:\n  clip:\n    image:\n      jpeg_decoder: turbo\n", "model_metadata.clip.image.jpeg_decoder must be one of auto, skia")]
    [TestCase("model_metadata:\n  clip:\n    execution:\n      device: tpu\n", "model_metadata.clip.execution.device must be one of auto, cpu, cuda")]
    [TestCase("model_metadata:\n  clip:\n    prompt_templates: [\"a photo\"]\n", "model_metadata.clip: The prompt template \"a photo\" must contain exactly one {}")]
    [TestCase("model_metadata:\n  clip:\n    batching:\n      max_batch_size: 0\n", "model_metadata.clip.batching.max_batch_size must be an integer between 1 and 1024")]
    [TestCase("model_metadata:\n  clip:\n    fetch:\n      max_bytes: 1000\n      max_bytes_in_flight: 999\n", "model_metadata.clip.fetch.max_bytes_in_flight must be at least max_bytes")]
    [TestCase("model_metadata:\n  clip:\n    image:\n      max_pixels_in_flight: 0\n", "model_metadata.clip.image.max_pixels_in_flight must be an integer")]
    [TestCase("model_metadata:\n  clip:\n    execution:\n      preprocess_threads: -1\n", "model_metadata.clip.execution.preprocess_threads must be an integer between 0 and 1024")]
    [TestCase("model_metadata:\n  clip:\n    limits:\n      max_embedding_inputs: 0\n", "model_metadata.clip.limits.max_embedding_inputs must be an integer between 1 and 100000")]
    [TestCase("model_metadata:\n  clip:\n    limits:\n      max_embedding_input_length: many\n", "model_metadata.clip.limits.max_embedding_input_length must be an integer")]
    public void From_BadValue_NamesTheKey(string yaml, string message) =>
        Assert.That(() => Parse(yaml), Throws.TypeOf<global::Truss.Server.Configuration.TrussConfigException>().With.Message.Contains(message));
}
