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
}
