using Truss.Server;
using Truss.Server.Configuration;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Support;

/// <summary>
/// A real Kestrel Truss server on a free loopback port, with captured logs and an HttpClient pointed at it.
/// </summary>
public sealed class TestTrussServer : IAsyncDisposable
{
    private TestTrussServer(TrussServer server, LogCapture log, HttpClient client)
    {
        Server = server;
        Log = log;
        Client = client;
    }

    public TrussServer Server { get; }

    public LogCapture Log { get; }

    public HttpClient Client { get; }

    /// <summary>Starts a server for <paramref name="model"/> with <paramref name="configYaml"/> (a minimal config by default).</summary>
    public static async Task<TestTrussServer> StartAsync(
        ITrussModel model,
        string configYaml = "model_name: test\n",
        IReadOnlyDictionary<string, string>? environment = null,
        string? configDirectory = null)
    {
        return await StartAsync(_ => model, configYaml, environment, configDirectory);
    }

    /// <summary>Starts a server whose model is built from the <see cref="ModelContext"/>.</summary>
    public static async Task<TestTrussServer> StartAsync(
        Func<ModelContext, ITrussModel> createModel,
        string configYaml = "model_name: test\n",
        IReadOnlyDictionary<string, string>? environment = null,
        string? configDirectory = null)
    {
        var config = TrussConfig.Parse(new StringReader(configYaml), configDirectory ?? TestContext.CurrentContext.WorkDirectory);
        var log = new LogCapture();
        var settings = new TrussServerSettings(config)
        {
            Port = 0,
            Host = "127.0.0.1",
            LogOutput = log,
            LoadRetryDelay = TimeSpan.FromMilliseconds(50),
            SecretsDirectory = Path.Combine(TestContext.CurrentContext.WorkDirectory, "no-secrets-here"),
            Environment = name => environment is not null && environment.TryGetValue(name, out var value) ? value : null,
        };
        var server = TrussServer.Create(settings, createModel);
        await server.StartAsync();
        var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        return new TestTrussServer(server, log, client);
    }

    /// <summary>Waits until the model is ready (or the timeout passes).</summary>
    public async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Server.Host.State != ModelState.Ready && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.That(Server.Host.State, Is.EqualTo(ModelState.Ready), "the model did not become ready");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        Log.Dispose();
    }
}
