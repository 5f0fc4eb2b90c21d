using System.Net;
using System.Text.Json;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;
using Truss.Server;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.ModelCache;

/// <summary>config.yaml's model_cache through a real server, with <see cref="FakeHuggingFaceHub"/> as the Hub.</summary>
public class ModelCacheServerTests
{
    private const string Repo = "test-org/tiny-clip-split";
    private FakeHuggingFaceHub _hub = null!;
    private string _directory = "";

    [SetUp]
    public async Task StartHub()
    {
        _hub = await FakeHuggingFaceHub.StartAsync();
        _hub.AddRepository(Repo, ModelFixtures.Split);
        _directory = Path.Combine(Path.GetTempPath(), "model-cache-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public async Task StopHub()
    {
        await _hub.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string CachedFolder => Path.Combine(_directory, "cache", "clip");

    private static string Config(string repo = Repo, string extra = "") => $"""
        model_name: cached
        {extra}
        model_cache:
          - repo_id: {repo}
            use_volume: true
            volume_folder: clip
            allow_patterns: ["onnx/*.onnx", "*.json"]
            ignore_patterns: ["*_fp16.onnx"]
        model_metadata:
          server:
            model_cache_dir: cache
        """;

    private Dictionary<string, string> Environment(params (string Name, string Value)[] more)
    {
        var environment = new Dictionary<string, string> { ["HF_ENDPOINT"] = _hub.Endpoint.AbsoluteUri };
        foreach (var (name, value) in more)
        {
            environment[name] = value;
        }

        return environment;
    }

    [Test]
    public async Task Start_ModelCacheEntry_DownloadsBeforeTheModelExistsWhileReadinessIs503()
    {
        CacheReadingModel? model = null;
        var hold = _hub.HoldFileRequests();
        await using var server = await TestTrussServer.StartAsync(
            context => model = new CacheReadingModel(Path.Combine(context.Config.ModelCache.Root, "clip")),
            Config(), Environment(), _directory);

        await _hub.FileRequestHeld.WaitAsync(TimeSpan.FromSeconds(10));
        var readiness = await server.Client.GetAsync("/v1/models/model");
        var liveness = await server.Client.GetAsync("/");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(readiness.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(liveness.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(server.Server.Host.State, Is.EqualTo(ModelState.Loading));
            Assert.That(model, Is.Null, "the model is constructed only after the download");
        }

        hold.Dispose();
        await server.WaitUntilReadyAsync();

        var ready = await server.Client.GetAsync("/v1/models/model");
        var predict = await server.Client.PostAsync("/v1/models/model:predict", new StringContent("{}"));
        var seen = JsonSerializer.Deserialize<string[]>(await predict.Content.ReadAsStringAsync());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(model!.FilesAtConstruction, Is.EqualTo(new[] { "config.json", "onnx/text_model.onnx", "onnx/vision_model.onnx", "preprocessor_config.json", "tokenizer_config.json" }));
            Assert.That(seen, Is.EqualTo(model.FilesAtConstruction));
            Assert.That(File.ReadAllBytes(Path.Combine(CachedFolder, "onnx", "vision_model.onnx")),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(ModelFixtures.Split, "onnx", "vision_model.onnx"))));
            Assert.That(server.Log.Lines.Any(l => l.Contains("model_cache: fetching") && l.Contains(Repo)), Is.True);
            Assert.That(server.Log.Lines.Any(l => l.Contains("is ready in") && l.Contains("ElapsedMs")), Is.True);
        }
    }

    [Test]
    public async Task Start_FilesAlreadyCached_DownloadsNothing()
    {
        await using (var first = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(), _directory))
        {
            await first.WaitUntilReadyAsync();
        }

        var before = _hub.Requests.Count;
        await using var second = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(), _directory);
        await second.WaitUntilReadyAsync();

        Assert.That(_hub.Requests.Count, Is.EqualTo(before + 1), "only the listing");
    }

    [Test]
    public async Task Start_GatedRepoWithTrussSecret_SendsTheSecretAsToken()
    {
        _hub.RequiredToken = "hf_from_secret";
        await using var server = await TestTrussServer.StartAsync(_ => new FakeModel(),
            Config(extra: "secrets:\n  hf_access_token: null"), Environment(("TRUSS_SECRET_hf_access_token", "hf_from_secret")), _directory);

        await server.WaitUntilReadyAsync();

        Assert.That(File.Exists(Path.Combine(CachedFolder, "onnx", "text_model.onnx")), Is.True);
        Assert.That(_hub.Requests[0].Authorization, Is.EqualTo("Bearer hf_from_secret"));
    }

    [Test]
    public async Task Start_DownloadFails_LoadFailsWithTheReasonAndExitCode1()
    {
        var constructed = false;
        await using var server = await TestTrussServer.StartAsync(_ =>
        {
            constructed = true;
            return new FakeModel();
        }, Config(repo: "nobody/nothing"), Environment(), _directory);

        var exitCode = await server.Server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(TrussServer.LoadFailedExitCode));
            Assert.That(constructed, Is.False);
            Assert.That(server.Log.Lines.Any(l => l.Contains("model_cache: fetching nobody/nothing@main failed") &&
                                                  l.Contains("repository or revision not found")), Is.True);
        }
    }

    [Test]
    public async Task Stop_DuringDownload_CancelsItAndExitsNormally()
    {
        using var hold = _hub.HoldFileRequests();
        await using var server = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(), _directory);
        await _hub.FileRequestHeld.WaitAsync(TimeSpan.FromSeconds(10));

        await server.Server.StopAsync();
        var exitCode = await server.Server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await server.Server.Host.LoadCompletion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(exitCode, Is.Zero);
        Assert.That(server.Server.Host.State, Is.Not.EqualTo(ModelState.Failed));
        Assert.That(await server.Log.WaitForAsync(l => l.Contains("Model loading cancelled"), TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task Start_HfHubOfflineAfterCompleteDownload_UsesTheFilesWithoutTheHub()
    {
        await using (var first = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(), _directory))
        {
            await first.WaitUntilReadyAsync();
        }

        var before = _hub.Requests.Count;
        await using var second = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(("HF_HUB_OFFLINE", "1")), _directory);
        await second.WaitUntilReadyAsync();

        Assert.That(_hub.Requests.Count, Is.EqualTo(before));
        Assert.That(second.Log.Lines.Any(l => l.Contains("HF_HUB_OFFLINE is set; using the 5 files")), Is.True);
    }

    [Test]
    public async Task Start_HfHubOfflineWithNothingDownloaded_FailsTheLoad()
    {
        await using var server = await TestTrussServer.StartAsync(_ => new FakeModel(), Config(), Environment(("HF_HUB_OFFLINE", "1")), _directory);

        var exitCode = await server.Server.WaitForShutdownAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(exitCode, Is.EqualTo(TrussServer.LoadFailedExitCode));
        Assert.That(server.Log.Lines.Any(l => l.Contains("HF_HUB_OFFLINE is set and") && l.Contains("holds no complete download of " + Repo)), Is.True);
    }

    /// <summary>A model that lists, when constructed, the files it finds in its folder, and answers with them.</summary>
    private sealed class CacheReadingModel : ITrussModel
    {
        private readonly string _folder;

        public CacheReadingModel(string folder)
        {
            _folder = folder;
            FilesAtConstruction = List(folder);
        }

        public string[] FilesAtConstruction { get; }

        public void Load()
        {
            if (new FileInfo(Path.Combine(_folder, "onnx", "vision_model.onnx")).Length == 0)
            {
                throw new InvalidOperationException("empty weights");
            }
        }

        public ValueTask<object?> PredictAsync(object? input, CancellationToken cancellationToken) =>
            ValueTask.FromResult<object?>(List(_folder).ToList());

        private static string[] List(string folder)
        {
            if (!Directory.Exists(folder))
            {
                return [];
            }

            var files = new List<string>();
            foreach (var path in Directory.GetFiles(folder, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(folder, path).Replace('\\', '/');
                if (!relative.StartsWith(".cache/", StringComparison.Ordinal))
                {
                    files.Add(relative);
                }
            }

            files.Sort(StringComparer.Ordinal);
            return files.ToArray();
        }
    }
}
