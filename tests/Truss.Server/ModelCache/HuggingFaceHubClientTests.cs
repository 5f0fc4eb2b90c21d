using System.Net;
using System.Net.Sockets;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;
using Truss.Server.ModelCache;

namespace Truss.Clip.Tests.Truss.Server.ModelCache;

/// <summary>The Hub client against <see cref="FakeHuggingFaceHub"/> on loopback.</summary>
public class HuggingFaceHubClientTests
{
    private const string Repo = "test-org/tiny-clip-split";
    private FakeHuggingFaceHub _hub = null!;
    private string _directory = "";

    [SetUp]
    public async Task StartHub()
    {
        _hub = await FakeHuggingFaceHub.StartAsync();
        _hub.AddRepository(Repo, ModelFixtures.Split);
        _directory = Path.Combine(Path.GetTempPath(), "hub-client-" + Guid.NewGuid().ToString("N"));
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

    private HuggingFaceHubClient Client(string? token = null, Uri? endpoint = null) => new(new HubClientOptions
    {
        Endpoint = endpoint ?? _hub.Endpoint,
        Token = token,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        ResponseTimeout = TimeSpan.FromSeconds(5),
        ReadTimeout = TimeSpan.FromSeconds(5),
        RetryDelay = TimeSpan.FromMilliseconds(10),
    });

    private static string Fixture(string path) => Path.Combine(ModelFixtures.Split, path);

    private string Local(string path) => Path.Combine(_directory, path);

    private int FileRequests(string path) => _hub.Requests.Count(r => r.Path == $"/cdn/{Repo}/{path}");

    [Test]
    public async Task GetRepositoryAsync_KnownRepo_ListsFilesWithSizesAndLfsHashes()
    {
        using var client = Client();

        var repository = await client.GetRepositoryAsync(Repo);

        var onnx = repository.Find("onnx/vision_model.onnx")!;
        var json = repository.Find("config.json")!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(repository.Files, Has.Count.EqualTo(8));
            Assert.That(repository.CommitSha, Has.Length.EqualTo(40));
            Assert.That(onnx.Size, Is.EqualTo(new FileInfo(Fixture("onnx/vision_model.onnx")).Length));
            Assert.That(onnx.Sha256, Is.EqualTo(_hub.Sha256(Repo, "onnx/vision_model.onnx")));
            Assert.That(json.Sha256, Is.Null, "plain git files have no lfs entry");
            Assert.That(json.BlobId, Is.Not.Null);
            Assert.That(_hub.Requests[0].Path, Is.EqualTo($"/api/models/{Repo}/revision/main"));
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_Patterns_WritesExactlyTheSelectedFilesByteForByte()
    {
        using var client = Client();
        var progress = new List<DownloadProgress>();

        var result = await client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/*_fp16.onnx", "*.json"]), _directory,
            new SynchronousProgress(progress.Add));

        string[] expected = ["config.json", "onnx/text_model_fp16.onnx", "onnx/vision_model_fp16.onnx", "preprocessor_config.json", "tokenizer_config.json"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Downloaded, Is.EquivalentTo(expected));
            Assert.That(result.Skipped, Is.Empty);
            foreach (var path in expected)
            {
                Assert.That(File.ReadAllBytes(Local(path)), Is.EqualTo(File.ReadAllBytes(Fixture(path))), path);
            }

            Assert.That(File.Exists(Local("onnx/vision_model.onnx")), Is.False);
            Assert.That(Directory.GetFiles(_directory, "*.incomplete", SearchOption.AllDirectories), Is.Empty);
            Assert.That(result.BytesDownloaded, Is.EqualTo(result.TotalBytes));
            Assert.That(progress.Exists(p => p is { Path: "onnx/vision_model_fp16.onnx", Stage: DownloadStage.Completed }), Is.True);
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_SecondRun_SkipsIntactFilesWithoutDownloading()
    {
        using var client = Client();
        await client.DownloadSnapshotAsync(Repo, "main", HubFileFilter.All, _directory);
        var requestsBefore = _hub.Requests.Count;

        var result = await client.DownloadSnapshotAsync(Repo, "main", HubFileFilter.All, _directory);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Downloaded, Is.Empty);
            Assert.That(result.Skipped, Has.Count.EqualTo(8));
            Assert.That(_hub.Requests.Count, Is.EqualTo(requestsBefore + 1), "only the listing");
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_LocalFileAlteredSameSize_DownloadsItAgain()
    {
        using var client = Client();
        var filter = new HubFileFilter(["onnx/text_model.onnx"]);
        await client.DownloadSnapshotAsync(Repo, "main", filter, _directory);
        var path = Local("onnx/text_model.onnx");
        var bytes = File.ReadAllBytes(path);
        bytes[10] ^= 1;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));

        var result = await client.DownloadSnapshotAsync(Repo, "main", filter, _directory);

        Assert.That(result.Downloaded, Is.EqualTo(new[] { "onnx/text_model.onnx" }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(Fixture("onnx/text_model.onnx"))));
    }

    [Test]
    public async Task DownloadSnapshotAsync_TransferCutOnce_ResumesWithRangeAndResultIsIntact()
    {
        _hub.CutTransferOnce(Repo, "onnx/vision_model.onnx", 50_000);
        using var client = Client();

        var result = await client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/vision_model.onnx"]), _directory);

        var transfers = _hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(transfers, Has.Count.EqualTo(2));
            Assert.That(transfers[0].Range, Is.Null);
            Assert.That(transfers[1].Range, Is.EqualTo("bytes=50000-"));
            Assert.That(File.ReadAllBytes(Local("onnx/vision_model.onnx")), Is.EqualTo(File.ReadAllBytes(Fixture("onnx/vision_model.onnx"))));
            Assert.That(result.BytesDownloaded, Is.EqualTo(new FileInfo(Fixture("onnx/vision_model.onnx")).Length));
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_IncompleteFileFromEarlierRun_ResumesFromItsLength()
    {
        var source = File.ReadAllBytes(Fixture("onnx/text_model.onnx"));
        Directory.CreateDirectory(Local("onnx"));
        File.WriteAllBytes(Local("onnx/text_model.onnx.incomplete"), source[..1234]);
        using var client = Client();

        var result = await client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/text_model.onnx"]), _directory);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(_hub.Requests.Single(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range, Is.EqualTo("bytes=1234-"));
            Assert.That(result.BytesDownloaded, Is.EqualTo(source.Length - 1234));
            Assert.That(File.ReadAllBytes(Local("onnx/text_model.onnx")), Is.EqualTo(source));
            Assert.That(File.Exists(Local("onnx/text_model.onnx.incomplete")), Is.False);
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_StaleIncompleteFile_RestartsFromZeroAfterChecksumMismatch()
    {
        var source = File.ReadAllBytes(Fixture("onnx/text_model.onnx"));
        var stale = source[..5000];
        stale[100] ^= 0xFF;
        Directory.CreateDirectory(Local("onnx"));
        File.WriteAllBytes(Local("onnx/text_model.onnx.incomplete"), stale);
        using var client = Client();

        await client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/text_model.onnx"]), _directory);

        var ranges = _hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range).ToList();
        Assert.That(ranges, Is.EqualTo(new[] { "bytes=5000-", null }));
        Assert.That(File.ReadAllBytes(Local("onnx/text_model.onnx")), Is.EqualTo(source));
    }

    [Test]
    public async Task DownloadSnapshotAsync_CorruptFile_FailsNamingDigestsAndLeavesNothing()
    {
        _hub.Corrupt(Repo, "onnx/vision_model.onnx");
        using var client = Client();

        var error = await Assert.ThrowsAsync<HubException>(() =>
            client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/vision_model.onnx"]), _directory));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Integrity));
            Assert.That(error.Message, Does.Contain("onnx/vision_model.onnx: checksum mismatch"));
            Assert.That(error.Message, Does.Contain("expected sha256 " + _hub.Sha256(Repo, "onnx/vision_model.onnx")));
            Assert.That(error.Message, Does.Match("got [0-9a-f]{64}"));
            Assert.That(error.Message, Does.Not.Contain('\n'));
            Assert.That(File.Exists(Local("onnx/vision_model.onnx")), Is.False);
            Assert.That(File.Exists(Local("onnx/vision_model.onnx.incomplete")), Is.False);
            Assert.That(FileRequests("onnx/vision_model.onnx"), Is.EqualTo(1), "a checksum mismatch on a fresh download is not retried");
        }
    }

    [Test]
    public async Task DownloadSnapshotAsync_TokenRequired_SendsBearerToHubButNotToStorage()
    {
        _hub.RequiredToken = "hf_secret";
        using var client = Client(token: "hf_secret");

        await client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["onnx/text_model.onnx", "config.json"]), _directory);

        using (Assert.EnterMultipleScope())
        {
            foreach (var request in _hub.Requests)
            {
                Assert.That(request.Authorization, request.Path.StartsWith("/cdn/", StringComparison.Ordinal) ? Is.Null : Is.EqualTo("Bearer hf_secret"), request.Path);
            }

            Assert.That(File.Exists(Local("onnx/text_model.onnx")), Is.True);
        }
    }

    [Test]
    public async Task GetRepositoryAsync_GatedWithoutToken_SaysGatedOrPrivateAndNamesHfToken()
    {
        _hub.RequiredToken = "hf_secret";
        using var client = Client();

        var error = await Assert.ThrowsAsync<HubException>(() => client.GetRepositoryAsync(Repo));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Unauthorized));
        Assert.That(error.Message, Does.StartWith($"{Repo} is gated or private: set HF_TOKEN"));
        Assert.That(error.Message, Does.EndWith("(HTTP 401)"));
    }

    [Test]
    public async Task GetRepositoryAsync_WrongToken_SaysTheTokenWasRefused()
    {
        _hub.RequiredToken = "hf_secret";
        using var client = Client(token: "hf_wrong");

        var error = await Assert.ThrowsAsync<HubException>(() => client.GetRepositoryAsync(Repo));

        Assert.That(error!.Message, Does.Contain("the token was refused"));
    }

    [Test]
    public async Task GetRepositoryAsync_UnknownRepo_SaysRepositoryOrRevisionNotFound()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<HubException>(() => client.GetRepositoryAsync("nobody/nothing"));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.NotFound));
        Assert.That(error.Message, Is.EqualTo($"nobody/nothing@main: repository or revision not found at {_hub.Endpoint.AbsoluteUri.TrimEnd('/')} (HTTP 404)"));
    }

    [Test]
    public async Task GetRepositoryAsync_UnknownRevision_NamesTheRevision()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<HubException>(() => client.GetRepositoryAsync(Repo, "v9.9"));

        Assert.That(error!.Message, Is.EqualTo($"{Repo}: revision 'v9.9' not found (HTTP 404)"));
        Assert.That(_hub.Requests[0].Path, Is.EqualTo($"/api/models/{Repo}/revision/v9.9"));
    }

    [Test]
    public async Task GetRepositoryAsync_NothingListening_SaysCannotReachOfflineAfterRetries()
    {
        var endpoint = new Uri($"http://127.0.0.1:{UnusedPort()}");
        using var client = Client(endpoint: endpoint);

        var error = await Assert.ThrowsAsync<HubException>(() => client.GetRepositoryAsync(Repo));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Unreachable));
        Assert.That(error.Message, Does.StartWith($"cannot reach {endpoint.AbsoluteUri.TrimEnd('/')} (offline?)"));
    }

    [Test]
    public async Task GetRepositoryAsync_ServiceUnavailableOnce_RetriesAndSucceeds()
    {
        _hub.FailRequests(503, 1);
        using var client = Client();

        var repository = await client.GetRepositoryAsync(Repo);

        Assert.That(repository.Files, Is.Not.Empty);
        Assert.That(_hub.Requests, Has.Count.EqualTo(2));
    }

    [Test]
    public async Task DownloadSnapshotAsync_ServerErrorEveryTime_FailsAfterThreeAttempts()
    {
        using var client = Client();
        var repository = await client.GetRepositoryAsync(Repo);
        _hub.FailRequests(500, 100);

        var error = await Assert.ThrowsAsync<HubException>(() =>
            client.DownloadAsync(repository, [repository.Find("config.json")!], _directory));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Http));
        Assert.That(error.Message, Does.Contain("answered HTTP 500 Internal Server Error for config.json"));
        Assert.That(_hub.Requests, Has.Count.EqualTo(1 + 3));
    }

    [Test]
    public async Task DownloadSnapshotAsync_NoFileMatches_FailsNamingThePatterns()
    {
        using var client = Client();

        var error = await Assert.ThrowsAsync<HubException>(() =>
            client.DownloadSnapshotAsync(Repo, "main", new HubFileFilter(["*.safetensors"]), _directory));

        Assert.That(error!.Message, Is.EqualTo($"no file of {Repo}@main matches allow_patterns [*.safetensors] and ignore_patterns []"));
    }

    [TestCase("")]
    [TestCase("a/b/c")]
    [TestCase("../etc")]
    [TestCase("owner/na--me")]
    [TestCase("owner/name with space")]
    public void ValidateRepoId_Malformed_Throws(string repoId)
    {
        var error = Assert.Throws<HubException>(() => HuggingFaceHubClient.ValidateRepoId(repoId));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.InvalidArgument));
    }

    [Test]
    public void FromEnvironment_EndpointAndTokenVariables_AreRead()
    {
        var environment = new Dictionary<string, string> { ["HF_ENDPOINT"] = "http://127.0.0.1:9/", ["HF_TOKEN"] = "hf_abc" };

        var options = HubClientOptions.FromEnvironment(name => environment.GetValueOrDefault(name));

        Assert.That(options.Endpoint, Is.EqualTo(new Uri("http://127.0.0.1:9")));
        Assert.That(options.Token, Is.EqualTo("hf_abc"));
        Assert.That(HubClientOptions.FromEnvironment(_ => null).Endpoint, Is.EqualTo(new Uri("https://huggingface.co")));
    }

    [Test]
    public void FromEnvironment_TokenFileUnderHfHome_IsRead()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllText(Path.Combine(_directory, "token"), "hf_from_file\n");

        var options = HubClientOptions.FromEnvironment(name => name == "HF_HOME" ? _directory : null);

        Assert.That(options.Token, Is.EqualTo("hf_from_file"));
    }

    /// <summary>A loopback port nothing listens on (bound, read, released).</summary>
    internal static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and reorder).</summary>
    internal sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
