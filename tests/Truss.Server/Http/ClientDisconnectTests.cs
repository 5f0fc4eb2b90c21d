using System.Net;
using System.Net.Sockets;
using System.Text;
using Truss.Clip.Tests.Support;
using Truss.Server.Hosting;

namespace Truss.Clip.Tests.Truss.Server.Http;

/// <summary>
/// A client that goes away mid-request, in each phase of the predict pipeline, through a real Kestrel server on
/// loopback: the request is logged as a 499 at Information (never an error with a stack trace), the access log and
/// <c>http_requests_total</c> say 499 (not the 200 the client never got), and the server goes on serving.
/// </summary>
public class ClientDisconnectTests
{
    private const string Predict499 = """http_requests_total{method="POST",route="/v1/models/{name}",code="499"}""";
    private const string Predict200 = """http_requests_total{method="POST",route="/v1/models/{name}",code="200"}""";

    [Test]
    public async Task ClientLeavesWhileSendingTheBody_Is499ReadingRequest()
    {
        var model = new FakeModel();
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        using (var client = await ConnectAsync(server))
        {
            // Kestrel answers 100-continue when the endpoint starts reading the body, so the client knows the
            // request is being read; it then sends 2 of the 1,000 bytes it declared and resets the connection.
            await SendAsync(client, RequestHead(contentLength: 1000, "Expect: 100-continue\r\n"));
            Assert.That(await ReadLineAsync(client), Is.EqualTo("HTTP/1.1 100 Continue"));
            await SendAsync(client, "{}");
            Reset(client);
        }

        await AssertLogged499Async(server, "Client disconnected while reading request.");
    }

    [Test]
    public async Task ClientLeavesWhileTheModelRuns_Is499SkippingPredict()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, cancellationToken) =>
        {
            if (entered.TrySetResult()) // the first request: a model that runs until the request's token fires
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        using (var client = await ConnectAsync(server))
        {
            await SendAsync(client, RequestHead(contentLength: 2) + "{}");
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Reset(client);
        }

        await AssertLogged499Async(server, "Client disconnected, skipping `predict`.");
    }

    [Test]
    public async Task ClientLeavesBeforeTheAnswerIsWritten_Is499NotAnError()
    {
        // A model that ignores the token and answers after the client has gone: the server then fails to write.
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var model = new FakeModel(async (input, cancellationToken) =>
        {
            if (entered.TrySetResult()) // the first request: answers only once its client has gone
            {
                var left = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await using (cancellationToken.Register(() => left.TrySetResult()))
                {
                    await left.Task.WaitAsync(TimeSpan.FromSeconds(10));
                }
            }

            return input;
        });
        await using var server = await TestTrussServer.StartAsync(model);
        await server.WaitUntilReadyAsync();

        using (var client = await ConnectAsync(server))
        {
            await SendAsync(client, RequestHead(contentLength: 2) + "{}");
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Reset(client);
        }

        await AssertLogged499Async(server, "Client disconnected before the response was written.");
    }

    private static async Task AssertLogged499Async(TestTrussServer server, string reason)
    {
        Assert.That(await server.Log.WaitForAsync(
                line => line.Contains("Handled request: POST /v1/models/model:predict HTTP/1.1 ", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10)),
            Is.True, "the request finished");
        var scrape = await PrometheusScrape.GetAsync(server.Client);
        var lines = server.Log.Lines;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines, Has.Some.Contains("\"levelname\":\"INFO\"").And.Contains($"Request rejected with 499: {reason}"));
            Assert.That(lines, Has.Some.Contains("Handled request: POST /v1/models/model:predict HTTP/1.1 499 in "),
                "the access log has the status the request ended with");
            Assert.That(lines, Has.None.Contains("\"levelname\":\"ERROR\""), "a client leaving is not a server error");
            Assert.That(lines, Has.None.Contains("   at "), "no stack trace");
            Assert.That(scrape[Predict499], Is.EqualTo(1));
            Assert.That(scrape[Predict200], Is.Zero, "the request is not counted as answered");
        }

        var after = await server.Client.PostAsync("/v1/models/model:predict", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), "still serving");
    }

    private static string RequestHead(int contentLength, string extraHeaders = "") =>
        "POST /v1/models/model:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
        $"Content-Length: {contentLength}\r\n{extraHeaders}\r\n";

    /// <summary>Reads one CRLF-terminated line of the server's answer (at most 10 s).</summary>
    private static async Task<string> ReadLineAsync(TcpClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var line = new StringBuilder();
        var one = new byte[1];
        while (await client.GetStream().ReadAsync(one, timeout.Token) == 1 && one[0] != '\n')
        {
            line.Append((char)one[0]);
        }

        return line.ToString().TrimEnd('\r');
    }

    private static async Task<TcpClient> ConnectAsync(TestTrussServer server)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Server.BaseAddress.Port);
        return client;
    }

    private static async Task SendAsync(TcpClient client, string text) =>
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Closes with a reset (linger 0), as a client that is killed or times out does.</summary>
    private static void Reset(TcpClient client)
    {
        client.LingerState = new LingerOption(enable: true, seconds: 0);
        client.Close();
    }
}
