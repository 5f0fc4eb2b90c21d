using Microsoft.Extensions.Logging;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;
using Truss.Server;
using Truss.Server.Configuration;
using Truss.Server.ModelCache;

namespace Truss.Clip.Tests.Truss.Server.ModelCache;

/// <summary><see cref="ModelCacheDownloader"/> on its own: the fallback to an earlier download when the Hub is down.</summary>
public class ModelCacheDownloaderTests
{
    private const string Repo = "test-org/tiny-clip-split";
    private FakeHuggingFaceHub _hub = null!;
    private string _directory = "";
    private TrussConfig _config = null!;

    [SetUp]
    public async Task StartHub()
    {
        _hub = await FakeHuggingFaceHub.StartAsync();
        _hub.AddRepository(Repo, ModelFixtures.Split);
        _directory = Path.Combine(Path.GetTempPath(), "model-cache-downloader-" + Guid.NewGuid().ToString("N"));
        _config = TrussConfig.Parse(new StringReader($"""
            model_cache:
              - repo_id: {Repo}
                allow_patterns: ["onnx/text_model.onnx", "*.json"]
            """), _directory);
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

    private string Folder => _config.ModelCache.Entries[0].Directory;

    private ModelCacheDownloader Downloader(string endpoint, ListLogger logger) =>
        new(_config.ModelCache, new TrussSecrets(new Dictionary<string, string?>()), name => name == "HF_ENDPOINT" ? endpoint : null, logger)
        {
            ConfigureClient = options => options with { RetryDelay = TimeSpan.FromMilliseconds(10), ConnectTimeout = TimeSpan.FromSeconds(2) },
        };

    [Test]
    public async Task RunAsync_NoVolume_DownloadsIntoTheDataDirUnderTheRepoName()
    {
        await Downloader(_hub.Endpoint.AbsoluteUri, new ListLogger()).RunAsync(CancellationToken.None);

        Assert.That(Folder, Is.EqualTo(Path.Combine(_directory, "data", "test-org__tiny-clip-split")));
        Assert.That(File.ReadAllBytes(Path.Combine(Folder, "onnx", "text_model.onnx")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(ModelFixtures.Split, "onnx", "text_model.onnx"))));
    }

    [Test]
    public async Task RunAsync_HubDownAfterCompleteDownload_UsesTheFilesWithAWarning()
    {
        await Downloader(_hub.Endpoint.AbsoluteUri, new ListLogger()).RunAsync(CancellationToken.None);
        var logger = new ListLogger();
        var dead = $"http://127.0.0.1:{HuggingFaceHubClientTests.UnusedPort()}";

        await Downloader(dead, logger).RunAsync(CancellationToken.None);

        Assert.That(logger.Messages.Any(m => m.StartsWith($"Warning: model_cache: cannot reach {dead} (offline?)", StringComparison.Ordinal) &&
                                              m.Contains("using the 4 files")), Is.True, string.Join("\n", logger.Messages));
    }

    [Test]
    public async Task RunAsync_HubDownAndAFileMissing_Fails()
    {
        await Downloader(_hub.Endpoint.AbsoluteUri, new ListLogger()).RunAsync(CancellationToken.None);
        File.Delete(Path.Combine(Folder, "config.json"));
        var dead = $"http://127.0.0.1:{HuggingFaceHubClientTests.UnusedPort()}";

        var error = await Assert.ThrowsAsync<HubException>(() => Downloader(dead, new ListLogger()).RunAsync(CancellationToken.None));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Unreachable));
    }

    [Test]
    public async Task RunAsync_GatedAfterCompleteDownload_StillFails()
    {
        await Downloader(_hub.Endpoint.AbsoluteUri, new ListLogger()).RunAsync(CancellationToken.None);
        _hub.RequiredToken = "hf_new_token";

        var error = await Assert.ThrowsAsync<HubException>(() => Downloader(_hub.Endpoint.AbsoluteUri, new ListLogger()).RunAsync(CancellationToken.None));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Unauthorized), "a refusal is not an outage: no fallback");
    }

    /// <summary>Keeps "Level: message" lines.</summary>
    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _messages = [];

        public IReadOnlyList<string> Messages
        {
            get
            {
                lock (_messages)
                {
                    return _messages.ToArray();
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_messages)
            {
                _messages.Add($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}
