using System.Net;
using System.Text;
using System.Text.Json;
using Truss.Clip.Tests.Clip.Inference;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.model;

/// <summary>
/// A real Truss server running <see cref="global::Truss.Clip.Model"/> on the split fixture, and a loopback file server for
/// image URLs, started once per fixture with the config a derived fixture gives (<see cref="ConfigYaml"/>). Shared
/// by the endpoint tests of the engine's bounds (preprocessing slots, decode budget, download budget). Every wait is
/// bounded (<see cref="Patience"/>), so a bound that is never given back fails a test instead of hanging the run.
/// </summary>
public abstract class SplitModelEndpointFixture
{
    protected static readonly string[] Labels = ["a red circle", "a blue square"];

    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>The fixture's config.yaml; URLs should be allowed to 127.0.0.1/32 (<c>fetch.allowed_networks</c>).</summary>
    protected abstract string ConfigYaml { get; }

    protected TestTrussServer Server { get; private set; } = null!;

    protected LoopbackFileServer Files { get; private set; } = null!;

    /// <summary>The model the server loaded.</summary>
    protected Model LoadedModel { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartServers()
    {
        Files = await LoopbackFileServer.StartAsync();
        Server = await TestTrussServer.StartAsync(context => LoadedModel = new Model(context, ModelFixtures.Split, _ => null), ConfigYaml);
        await Server.WaitUntilReadyAsync();
    }

    [OneTimeTearDown]
    public async Task StopServers()
    {
        await Server.DisposeAsync();
        await Files.DisposeAsync();
    }

    protected static CancellationToken Bounded() => new CancellationTokenSource(Patience).Token;

    protected Task<(HttpStatusCode Status, string Body)> PredictAsync(object request) => PredictAsync(request, Bounded());

    protected async Task<(HttpStatusCode Status, string Body)> PredictAsync(object request, CancellationToken cancellationToken)
    {
        using var response = await Server.Client.PostAsync("/v1/models/model:predict",
            new StringContent(JsonSerializer.Serialize(request), Encoding.UTF8, "application/json"), cancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }
}
