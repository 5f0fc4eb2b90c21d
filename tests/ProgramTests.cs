using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Truss.Clip.Tests.Clip.Inference;

namespace Truss.Clip.Tests;

/// <summary>The real executable as an orchestrator runs it: exit codes, readiness, SIGTERM.</summary>
[Category("Process")]
public class ProgramTests
{
    private static string ExecutablePath => Path.Combine(TestContext.CurrentContext.TestDirectory, "Truss.Clip.dll");

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static (Process Process, StringBuilder Output) Start(string configDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = configDirectory };
        start.ArgumentList.Add(ExecutablePath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["NUM_LOAD_RETRIES_TRUSS"] = "1";
        var output = new StringBuilder();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output);
    }

    private static string WriteConfig()
    {
        var directory = Path.Combine(Path.GetTempPath(), "truss-process-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.yaml"), "model_name: process-test\nmodel_metadata:\n  server:\n    shutdown_timeout_seconds: 5\n");
        return directory;
    }

    [Test]
    public async Task Serve_ModelFailsToLoad_ExitsWithCode1AndLogsTheCause()
    {
        var directory = WriteConfig();
        var (process, output) = Start(directory, "serve", "--host", "127.0.0.1", "--port", FreeLoopbackPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--model-dir", Path.Combine(directory, "no-such-model"));
        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);

            Assert.That(process.ExitCode, Is.EqualTo(1), output.ToString());
            Assert.That(output.ToString(), Does.Contain("Exception while loading model").And.Contain("no-such-model"));
        }
    }

    [Test]
    public async Task Serve_Fixture_BecomesReadyServesAndStopsCleanlyOnSigterm()
    {
        var directory = WriteConfig();
        var port = FreeLoopbackPort();
        var (process, output) = Start(directory, "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--model-dir", ModelFixtures.Split);
        using (process)
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) })
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            HttpStatusCode? readiness = null;
            while (DateTime.UtcNow < deadline && readiness != HttpStatusCode.OK && !process.HasExited)
            {
                try
                {
                    readiness = (await client.GetAsync("/v1/models/model")).StatusCode;
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                await Task.Delay(100);
            }

            Assert.That(readiness, Is.EqualTo(HttpStatusCode.OK), output.ToString());
            var predict = await client.PostAsync("/v1/models/model:predict", new StringContent(
                """{"labels": ["a cat", "a dog"], "image": [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [9, 9, 9]]]}""", Encoding.UTF8, "application/json"));
            Assert.That(predict.StatusCode, Is.EqualTo(HttpStatusCode.OK), await predict.Content.ReadAsStringAsync());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            Assert.That(process.ExitCode, Is.Zero, output.ToString());
        }
    }
}
