using System.CommandLine;
using Truss.Clip.Tests.Support;
using Truss.Server.CommandLine;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.CommandLine;

public class ServeCommandTests
{
    private static RootCommand CreateRoot(Func<bool>? onModelCreated = null) =>
        new("test") { new ServeCommand((_, _) => { onModelCreated?.Invoke(); return new FakeModel(); }) };

    [Test]
    public async Task Serve_BadConfigValue_ExitsWithConfigErrorBeforeCreatingTheModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"config-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, "runtime:\n  predict_concurrency: -1\n");
        var created = false;
        try
        {
            var exitCode = await ServeCommand.InvokeAsync(CreateRoot(() => created = true), ["serve", "--config", path]);

            Assert.That(exitCode, Is.EqualTo(TrussServer.ConfigErrorExitCode));
            Assert.That(created, Is.False);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Serve_MissingConfig_ExitsWithConfigError()
    {
        var exitCode = await ServeCommand.InvokeAsync(CreateRoot(), ["--config", "/nonexistent/config.yaml"]);

        Assert.That(exitCode, Is.EqualTo(TrussServer.ConfigErrorExitCode), "options without a command mean serve");
    }

    [Test]
    public async Task Help_ListsServe()
    {
        var output = new StringWriter();
        var root = CreateRoot();

        var exitCode = await root.Parse(["--help"]).InvokeAsync(new InvocationConfiguration { Output = output });

        Assert.That(exitCode, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("serve"));
    }

    [Test]
    public async Task Run_PortAlreadyInUse_LogsOneLineAndExitsWithListenFailed()
    {
        // A loopback port this test holds, so the server's bind must fail.
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        using var log = new LogCapture();
        var settings = new TrussServerSettings(global::Truss.Server.Configuration.TrussConfig.Parse(new StringReader("model_name: test\n"), TestContext.CurrentContext.WorkDirectory))
        {
            Host = "127.0.0.1",
            Port = port,
            LogOutput = log,
        };
        var created = false;

        var exitCode = await TrussServer.RunAsync(settings, _ => { created = true; return new FakeModel(); }).WaitAsync(TimeSpan.FromSeconds(60));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(TrussServer.ListenFailedExitCode));
            Assert.That(created, Is.False, "the model is not built when the server cannot listen");
            var fatal = log.JsonLines().Where(l => l.GetProperty("levelname").GetString() == "CRITICAL").ToList();
            Assert.That(fatal, Has.Count.EqualTo(1));
            Assert.That(fatal[0].GetProperty("message").GetString(), Does.StartWith($"Could not listen on 127.0.0.1:{port}: ").And.Contain("address already in use"));
        }
    }
}
