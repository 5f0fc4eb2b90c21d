using System.CommandLine;
using Truss.Clip.Cli;
using Truss.Clip.Tests.Clip.Imaging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;
using Truss.Clip.Tests.Truss.Server.ModelCache;
using Truss.Server.ModelCache;

namespace Truss.Clip.Tests.cli;

/// <summary><c>fetch</c>, invoked in-process against <see cref="FakeHuggingFaceHub"/> (via <c>HF_ENDPOINT</c>).</summary>
public class FetchCommandTests
{
    private const string Xenova = "Xenova/clip-vit-base-patch32";
    private const string Immich = "immich-app/ViT-B-32__openai";
    private const string Generic = "someone/tiny-clip";
    private FakeHuggingFaceHub _hub = null!;
    private string _directory = "";
    private Dictionary<string, string> _environment = null!;

    [SetUp]
    public async Task StartHub()
    {
        _hub = await FakeHuggingFaceHub.StartAsync();
        _hub.AddRepository(Xenova, ModelFixtures.Split);
        _hub.AddRepository(Generic, ModelFixtures.Split);
        _hub.AddRepository(Immich, ModelFixtures.Immich);
        _directory = Path.Combine(Path.GetTempPath(), "fetch-" + Guid.NewGuid().ToString("N"));
        _environment = new Dictionary<string, string> { ["HF_ENDPOINT"] = _hub.Endpoint.AbsoluteUri };
    }

    [TearDown]
    public async Task StopHub()
    {
        await _hub.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private string Target => Path.Combine(_directory, "model");

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var fetch = new FetchCommand(name => _environment.GetValueOrDefault(name), options => options with
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            ResponseTimeout = TimeSpan.FromSeconds(5),
            ReadTimeout = TimeSpan.FromSeconds(5),
            RetryDelay = TimeSpan.FromMilliseconds(10),
        });
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await new RootCommand { fetch }.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private static string[] Files(string folder)
    {
        var files = new List<string>();
        foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(folder, path);
            if (!relative.StartsWith(".cache", StringComparison.Ordinal))
            {
                files.Add(relative);
            }
        }

        files.Sort(StringComparer.Ordinal);
        return files.ToArray();
    }

    private void AssertIdentical(string fixture, IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            Assert.That(File.ReadAllBytes(Path.Combine(Target, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(fixture, file))), file);
        }
    }

    [Test]
    public async Task Fetch_PresetAlias_DownloadsTheSplitFilesAndPrintsHowToServe()
    {
        var (exitCode, output, error) = await RunAsync("fetch", "vit-b-32", "--dir", Target);

        string[] expected = ["config.json", "onnx/text_model.onnx", "onnx/vision_model.onnx", "preprocessor_config.json", "tokenizer_config.json"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(Files(Target), Is.EqualTo(expected), "the preset's files only: no fp16 towers, no stray vocabulary");
            AssertIdentical(ModelFixtures.Split, expected);
            Assert.That(output, Does.StartWith($"Fetched {Xenova}@main into {Target}: 5 files downloaded"));
            Assert.That(output, Does.Contain($"\n  --model-dir {Target}\n"));
            Assert.That(output, Does.Contain($"  model_metadata:\n    clip:\n      model_dir: {Target}\n"));
            Assert.That(output, Does.Not.Contain("model_variant"));
            Assert.That(error, Does.Contain($"[1/5] "), "plain progress lines when stderr is not a terminal");
            Assert.That(_hub.Requests[0].Path, Is.EqualTo($"/api/models/{Xenova}/revision/main"));
        }
    }

    [Test]
    public async Task Fetch_SecondRun_ReportsEverythingAlreadyPresent()
    {
        await RunAsync("fetch", Xenova, "--dir", Target);

        var (exitCode, output, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        Assert.That(exitCode, Is.Zero, error);
        Assert.That(output, Does.Contain("0 files downloaded (0 B), 5 already present"));
        Assert.That(error, Does.Contain("config.json: already present"));
    }

    [Test]
    public async Task Fetch_VariantFp16_FetchesFp16TowersAndPrintsModelVariant()
    {
        var (exitCode, output, error) = await RunAsync("fetch", Xenova, "--variant", "fp16", "--dir", Target);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(Files(Target), Is.EqualTo(new[]
            {
                "config.json", "onnx/text_model_fp16.onnx", "onnx/vision_model_fp16.onnx", "preprocessor_config.json", "tokenizer_config.json",
            }));
            AssertIdentical(ModelFixtures.Split, ["onnx/text_model_fp16.onnx", "onnx/vision_model_fp16.onnx"]);
            Assert.That(output, Does.Contain($"model_dir: {Target}\n      model_variant: fp16\n"));
            Assert.That(output, Does.Contain("(with model_variant: fp16 in config.yaml)"));
        }
    }

    [Test]
    public async Task Fetch_VariantMissingFromPresetRepo_ExitsWith2NamingTheVariant()
    {
        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--variant", "int8", "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error.Trim(), Is.EqualTo($"error: {Xenova}@main has no onnx/vision_model_quantized.onnx: variant int8 is not available there"));
        Assert.That(Directory.Exists(Target), Is.False);
    }

    [Test]
    public async Task Fetch_ImmichPreset_DownloadsTheImmichLayoutWithoutVariant()
    {
        var (exitCode, output, error) = await RunAsync("fetch", "immich-vit-b-32", "--dir", Target);

        string[] expected = ["config.json", "textual/model.onnx", "textual/tokenizer_config.json", "visual/model.onnx", "visual/preprocess_cfg.json"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(Files(Target), Is.EqualTo(expected));
            AssertIdentical(ModelFixtures.Immich, expected);
            Assert.That(output, Does.Not.Contain("model_variant"));
        }
    }

    [Test]
    public async Task Fetch_ImmichPresetWithFp16_ExitsWith2BeforeAnyRequest()
    {
        var (exitCode, _, error) = await RunAsync("fetch", Immich, "--variant", "fp16", "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error.Trim(), Is.EqualTo($"error: {Immich} has fp32 ONNX models only; --variant fp16 is not available there (drop --variant)"));
        Assert.That(_hub.Requests, Is.Empty);
    }

    [Test]
    public async Task Fetch_GenericRepoFp16_PrintedConfigServesPredictions()
    {
        var (exitCode, output, error) = await RunAsync("fetch", Generic, "--variant", "fp16", "--dir", Target);
        Assert.That(exitCode, Is.Zero, error);
        Assert.That(Files(Target), Is.EqualTo(new[]
        {
            "bpe_simple_vocab.txt", "config.json", "onnx/text_model_fp16.onnx", "onnx/vision_model_fp16.onnx", "preprocessor_config.json",
            "tokenizer_config.json",
        }));

        // The printed config.yaml snippet, as the user would paste it, must load the fetched folder.
        var snippet = output[(output.IndexOf("or in config.yaml:\n", StringComparison.Ordinal) + "or in config.yaml:\n".Length)..];
        var configPath = Path.Combine(_directory, "config.yaml");
        await File.WriteAllTextAsync(configPath, "model_name: fetched\n" + snippet.Replace("\n  ", "\n", StringComparison.Ordinal).TrimStart());
        var rgb = new byte[32 * 32 * 3];
        new Random(7).NextBytes(rgb);
        var imagePath = Path.Combine(_directory, "img.png");
        await File.WriteAllBytesAsync(imagePath, TestImages.EncodeRgb(rgb, 32, 32, SkiaSharp.SKEncodedImageFormat.Png));
        var predictOutput = new StringWriter();
        var predictError = new StringWriter();
        var predictExit = await TrussClipCommandLine.CreateRoot()
            .Parse(["predict", "--image", imagePath, "--labels", "a cat,a dog", "--config", configPath])
            .InvokeAsync(new InvocationConfiguration { Output = predictOutput, Error = predictError });

        Assert.That(predictExit, Is.Zero, predictError.ToString());
        Assert.That(predictOutput.ToString(), Does.StartWith("{\"status\": \"success\""));
    }

    [Test]
    public async Task Fetch_GenericImmichRepoWithVariant_ExitsWith2()
    {
        _hub.AddRepository("someone/immich-like", ModelFixtures.Immich);

        var (exitCode, _, error) = await RunAsync("fetch", "someone/immich-like", "--variant", "int8", "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error, Does.Contain("variant int8 is not available there"));
    }

    [Test]
    public async Task Fetch_TransferInterrupted_ResumesWithRangeAndFileIsIntact()
    {
        _hub.CutTransferOnce(Xenova, "onnx/text_model.onnx", 100_000);

        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        var transfers = _hub.Requests.Where(r => r.Path == $"/cdn/{Xenova}/onnx/text_model.onnx").ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, error);
            Assert.That(transfers, Has.Count.EqualTo(2));
            Assert.That(transfers[1].Range, Is.EqualTo("bytes=100000-"));
            AssertIdentical(ModelFixtures.Split, ["onnx/text_model.onnx"]);
        }
    }

    [Test]
    public async Task Fetch_ChecksumMismatch_ExitsWith1AndLeavesNoCorruptFile()
    {
        _hub.Corrupt(Xenova, "onnx/vision_model.onnx");

        var (exitCode, output, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(1));
            Assert.That(output, Is.Empty);
            Assert.That(error, Does.Contain($"error: onnx/vision_model.onnx: checksum mismatch, expected sha256 {_hub.Sha256(Xenova, "onnx/vision_model.onnx")}, got "));
            Assert.That(Files(Target), Does.Not.Contain("onnx/vision_model.onnx").And.Not.Contain("onnx/vision_model.onnx.incomplete"));
        }
    }

    [Test]
    public async Task Fetch_GatedWithoutToken_ExitsWith1AskingForHfToken()
    {
        _hub.RequiredToken = "hf_test_token";

        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.StartWith($"error: {Xenova} is gated or private: set HF_TOKEN to a token that can read it"));
    }

    [Test]
    public async Task Fetch_GatedWithHfToken_Succeeds()
    {
        _hub.RequiredToken = "hf_test_token";
        _environment["HF_TOKEN"] = "hf_test_token";

        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        Assert.That(exitCode, Is.Zero, error);
    }

    [Test]
    public async Task Fetch_UnknownRepo_ExitsWith1RepositoryOrRevisionNotFound()
    {
        var (exitCode, _, error) = await RunAsync("fetch", "nobody/nothing", "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.Contain("nobody/nothing@main: repository or revision not found"));
    }

    [Test]
    public async Task Fetch_UnknownRevision_ExitsWith1NamingIt()
    {
        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--revision", "v0-missing", "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error.Trim(), Is.EqualTo($"error: {Xenova}: revision 'v0-missing' not found (HTTP 404)"));
    }

    [Test]
    public async Task Fetch_EndpointOffline_ExitsWith1CannotReach()
    {
        var endpoint = $"http://127.0.0.1:{HuggingFaceHubClientTests.UnusedPort()}";
        _environment["HF_ENDPOINT"] = endpoint;

        var (exitCode, _, error) = await RunAsync("fetch", Xenova, "--dir", Target);

        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.StartWith($"error: cannot reach {endpoint} (offline?)"));
        Assert.That(error.TrimEnd(), Does.Not.Contain('\n'), "one line");
    }

    [TestCase(new[] { "fetch" }, "error: name a model to fetch")]
    [TestCase(new[] { "fetch", "vit-b-32", "--variant", "fp8" }, "error: --variant must be fp32, fp16 or int8, got 'fp8'")]
    [TestCase(new[] { "fetch", "not a repo" }, "error: 'not a repo' is not a Hugging Face repository id")]
    [TestCase(new[] { "fetch", "vit-b-32", "extra" }, "error: unexpected argument 'extra'")]
    public async Task Fetch_BadArguments_ExitWith2(string[] args, string message)
    {
        var (exitCode, _, error) = await RunAsync(args);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error, Does.StartWith(message));
        Assert.That(_hub.Requests, Is.Empty);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ProgressRenderer_OneFile_DrawsABarOnATerminalAndLinesOtherwise(bool terminal)
    {
        var error = new StringWriter();
        var renderer = new FetchCommand.ProgressRenderer(error, terminal);

        renderer.Report(new DownloadProgress("a.json", DownloadStage.Skipped, 10, 10, 1, 2));
        renderer.Report(new DownloadProgress("onnx/m.onnx", DownloadStage.Starting, 0, 2048, 2, 2));
        renderer.Report(new DownloadProgress("onnx/m.onnx", DownloadStage.Transferring, 1024, 2048, 2, 2));
        renderer.Report(new DownloadProgress("onnx/m.onnx", DownloadStage.Completed, 2048, 2048, 2, 2));

        var text = error.ToString();
        Assert.That(text, Does.StartWith("[1/2] a.json: already present\n"));
        if (terminal)
        {
            Assert.That(text, Does.Contain("\r[2/2] onnx/m.onnx [" + new string('#', 28) + "] 100% 2.0 KiB/2.0 KiB"));
            Assert.That(text, Does.EndWith("\n"));
        }
        else
        {
            Assert.That(text, Is.EqualTo("[1/2] a.json: already present\n[2/2] onnx/m.onnx: downloading 2.0 KiB\n"));
        }
    }

    [Test]
    public void FindPreset_RepoIdOrAlias_FindsIt()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FetchCommand.FindPreset("VIT-L-14")!.RepoId, Is.EqualTo("Xenova/clip-vit-large-patch14"));
            Assert.That(FetchCommand.FindPreset("xenova/clip-vit-base-patch32")!.Layout, Is.EqualTo(FetchCommand.ExportLayout.Split));
            Assert.That(FetchCommand.FindPreset(Immich)!.Layout, Is.EqualTo(FetchCommand.ExportLayout.Immich));
            Assert.That(FetchCommand.FindPreset("someone/else"), Is.Null);
            Assert.That(FetchCommand.DefaultDirectory(Xenova), Is.EqualTo(Path.Combine("models", "Xenova__clip-vit-base-patch32")));
        }
    }

    [Test]
    public void Plan_XenovaInt8_PicksQuantizedTowersAndVariantQuantized()
    {
        var repository = new HubRepository("Xenova/clip-vit-large-patch14", "main", null,
        [
            new HubFile("onnx/model.onnx", 1, null, null),
            new HubFile("onnx/vision_model_quantized.onnx", 1, null, null),
            new HubFile("onnx/text_model_quantized.onnx", 1, null, null),
            new HubFile("onnx/vision_model_int8.onnx", 1, null, null),
            new HubFile("onnx/text_model_int8.onnx", 1, null, null),
            new HubFile("tokenizer.json", 1, null, null),
            new HubFile("merges.txt", 1, null, null),
            new HubFile("README.md", 1, null, null),
        ]);

        var (preset, presetVariant) = FetchCommand.Plan(repository, FetchCommand.FindPreset("vit-l-14"), FetchCommand.Variant.Int8);
        var (generic, genericVariant) = FetchCommand.Plan(repository with { RepoId = "a/b" }, null, FetchCommand.Variant.Int8);

        string[] expected = ["onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx", "tokenizer.json", "merges.txt"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(preset.Select(f => f.Path), Is.EqualTo(expected));
            Assert.That(presetVariant, Is.EqualTo("quantized"));
            Assert.That(generic.Select(f => f.Path), Is.EquivalentTo(expected), "generic: one int8 family, towers only");
            Assert.That(genericVariant, Is.EqualTo("quantized"));
        }
    }
}
