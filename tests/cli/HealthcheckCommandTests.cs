using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Truss.Clip.Cli;
using Truss.Clip.Tests.Support;

namespace Truss.Clip.Tests.cli;

/// <summary>The image's HEALTHCHECK command against a real server on loopback.</summary>
public class HealthcheckCommandTests
{
    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(
        IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new RootCommand
        {
            HealthcheckCommand.Create(name => environment is not null && environment.TryGetValue(name, out var value) ? value : null),
        };
        var exitCode = await root.Parse(["healthcheck", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private static string PortOf(TestTrussServer server) => server.Server.BaseAddress.Port.ToString(CultureInfo.InvariantCulture);

    [Test]
    public async Task ReadyServer_ExitsZeroAndSaysHealthy()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var (exitCode, output, error) = await RunAsync(null, "--port", PortOf(server));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.HealthyExitCode), error);
            Assert.That(output.Trim(), Is.EqualTo($"healthy: GET http://127.0.0.1:{PortOf(server)}/v1/models/model -> 200"));
        }
    }

    [Test]
    public async Task PortFromInferenceServerPort_AsServeReadsIt()
    {
        await using var server = await TestTrussServer.StartAsync(new FakeModel());
        await server.WaitUntilReadyAsync();

        var (exitCode, _, error) = await RunAsync(new Dictionary<string, string> { ["INFERENCE_SERVER_PORT"] = PortOf(server) });

        Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.HealthyExitCode), error);
    }

    [Test]
    public async Task ModelStillLoading_ReadinessFailsButLivenessPasses()
    {
        var model = new FakeModel();
        model.LoadGate.Reset();
        await using var server = await TestTrussServer.StartAsync(model);
        try
        {
            var readiness = await RunAsync(null, "--port", PortOf(server));
            var liveness = await RunAsync(null, "--port", PortOf(server), "--path", "/");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(readiness.ExitCode, Is.EqualTo(HealthcheckCommand.UnhealthyExitCode));
                Assert.That(readiness.Error, Does.StartWith($"unhealthy: GET http://127.0.0.1:{PortOf(server)}/v1/models/model -> 503 "));
                Assert.That(readiness.Error, Does.Contain("Model with name model is not ready."));
                Assert.That(readiness.Output, Is.Empty);
                Assert.That(liveness.ExitCode, Is.EqualTo(HealthcheckCommand.HealthyExitCode), liveness.Error);
            }
        }
        finally
        {
            model.LoadGate.Set();
        }
    }

    [Test]
    public async Task NothingListening_ExitsOneWithTheReason()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var (exitCode, output, error) = await RunAsync(null, "--port", port.ToString(CultureInfo.InvariantCulture));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.UnhealthyExitCode));
            Assert.That(output, Is.Empty);
            Assert.That(error, Does.StartWith($"unhealthy: GET http://127.0.0.1:{port}/v1/models/model -> "));
            Assert.That(error, Does.Contain("refused").IgnoreCase);
        }
    }

    [Test]
    public async Task ServerThatNeverAnswers_GivesUpAtTheTimeout()
    {
        // Accepts the connection and reads, but never writes a response: the probe must not hang.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptTcpClientAsync();

        var watch = Stopwatch.StartNew();
        var (exitCode, _, error) = await RunAsync(null, "--port", port.ToString(CultureInfo.InvariantCulture), "--timeout", "0.5");
        watch.Stop();
        (await accepted).Dispose();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.UnhealthyExitCode));
            Assert.That(error.Trim(), Does.EndWith("-> no answer within 0.5 s"));
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        }
    }

    [TestCase(new[] { "--host", "10.1.2.3" }, "--host must be a loopback address such as 127.0.0.1 or ::1, got '10.1.2.3'")]
    [TestCase(new[] { "--host", "localhost" }, "--host must be a loopback address such as 127.0.0.1 or ::1, got 'localhost'")]
    [TestCase(new[] { "--port", "0" }, "--port must be between 1 and 65535, got 0")]
    [TestCase(new[] { "--path", "v1/models/model" }, "--path must be a route starting with '/', got 'v1/models/model'")]
    [TestCase(new[] { "--path", "//evil.test/x" }, "--path must be a route starting with '/', got '//evil.test/x'")]
    [TestCase(new[] { "--timeout", "0" }, "--timeout must be more than 0 and at most 60 seconds, got 0")]
    public async Task BadOption_ExitsOneWithoutProbing(string[] args, string message)
    {
        // Exit 1, not 2: Docker reserves 2 for HEALTHCHECK commands.
        var (exitCode, output, error) = await RunAsync(null, args);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.UnhealthyExitCode));
            Assert.That(output, Is.Empty);
            Assert.That(error.Trim(), Is.EqualTo("unhealthy: " + message));
        }
    }

    [Test]
    public async Task BadInferenceServerPort_ExitsOneAndNamesTheVariable()
    {
        var (exitCode, _, error) = await RunAsync(new Dictionary<string, string> { ["INFERENCE_SERVER_PORT"] = "http" });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(HealthcheckCommand.UnhealthyExitCode));
            Assert.That(error, Does.Contain("INFERENCE_SERVER_PORT must be a port number between 1 and 65535, got 'http'"));
        }
    }

    [Test]
    public async Task ExecutableCommandLine_HasTheHealthcheckCommand()
    {
        var output = new StringWriter();
        var exitCode = await TrussClipCommandLine.CreateRoot().Parse(["healthcheck", "--help"])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = new StringWriter() });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero);
            Assert.That(output.ToString(), Does.Contain("--timeout"));
        }
    }
}
